"""Session and asset names: every form in DOMAIN.md, round trips, and bad names."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ppdata.errors import InvalidName
from ppdata.naming import (
    NameKind,
    ccf_name,
    derived_name,
    format_datetime,
    is_valid_name,
    parse_name,
    raw_name,
)

DT = datetime(2025, 1, 1, 1, 1, 1)


@pytest.mark.parametrize(
    ("name", "kind", "platform", "subject", "process", "raw"),
    [
        (
            "ecephys_012345_2025-01-01_01-01-01",
            "raw",
            "ecephys",
            "012345",
            None,
            "ecephys_012345_2025-01-01_01-01-01",
        ),
        (
            "multiplane-ophys_832700_2026-01-24_12-06-12",
            "raw",
            "multiplane-ophys",
            "832700",
            None,
            "multiplane-ophys_832700_2026-01-24_12-06-12",
        ),
        (
            "SLAP2_828408_2025-11-13_10-30-53",
            "raw",
            "SLAP2",
            "828408",
            None,
            "SLAP2_828408_2025-11-13_10-30-53",
        ),
        ("828408_2025-11-13_10-30-53", "raw", None, "828408", None, "828408_2025-11-13_10-30-53"),
        (
            "ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_02-02-02",
            "derived",
            "ecephys",
            "012345",
            "sorted",
            "ecephys_012345_2025-01-01_01-01-01",
        ),
        (
            "multiplane-ophys_832700_2026-01-24_12-06-12_processed_2026-01-25_13-22-08",
            "derived",
            "multiplane-ophys",
            "832700",
            "processed",
            "multiplane-ophys_832700_2026-01-24_12-06-12",
        ),
        (
            "ecephys_012345_2025-01-01_01-01-01_nwb_2025-03-03_03-03-03",
            "derived",
            "ecephys",
            "012345",
            "nwb",
            "ecephys_012345_2025-01-01_01-01-01",
        ),
        (
            "828408_2025-11-13_10-30-53_processed_2026-05-22_06-53-48",
            "derived",
            None,
            "828408",
            "processed",
            "828408_2025-11-13_10-30-53",
        ),
        ("ecephys_012345_ccf", "ccf", "ecephys", "012345", None, None),
    ],
)
def test_every_form_parses(name, kind, platform, subject, process, raw):
    n = parse_name(name)
    assert (n.kind, n.platform, n.subject_id, n.process, n.raw_name) == (
        NameKind(kind),
        platform,
        subject,
        process,
        raw,
    )
    assert str(n) == name


def test_datetimes_are_parsed():
    n = parse_name("ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_02-03-04")
    assert n.acquired == DT
    assert n.processed == datetime(2025, 2, 2, 2, 3, 4)
    assert parse_name("ecephys_012345_ccf").acquired is None


def test_uri_and_trailing_parts_are_ignored():
    n = parse_name(
        "s3://aind-open-data/ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_"
        "02-02-02/nwb/x.nwb"
    )
    assert n.process == "sorted"
    assert parse_name("ecephys_012345_2025-01-01_01-01-01/").kind is NameKind.RAW


@pytest.mark.parametrize(
    ("bad", "part"),
    [
        ("", "empty"),
        ("ecephys_012345", "datetime"),
        ("ecephys_012345_2025-13-01_01-01-01", "real date"),
        ("ecephys_012345_2025-1-01_01-01-01", "YYYY-MM-DD_HH-MM-SS"),
        ("ecephys_0123_45_2025-01-01_01-01-01", "too many parts"),
        ("ecephys_abc_2025-01-01_01-01-01", "subject id 'abc'"),
        ("ecephys_012345_2025-01-01_01-01-01_sorted", "after the acquisition datetime"),
        (
            "ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_02-02-02_nwb_2025-03-03_03-03-03",
            "not chained",
        ),
        ("ecephys_012345_2025-01-01_01-01-01_so rted_2025-02-02_02-02-02", "space"),
        ("ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-31_02-02-02", "processing datetime"),
        ("_012345_2025-01-01_01-01-01", "platform"),
    ],
)
def test_bad_names_say_which_part_is_wrong(bad, part):
    with pytest.raises(InvalidName) as info:
        parse_name(bad)
    assert part in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not is_valid_name(bad)


def test_builders_refuse_bad_parts():
    with pytest.raises(InvalidName, match="subject id"):
        raw_name("ecephys", "01_23", DT)
    with pytest.raises(InvalidName, match="not a raw session name"):
        derived_name("ecephys_012345_2025-01-01_01-01-01_sorted_2025-02-02_02-02-02", "nwb", DT)
    with pytest.raises(InvalidName, match="process name"):
        derived_name("ecephys_012345_2025-01-01_01-01-01", "so_rted", DT)


# -- property-based round trips -----------------------------------------------------------
datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
subjects = st.from_regex(r"[0-9]{3,8}", fullmatch=True)
platforms = (
    st.sampled_from(["ecephys", "multiplane-ophys", "single-plane-ophys", "SLAP2", "behavior"])
    | st.none()
)
processes = st.sampled_from(["sorted", "processed", "nwb"])


@given(platform=platforms, subject=subjects, acquired=datetimes)
def test_raw_round_trip(platform, subject, acquired):
    name = raw_name(platform, subject, acquired)
    n = parse_name(name)
    assert (n.kind, n.platform, n.subject_id, n.acquired, n.raw_name) == (
        NameKind.RAW,
        platform,
        subject,
        acquired,
        name,
    )
    assert raw_name(n.platform, n.subject_id, n.acquired) == name


@given(
    platform=platforms, subject=subjects, acquired=datetimes, process=processes, processed=datetimes
)
def test_derived_round_trip(platform, subject, acquired, process, processed):
    raw = raw_name(platform, subject, acquired)
    name = derived_name(raw, process, processed)
    n = parse_name(name)
    assert (n.kind, n.raw_name, n.process, n.processed, n.subject_id) == (
        NameKind.DERIVED,
        raw,
        process,
        processed,
        subject,
    )
    assert name == f"{raw}_{process}_{format_datetime(processed)}"


@given(subject=subjects)
def test_ccf_round_trip(subject):
    n = parse_name(ccf_name(subject))
    assert (n.kind, n.subject_id, n.raw_name) == (NameKind.CCF, subject, None)


@given(text=st.text(max_size=60))
def test_arbitrary_text_never_crashes(text):
    try:
        parse_name(text)
    except InvalidName as exc:
        assert str(exc)
