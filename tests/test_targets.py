"""The one target parser (ppdata.find.targets) that ls, nwb and download share."""

from __future__ import annotations

import pytest

from ppdata.errors import InvalidName, WrongBucket
from ppdata.find.targets import TargetKind, parse_target
from ppdata.mirror.world import EPHYS_COMPLETE

SORTED = f"{EPHYS_COMPLETE}_sorted_2025-11-13_03-12-45"


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        (EPHYS_COMPLETE, TargetKind.SESSION, EPHYS_COMPLETE),
        (f" {EPHYS_COMPLETE}/ ", TargetKind.SESSION, EPHYS_COMPLETE),
        (SORTED, TargetKind.ASSET, SORTED),
        (f"/{SORTED}/", TargetKind.ASSET, SORTED),
        (f"{SORTED}/nwb/x.nwb", TargetKind.PATH, f"{SORTED}/nwb/x.nwb"),
        (f"{EPHYS_COMPLETE}/behavior/", TargetKind.PATH, f"{EPHYS_COMPLETE}/behavior/"),
    ],
)
def test_names_and_paths(client, text: str, kind: TargetKind, key: str) -> None:
    target = parse_target(text, client)
    assert (target.kind, target.key, target.url) == (kind, key, False)
    assert target.name is not None and target.error is None
    assert target.name.raw_name == EPHYS_COMPLETE


def test_s3_and_https_urls_of_the_bucket_are_paths(client) -> None:
    for text in (
        f"s3://{client.bucket}/{EPHYS_COMPLETE}/behavior/",
        f"https://{client.bucket}.s3.amazonaws.com/{EPHYS_COMPLETE}/behavior/",
    ):
        target = parse_target(text, client)
        assert target.kind is TargetKind.PATH and target.url
        assert target.key == f"{EPHYS_COMPLETE}/behavior/" and target.folder
    assert parse_target(f"s3://{client.bucket}/{EPHYS_COMPLETE}", client).kind is TargetKind.PATH


def test_another_bucket_is_refused(client) -> None:
    with pytest.raises(WrongBucket, match="--bucket"):
        parse_target(f"s3://some-other-bucket/{EPHYS_COMPLETE}", client)


def test_a_first_part_that_is_not_a_name_is_kept_with_its_error(client) -> None:
    target = parse_target("not-a-session/x", client)
    assert target.kind is TargetKind.PATH and target.name is None
    assert isinstance(target.error, InvalidName)
    assert parse_target("not-a-session", client).kind is TargetKind.ASSET


def test_the_callers_agree_on_a_session_folder(client, run) -> None:
    """ls lists a session's assets, but 'session/' lists the keys under its prefix."""
    assets = run("ls", EPHYS_COMPLETE, "--json")
    keys = run("ls", f"{EPHYS_COMPLETE}/", "--json")
    assert assets.code == 0 and keys.code == 0
    assert assets.out != keys.out
