"""``ppdata web`` over plain HTTP: a real uvicorn server in a thread, reading the mirror."""

from __future__ import annotations

import html
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from ppdata.mirror.layout_ophys import MARKUP_NOTE
from ppdata.mirror.world import (
    EPHYS_COMPLETE,
    EPHYS_REPROCESSED,
    MESOSCOPE_A,
    NOT_ON_S3,
    SLAP2_SESSION,
)
from ppdata.settings import Settings
from ppdata.web.server import PortInUse, check_port, running

BUCKET = "aind-open-data"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(url: str, method: str = "GET") -> Reply:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return Reply(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers.items()), exc.read())


def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """A GET with the request target sent exactly as given (no client normalization)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture(scope="module")
def web(mirror, tmp_path_factory):
    settings = Settings(
        endpoint_url=mirror.endpoint_url,
        bucket=BUCKET,
        cache_dir=tmp_path_factory.mktemp("web-cache"),
        spreadsheet=str(mirror.spreadsheet),
        retries=1,
    )
    with running(settings) as url:
        yield url


def test_index_lists_sessions_with_matrix_and_missing_marked(web, world):
    page = fetch(web + "/")
    assert page.status == 200
    for session in world.sessions:
        assert f'data-session="{session.name}"' in page.text
    row = re.search(rf'<tr data-session="{NOT_ON_S3}" class="missing">.*?</tr>', page.text, re.S)
    assert row and "not on S3" in row.group(0)
    # the availability matrix: a mark per kind the session has
    ephys = re.search(rf'<tr data-session="{EPHYS_COMPLETE}".*?</tr>', page.text, re.S).group(0)
    marks = re.findall(r'<td class="kind">(.*?)</td>', ephys)
    assert sum("●" in m for m in marks) == len(world.session(EPHYS_COMPLETE).kinds - {"unknown"})


def test_index_filters_search_and_sorting(web, world):
    meso = fetch(web + "/?platform=Mesoscope")
    names = re.findall(r'<tr data-session="([^"]+)"', meso.text)
    expected = {s.name for s in world.sessions if s.platform == "multiplane-ophys"}
    assert set(names) == expected
    has = fetch(web + "/?has=sorted&has=ccf")
    names = re.findall(r'<tr data-session="([^"]+)"', has.text)
    assert set(names) == {s.name for s in world.sessions if {"sorted", "ccf"} <= s.kinds}
    found = fetch(web + "/?q=" + world.session(EPHYS_REPROCESSED).subject_id)
    assert re.findall(r'<tr data-session="([^"]+)"', found.text) == [EPHYS_REPROCESSED]
    by_name = fetch(web + "/?sort=session&desc=")
    names = re.findall(r'<tr data-session="([^"]+)"', by_name.text)
    assert names == sorted(names) and len(names) == len(world.sessions)
    bad = fetch(web + "/?since=yesterday")
    assert bad.status == 400 and "cannot read the date" in html.unescape(bad.text)


def test_session_page_shows_assets_metadata_qc_and_portal(web, world):
    session = world.session(EPHYS_REPROCESSED)
    page = fetch(web + f"/session/{session.name}")
    assert page.status == 200
    text = html.unescape(page.text)
    for asset in session.assets:
        assert f"/ls/{asset.name}/" in text
    current = session.current("sorted").name
    row = re.search(rf'<tr data-kind="sorted">\s*<td>sorted</td>\s*<td class="name">'
                    rf'<a href="/ls/{current}/">.*?</tr>', page.text, re.S)  # fmt: skip
    assert row and "current" in row.group(0)
    assert len(session.assets_of("sorted")) > 1 and 'class="older"' in page.text
    assert "UTC" in text and ("PST" in text or "PDT" in text)
    assert "genotype" in text
    for probe in session.current("sorted").probes:
        assert f"<td>{probe}</td>" in page.text
    assert "portal" in text and 'rel="noopener noreferrer"' in page.text
    assert "copy Python" in text and "copy download command" in text
    assert f"ppdata.open_session('{session.name}'" in text
    assert f"/plot/{session.name}/unit-quality.png" in page.text
    # no complete NWB yet, so no stimulus tables: no deviant-vs-standard card
    assert f"/plot/{session.name}/psth.png" not in page.text
    complete = fetch(web + f"/session/{EPHYS_COMPLETE}")
    assert f"/plot/{EPHYS_COMPLETE}/psth.png" in complete.text


def test_session_fragments_units_and_nwb(web, world):
    session = world.session(EPHYS_COMPLETE)
    sorted_asset = session.current("sorted")
    units = fetch(web + f"/session/{session.name}/units")
    assert units.status == 200
    rows = re.findall(r'<tr data-label="([^"]*)" data-probe="([^"]*)"', units.text)
    assert len(rows) == sorted_asset.units
    assert {p for _, p in rows} == set(sorted_asset.probes)
    assert {label for label, _ in rows} <= {"sua", "mua", "noise"}
    nwb = fetch(web + f"/session/{session.name}/nwb")
    assert nwb.status == 200
    complete = session.current("nwb")
    assert complete.nwb_key in html.unescape(nwb.text)
    assert "n_units" in nwb.text


def test_the_page_offers_only_plots_that_make_plot_draws():
    from ppdata.plots.make import PLOT_KINDS
    from ppdata.web.pages import PLOT_NEEDS

    assert set(PLOT_NEEDS) <= set(PLOT_KINDS)


def test_plots_are_png_and_missing_data_is_a_message(web, world):
    png = fetch(web + f"/plot/{MESOSCOPE_A}/dff.png")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.body.startswith(b"\x89PNG")
    # an option the kind does not take (make_plot would refuse it) is let go, as before
    stray = fetch(web + f"/plot/{MESOSCOPE_A}/running.png?probe=ProbeA&stop=30")
    assert stray.status == 200 and stray.body.startswith(b"\x89PNG")
    psth = fetch(web + f"/plot/{EPHYS_COMPLETE}/psth.png")
    assert psth.status == 200 and psth.body.startswith(b"\x89PNG") and len(psth.body) > 10_000
    meso = fetch(web + f"/session/{MESOSCOPE_A}")
    plane = re.search(rf"/plot/{MESOSCOPE_A}/aligned-dff\.png\?plane=([\w]+)", meso.text)
    assert plane, "a Mesoscope session with behavior offers aligned ΔF/F per plane"
    aligned = fetch(web + f"/plot/{MESOSCOPE_A}/aligned-dff.png?plane={plane.group(1)}")
    assert aligned.status == 200 and aligned.body.startswith(b"\x89PNG")
    unknown = fetch(web + f"/plot/{MESOSCOPE_A}/nonsense.png")
    assert unknown.status == 404 and "unknown plot" in unknown.text
    none = fetch(web + f"/plot/{SLAP2_SESSION}/raster.png")
    assert none.status == 404 and none.headers["content-type"].startswith("text/plain")


def test_unknown_session_is_404_with_did_you_mean(web):
    typo = EPHYS_REPROCESSED[:-1] + ("2" if EPHYS_REPROCESSED[-1] != "2" else "3")
    page = fetch(web + f"/session/{typo}")
    assert page.status == 404
    assert f'<a href="/session/{EPHYS_REPROCESSED}">' in page.text
    assert "Did you mean" in page.text
    garbage = fetch(web + "/session/" + quote("<img src=x onerror=alert(1)>", safe=""))
    assert garbage.status == 404 and "<img src=x" not in garbage.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in garbage.text


def test_spreadsheet_only_session_page(web):
    page = fetch(web + f"/session/{NOT_ON_S3}")
    assert page.status == 200 and 'id="not-on-s3"' in page.text


def test_a_spreadsheet_only_session_page_opened_first(mirror, tmp_path):
    """A link to a session only the spreadsheet knows, followed on a new server before
    its index page built the catalog, shows the session, not a 404."""
    settings = Settings(
        endpoint_url=mirror.endpoint_url,
        bucket=BUCKET,
        cache_dir=tmp_path / "cache",
        spreadsheet=str(mirror.spreadsheet),
        retries=1,
    )
    with running(settings) as url:
        page = fetch(url + f"/session/{NOT_ON_S3}")
    assert page.status == 200 and 'id="not-on-s3"' in page.text


def test_folder_browser_pages_past_1000_keys(web, world):
    # the folder of the world's >1,000-key prefix that holds more than 1,000 entries itself
    big = max((p for p in (world.bucket_dir / world.big_listing_prefix).rglob("*") if p.is_dir()),
              key=lambda p: len(list(p.iterdir())))  # fmt: skip
    total = len(list(big.iterdir()))
    assert total > 1000
    prefix = str(big.relative_to(world.bucket_dir)) + "/"
    first = fetch(web + "/ls/" + quote(prefix))
    assert first.status == 200
    shown = len(re.findall(r'<tr class="(?:folder|object)">', first.text))
    assert shown == 1000
    next_link = re.search(r'id="next-page" href="([^"]+)"', first.text).group(1)
    second = fetch(web + "/ls/" + quote(prefix) + html.unescape(next_link))
    assert second.status == 200 and "page 2" in second.text
    more = len(re.findall(r'<tr class="(?:folder|object)">', second.text))
    assert more == total - 1000 and 'id="next-page"' not in second.text


def test_previews_and_streamed_files(web, world):
    sorted_asset = world.session(EPHYS_REPROCESSED).current("sorted")
    key = f"{sorted_asset.name}/visualization_output.json"
    page = fetch(web + "/ls/" + quote(key))
    assert page.status == 200 and 'id="preview"' in page.text
    assert '"sorting_summary"' in html.unescape(page.text)
    png_path = next((world.bucket_dir / sorted_asset.name / "quality_control").rglob("*.png"))
    png_key = str(png_path.relative_to(world.bucket_dir))
    served = fetch(web + "/file/" + quote(png_key))
    assert served.status == 200 and served.headers["content-type"] == "image/png"
    assert served.body == png_path.read_bytes()
    assert served.headers["content-length"] == str(png_path.stat().st_size)


def test_markup_in_key_names_is_escaped(web):
    folder = f"{SLAP2_SESSION}/slap2/notes/"
    page = fetch(web + "/ls/" + quote(folder))
    assert page.status == 200
    assert "<script>window.ppdataXss" not in page.text
    assert "<img src=x" not in page.text
    assert html.escape(MARKUP_NOTE, quote=False) in page.text
    key = folder + MARKUP_NOTE
    obj = fetch(web + "/ls/" + quote(key))
    assert obj.status == 200 and "<script>window.ppdataXss" not in obj.text
    served = fetch(web + "/file/" + quote(key))
    assert served.headers["content-type"].startswith("text/plain")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    "target",
    [
        "/ls/{s}/../../../etc/passwd",
        "/ls/{s}/%2e%2e/%2e%2e/etc/passwd",
        "/file/{s}/..%2f..%2f..%2fetc%2fpasswd",
        "/file/{s}/slap2/../../../../etc/passwd",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fstate.py",
        "/ls/..%2f..%2fetc/passwd",
        "/file/%2fetc%2fpasswd",
    ],
)
def test_path_traversal_is_refused(web, target):
    status, body = raw_get(web, target.format(s=SLAP2_SESSION))
    assert status in (400, 404)
    assert b"root:" not in body and b"import " not in body


def test_bucket_unreachable_is_a_banner(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        endpoint_url=f"http://127.0.0.1:{port}",
        cache_dir=tmp_path,
        spreadsheet=None,
        retries=0,
        connect_timeout=0.5,
    )
    with running(settings) as url:
        index = fetch(url + "/")
        session = fetch(url + f"/session/{EPHYS_REPROCESSED}")
    assert index.status == 503 and 'id="banner"' in index.text
    assert session.status == 503 and "cannot reach the bucket" in html.unescape(session.text)
    assert "Traceback" not in index.text + session.text


def test_port_in_use_is_one_line(run):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match="already in use"):
            check_port("127.0.0.1", port)
        result = run("web", "--port", str(port), "--no-browser")
    assert result.code == 1
    assert result.err.strip() == (
        f"Error: port {port} on 127.0.0.1 is already in use; choose another with --port "
        "(or --port 0 for any free port)"
    )


def test_web_binds_loopback_by_default():
    from ppdata.cli.web import web_command

    options = {p.name: p.default for p in web_command.params}
    assert options["host"] == "127.0.0.1"


def test_only_get_and_head_are_served(web):
    reply = fetch(web + f"/session/{EPHYS_REPROCESSED}", method="POST")
    assert reply.status == 405
    reply = fetch(
        web + "/file/" + quote(f"{SLAP2_SESSION}/slap2/notes/session_notes.txt"), method="PUT"
    )
    assert reply.status == 405
