"""``ppdata web`` end to end in a real headless Chromium (Debian's package, driven by
Playwright; no browser download). Screenshots go to ``.cache/test-artifacts/web/``
(gitignored), or ``$PPDATA_TEST_ARTIFACTS/web/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest

from ppdata.mirror.layout_ophys import MARKUP_NOTE
from ppdata.mirror.world import MESOSCOPE_A, SLAP2_SESSION
from ppdata.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = (
    Path(os.environ.get("PPDATA_TEST_ARTIFACTS", REPO / ".cache" / "test-artifacts")) / "web"
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (CI installs it)"
)


@pytest.fixture(scope="module")
def web(mirror, tmp_path_factory):
    from ppdata.web.server import running

    settings = Settings(
        endpoint_url=mirror.endpoint_url,
        cache_dir=tmp_path_factory.mktemp("web-browser-cache"),
        spreadsheet=str(mirror.spreadsheet),
        retries=1,
    )
    with running(settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.js_errors = errors
    yield page
    context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_index_filter_session_folder_plot(page, web, world):
    page.goto(web + "/")
    rows = page.locator("#sessions tbody tr[data-session]")
    assert rows.count() == len(world.sessions)
    shot(page, "1-index")

    # filter: Mesoscope sessions only
    page.select_option("select[name=platform]", "Mesoscope")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**platform=Mesoscope**")
    names = page.locator("#sessions tbody tr[data-session]").evaluate_all(
        "rows => rows.map(r => r.dataset.session)"
    )
    assert set(names) == {s.name for s in world.sessions if s.platform == "multiplane-ophys"}
    shot(page, "2-filtered")

    # session page
    page.click(f"a[href='/session/{MESOSCOPE_A}']")
    page.wait_for_url(f"**/session/{MESOSCOPE_A}")
    session = world.session(MESOSCOPE_A)
    for asset in session.assets:
        assert page.locator(f"#assets a[href='/ls/{asset.name}/']").count() == 1
    nwb = page.locator("#nwb .fragment")
    nwb.locator(".nwb-file").first.wait_for(timeout=60_000)
    assert "pophys" in nwb.inner_text() or "planes" in nwb.inner_text()
    planar = session.current("planar-ophys")
    plane = planar.planes[0].name
    dff = page.locator(f"figure.plot[data-plot=dff] img[src*='plane={plane}']")
    dff.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=dff.element_handle(), timeout=90_000
    )
    shot(page, "3-session")

    # the copy Python snippet of the plot is there, with the session name
    card = page.locator("figure.plot[data-plot=dff]").first
    card.locator("summary", has_text="copy Python").click()
    assert f"ppdata.open_session('{MESOSCOPE_A}'" in card.locator("pre.snippet").first.inner_text()

    # folder: the planar asset, then a plane folder
    page.click(f"#assets a[href='/ls/{planar.name}/']")
    page.wait_for_url(f"**/ls/{planar.name}/")
    assert page.locator(f"#listing a[href='/ls/{planar.name}/{plane}/']").count() == 1
    page.click(f"#listing a[href='/ls/{planar.name}/{plane}/']")
    page.wait_for_url(f"**/ls/{planar.name}/{plane}/")
    assert page.locator("#listing tbody tr").count() > 0
    shot(page, "4-folder")

    # plot endpoint directly: a PNG the browser decodes
    page.goto(web + f"/plot/{MESOSCOPE_A}/rois.png?plane={plane}")
    size = page.evaluate(
        "() => [document.images[0].naturalWidth, document.images[0].naturalHeight]"
    )
    assert size[0] > 100 and size[1] > 100
    assert page.js_errors == []


def test_units_table_filters_and_sorts(page, web, world):
    from ppdata.mirror.world import EPHYS_COMPLETE

    asset = world.session(EPHYS_COMPLETE).current("sorted")
    page.goto(web + f"/session/{EPHYS_COMPLETE}")
    table = page.locator("#units-table")
    table.wait_for(timeout=60_000)
    rows = table.locator("tbody tr")
    assert rows.count() == asset.units
    probe = asset.probes[-1]
    page.select_option("#unit-filters select[data-filter=probe]", probe)
    visible = table.locator("tbody tr:not([hidden])")
    assert visible.count() == asset.units_per_probe
    assert page.locator("#unit-count").inner_text() == f"{asset.units_per_probe} units"
    # sort by firing rate, descending
    header = table.locator("thead th", has_text="firing_rate")
    header.click()
    index = header.evaluate("th => Array.from(th.parentElement.children).indexOf(th)")
    values = table.evaluate(
        f"t => Array.from(t.tBodies[0].rows).filter(r => !r.hidden)"
        f".map(r => parseFloat(r.children[{index}].textContent))"
    )
    assert values == sorted(values, reverse=True)
    unit_quality = page.locator("figure.plot[data-plot='unit-quality'] img")
    unit_quality.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=unit_quality.element_handle(),
        timeout=90_000,
    )
    shot(page, "5-units")
    assert page.js_errors == []


def test_markup_key_does_not_run(page, web):
    folder = f"{SLAP2_SESSION}/slap2/notes/"
    page.goto(web + "/ls/" + quote(folder))
    link = page.locator("#listing a", has_text="window.ppdataXss")
    assert link.inner_text() == MARKUP_NOTE
    assert page.evaluate("() => window.ppdataXss") is None
    assert page.locator("main script, main img[src='x']").count() == 0
    link.click()
    page.wait_for_selector("#preview")
    assert page.locator("h1.key").inner_text().endswith(MARKUP_NOTE)
    assert page.evaluate("() => window.ppdataXss") is None
    shot(page, "6-markup-key")
    # search box input comes back escaped too
    page.goto(web + "/?q=" + quote("<img src=x onerror=window.ppdataXss=3>"))
    assert page.evaluate("() => window.ppdataXss") is None
    assert page.js_errors == []


def test_unknown_session_page(page, web):
    from ppdata.mirror.world import EPHYS_REPROCESSED

    typo = EPHYS_REPROCESSED[:-2] + "59"
    reply = page.goto(web + f"/session/{typo}")
    assert reply.status == 404
    assert page.locator(f"#didyoumean a[href='/session/{EPHYS_REPROCESSED}']").count() == 1
    shot(page, "7-not-found")
