"""Notebook views: each object's ``_repr_html_`` is compact, escaped and true to the data."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ppdata._html import (
    NWBSummary,
    assets_html,
    html_card,
    html_table,
    nwb_summary_html,
)
from ppdata.find.assets import Asset, AssetKind, AssetList
from ppdata.mirror.world import EPHYS_COMPLETE, MESOSCOPE_A
from ppdata.naming import parse_name
from ppdata.nwb.open import summarize
from ppdata.session import Session
from ppdata.transfer.api import plan_download
from ppdata.transfer.model import DownloadPlan, PlannedFile

#: an object's card must stay readable in a notebook cell
MAX_CARD_CHARS = 12_000


def _text(html: str) -> str:
    """The visible text of a card (tags dropped)."""
    return re.sub(r"<[^>]+>", " ", html)


def _rows(html: str) -> int:
    return html.count("<tr>") - html.count("<table")  # minus the heading row of each table


def test_values_are_escaped_and_tables_cut() -> None:
    table = html_table(["name"], [["<script>x</script>"]] * 30, max_rows=5)
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert _rows(table) == 5 and "25 more" in table
    card = html_card("<b>", [("a&b", "<i>")], table=table, note="<x>")
    assert "&lt;b&gt;" in card and "a&amp;b" in card and "&lt;i&gt;" in card
    assert "&lt;x&gt;" in card


def test_request_counts_describe_and_subtract() -> None:
    from ppdata.remote.stats import OperationCounts, RequestCounts

    now = RequestCounts(1_234, 5_600_000, 2, {"GetObject": OperationCounts(1_234, 5_600_000)})
    assert now.describe() == "1,234 requests, 5.6 MB"
    assert (now - now).to_dict() == {"requests": 0, "bytes": 0, "retries": 0, "by_operation": {}}
    head = RequestCounts(1, 0, 0, {"HeadObject": OperationCounts(1, 0)})
    both = RequestCounts(1_235, 5_600_000, 2, {**now.by_operation, **head.by_operation})
    assert (both - now).by_operation == {"HeadObject": OperationCounts(1, 0)}


def test_asset_list_is_a_list_and_a_table(client, world) -> None:
    found = Session(EPHYS_COMPLETE, client=client).assets
    assert isinstance(found, list) and isinstance(found, AssetList)
    html = found._repr_html_()
    expected = world.session(EPHYS_COMPLETE)
    for asset in expected.assets:
        assert asset.name in html
    assert _rows(html) == len(found)
    assert f"{len(found)} assets of {EPHYS_COMPLETE}" in _text(html)


def test_asset_table_is_cut_and_escaped() -> None:
    parsed = parse_name(f"{MESOSCOPE_A}_processed_2026-01-25_13-22-08")
    many = [Asset(f"<{i}>", AssetKind.PLANAR_OPHYS, "b", parsed, current=i == 0) for i in range(40)]
    html = assets_html(many)
    assert _rows(html) == 15 and "25 more" in html and "&lt;0&gt;" in html and "<0>" not in html
    assert len(html) < MAX_CARD_CHARS


def test_session_card_shows_what_is_known_without_reading(client) -> None:
    session = Session(EPHYS_COMPLETE, client=client)
    before = session.stats.requests
    html = session._repr_html_()
    assert session.stats.requests == before, "a repr must not read from S3"
    assert EPHYS_COMPLETE in html and "820459" in html and "not listed yet" in html
    session.assets  # noqa: B018 - list them, then the card shows the current ones
    html = session._repr_html_()
    assert "not listed yet" not in html
    for asset in session.assets:
        assert (asset.name in html) == asset.current
    assert f"{session.stats.requests} requests" in _text(html)


def test_nwb_card_summarizes_without_array_data(client, world) -> None:
    session = Session(EPHYS_COMPLETE, client=client)
    nwb = session.nwb()
    summary = summarize(nwb)
    assert isinstance(summary, NWBSummary) and summary.to_dict()["n_units"] == summary.n_units
    html = nwb._repr_html_()
    text = _text(html)
    asset = world.session(EPHYS_COMPLETE).current("nwb")
    assert asset.nwb_path.rsplit("/", 1)[-1] in text
    assert f"units: {summary.n_units:,}" in " ".join(text.split())
    for probe in summary.probes:
        assert probe in text
    assert "read so far" in text and len(html) < MAX_CARD_CHARS


def test_nwb_card_cuts_long_lists() -> None:
    summary = {
        "source": "s3://b/x.nwb",
        "format": "zarr",
        "processing": [f"m{i}" for i in range(20)],
    }
    text = _text(nwb_summary_html(summary))
    assert "m0, m1, m2, m3, m4, m5 … (+14)" in text and "m6" not in text


def test_download_plan_card(settings, tmp_path: Path) -> None:
    from ppdata.remote.s3 import S3Client

    with S3Client(settings) as client:
        plan = plan_download(EPHYS_COMPLETE, kinds=["sorted"], dest=tmp_path, client=client)
    html = plan._repr_html_()
    text = " ".join(_text(html).split())
    assert plan.count > 8, "the sorted asset has many files: the card must cut them"
    assert _rows(html) == 8 and f"{plan.count - 8:,} more" in text
    assert f"files: {plan.count:,}" in text and plan.assets[0] in text
    assert len(html) < MAX_CARD_CHARS


def test_download_plan_card_warns_about_big_downloads(tmp_path: Path) -> None:
    big = PlannedFile(
        "a/<big>.bin", 20 * 10**9, None, tmp_path / "x", "s3://b/a/big.bin", datetime.now()
    )
    plan = DownloadPlan(
        "a", tmp_path, "b", None, files=[big], warnings=["include 'x*' matched nothing"]
    )
    text = _text(plan._repr_html_())
    assert "20.0 GB" in text and "&lt;big&gt;" in text
    assert "matched nothing" in text and "streaming the NWB" in text


def test_notebook_progress_counts() -> None:
    from ppdata.notebook import NotebookProgress

    bar = NotebookProgress("<sessions>")
    assert bar.text == "<sessions>: 0"
    bar.set_size(3)
    bar.relative_update(1)
    assert bar.text == "<sessions>: 1 / 3 (33%)"
    html = bar._repr_html_()
    assert 'value="1" max="3"' in html and "&lt;sessions&gt;" in html and "<sessions>" not in html


def test_notebook_progress_follows_a_download(settings, tmp_path: Path) -> None:
    from ppdata.notebook import NotebookProgress
    from ppdata.remote.s3 import S3Client
    from ppdata.transfer.api import download

    bar = NotebookProgress("sorted", in_bytes=True)
    with S3Client(settings) as client:
        plan = plan_download(
            EPHYS_COMPLETE, kinds=["sorted"], include=["nwb/*"], dest=tmp_path, client=client
        )
        summary = download(plan, client=client, callback=bar)
    assert summary.ok and bar.total == plan.total_bytes and bar.done == plan.total_bytes
    assert bar.files_done == plan.count
    assert bar.text.endswith(f"{plan.count:,} files (100%)")
