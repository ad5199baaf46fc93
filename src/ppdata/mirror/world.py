"""The synthetic world: a deterministic copy, in miniature, of our part of ``aind-open-data``.

:func:`build_world` writes a folder ``root/`` holding

- ``bucket/<key>``: one file per S3 object (the folder tree *is* the key space; a Zarr NWB
  is a folder of many files, a ``#`` or a space in a key is a ``#`` or a space in a name);
- ``tracking.csv``: the data tracking spreadsheet (column H ``New Session id (Code Ocean)``);
- ``world.json``: the completion stamp (version, size, code fingerprint), written last.

The content follows DOMAIN.md and the data access guide: two Neuropixels sessions (one
reprocessed, one with a CCF and a complete HDF5 NWB), two Mesoscope sessions whose three
``_processed_`` assets come in different timestamp orders, one unprefixed SLAP2 session,
metadata and QC in schema v1 and v2, prefix look-alikes, and a folder of more than 1,000
keys. :class:`World` describes all of it, so tests assert against the description instead
of hard-coding names.

Determinism: the same ``size`` gives byte-identical files. Seeds are fixed, timestamps come
from the names, the NWB writers seed hdmf's object ids (see :mod:`ppdata.mirror.nwbgen`),
and the binary stand-ins are written by hand (:mod:`ppdata.mirror.layout_files`).

Examples
--------
>>> from pathlib import Path
>>> world = load_world(ensure_world(Path("/tmp/ppdata-cache")))  # doctest: +SKIP
>>> world.session(EPHYS_REPROCESSED).current("sorted").name  # doctest: +SKIP
'ecephys_820454_2025-11-04_14-59-22_sorted_2026-06-27_11-07-00'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from ..callbacks import CallbackLike, resolve
from ..errors import MirrorError
from . import inventory, layout_dandi, layout_ephys, layout_files, layout_model, layout_ophys

# the world's vocabulary (session names, file names, the dataclasses) is defined in
# layout_model and re-exported here, where tests and tools name it
from .layout_model import *  # noqa: F403
from .layout_model import (
    SIZES,
    SPREADSHEET_NAME,
    STAMP_NAME,
    WORLD_VERSION,
    Size,
    World,
)
from .layout_sessions import describe_world, spreadsheet_bytes

__all__ = [
    "NONDETERMINISTIC_KEYS",
    "added_names",
    "build_world",
    "describe_world",
    "ensure_world",
    "load_world",
    "spreadsheet_bytes",
    "world_dir",
]
__all__ += layout_model.__all__

logger = logging.getLogger(__name__)

#: Keys (glob patterns relative to the bucket) whose bytes may differ between two builds of
#: the same size. Empty: pynwb/hdmf object ids are seeded by nwbgen, NWB dates come from the
#: session, h5py writes no timestamps, and PNG/TIFF/MP4/MAT are written by hand. Outside the
#: bucket, ``world.json`` changes only when the generator code or its libraries change.
NONDETERMINISTIC_KEYS: tuple[str, ...] = ()

# --- building -----------------------------------------------------------------------------


def build_world(
    root: Path,
    *,
    size: Size = "small",
    callback: CallbackLike | None = None,
) -> World:
    """Write the synthetic world under ``root`` and return its description.

    Parameters
    ----------
    root : Path
        Destination folder; ``root/bucket``, ``root/tracking.csv`` and ``root/world.json``
        are replaced if present, nothing else in it is touched.
    size : {"small", "bench"}
        ``small`` (default; a few tens of MB, seconds to build) or ``bench`` (an ephys NWB of
        ~250 MB, a 1 GB object, an asset of ~2,000 objects of 10–500 KB; a few GB).
    callback : Callback, optional
        Progress in steps (see :mod:`ppdata.callbacks`): one step per asset, then the DANDI
        stand-in, the distractors and the spreadsheet; each step is a branch named
        ``writing <what>``.

    Returns
    -------
    World
    """
    world = describe_world(root, size)
    callback = resolve(callback)
    root = world.root
    root.mkdir(parents=True, exist_ok=True)
    (root / STAMP_NAME).unlink(missing_ok=True)
    if world.bucket_dir.exists():
        shutil.rmtree(world.bucket_dir)
    world.bucket_dir.mkdir()
    started = time.monotonic()
    added = added_names(root) if size == "bench" else frozenset()
    steps: list[tuple[str, Path, Callable[[], object]]] = []
    for session in world.on_s3:
        for asset in session.assets:
            folder = world.bucket_dir / asset.name
            if session.name in added:
                write = partial(inventory.write_asset, folder, session, asset)
            elif asset.kind in ("raw", "sorted", "ccf", "nwb") and session.platform == "ecephys":
                write = partial(layout_ephys.write_asset, folder, world, session, asset)
            else:
                write = partial(layout_ophys.write_asset, folder, world, session, asset)
            steps.append((asset.name, folder, write))
    steps += [
        ("the DANDI stand-in", root, partial(layout_dandi.write_dandi, world)),
        ("distractors", world.bucket_dir, partial(layout_ephys.write_distractors, world)),
        (SPREADSHEET_NAME, world.spreadsheet, lambda: _write_spreadsheet(world)),
    ]
    callback.set_size(len(steps))
    for what, where, write in steps:
        with callback.branched(f"writing {what}", str(where)):
            write()
        callback.relative_update(1)
    _prune_empty_dirs(world.bucket_dir)
    layout_files.write_json(root / STAMP_NAME, _stamp(size))
    logger.info("built the %s world in %s (%.1f s)", size, root, time.monotonic() - started)
    return world


def _write_spreadsheet(world: World) -> None:
    layout_files.write_bytes(world.spreadsheet, spreadsheet_bytes(world))


def _prune_empty_dirs(top: Path) -> None:
    """Folders are not S3 objects: an empty one would silently vanish on upload."""
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        if not dirnames and not filenames and Path(dirpath) != top:
            Path(dirpath).rmdir()


def added_names(root: Path) -> frozenset[str]:
    """The inventory sessions the bench world adds: those the hand-made world (the same in
    every size) does not already describe, with its own content."""
    return inventory.inventory_names() - {s.name for s in describe_world(root, "small").sessions}


# --- caching ------------------------------------------------------------------------------


def _fingerprint() -> str:
    """A hash of the generator code and the library versions the bytes depend on."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    here = Path(__file__).parent
    # every generator module (nwbgen, nwbgen_ephys, jsongen, behaviorgen, qcgen, ...), every
    # layout, and the release inventory the bench world carries
    generators = [*here.glob("*gen.py"), *here.glob("*gen_*.py"), *here.glob("layout_*.py")]
    sources = ["world.py", "inventory.py", *sorted({p.name for p in generators})]
    for name in sorted(sources):
        path = here / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b""))
    for package in ("pynwb", "hdmf", "hdmf-zarr", "zarr", "numcodecs", "h5py", "numpy"):
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(package.encode())
    return digest.hexdigest()[:16]


def _stamp(size: str) -> dict[str, str]:
    return {"world_version": WORLD_VERSION, "size": size, "fingerprint": _fingerprint()}


def _read_stamp(root: Path) -> dict[str, str] | None:
    try:
        data = json.loads((root / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete(root: Path, size: str) -> bool:
    return _read_stamp(root) == _stamp(size)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX); elsewhere build-then-rename alone keeps us safe."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def world_dir(cache_dir: Path, size: Size = "small") -> Path:
    """Where :func:`ensure_world` keeps a world of this size."""
    return Path(cache_dir) / f"world-{WORLD_VERSION}-{size}"


def ensure_world(
    cache_dir: Path,
    size: Size = "small",
    *,
    callback: CallbackLike | None = None,
) -> Path:
    """Build the world into ``cache_dir/world-<version>-<size>/`` unless it is already there.

    The world is built in a temporary sibling folder and moved into place with one
    ``os.replace``, so an interrupted build never leaves a half world under the final name;
    concurrent callers wait on a lock file, and the loser of a race uses the winner's world.
    A world built by other code (its ``world.json`` fingerprint differs) is rebuilt.

    Parameters
    ----------
    cache_dir : Path
        Folder holding cached worlds (created if missing).
    size : {"small", "bench"}
    callback : Callback, optional
        Passed to :func:`build_world` (told nothing when the world is already there).

    Returns
    -------
    Path
        The world folder; :func:`load_world` turns it into a :class:`World`.

    Raises
    ------
    MirrorError
        If the world cannot be built or moved into place.
    """
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}: expected one of {SIZES}")
    cache_dir = Path(cache_dir)
    final = world_dir(cache_dir, size)
    if _is_complete(final, size):
        return final
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MirrorError(f"cannot create the world cache folder {cache_dir}: {exc}") from exc
    with _lock(cache_dir / f".{final.name}.lock"):
        if _is_complete(final, size):
            return final
        for leftover in cache_dir.glob(f".{final.name}.*-*"):
            if leftover.is_dir():  # from a build that was killed: nobody else holds the lock
                shutil.rmtree(leftover, ignore_errors=True)
        tmp = cache_dir / f".{final.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            build_world(tmp, size=size, callback=callback)
            if final.exists():
                old = cache_dir / f".{final.name}.old-{os.getpid()}"
                os.replace(final, old)
                shutil.rmtree(old, ignore_errors=True)
            try:
                os.replace(tmp, final)
            except OSError:
                if not _is_complete(final, size):  # no lock (Windows) and nobody won: fail
                    raise
        except OSError as exc:
            raise MirrorError(f"could not build the synthetic world in {final}: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_world(root: Path) -> World:
    """Describe a world that :func:`build_world` or :func:`ensure_world` finished.

    Raises
    ------
    MirrorError
        If ``root`` holds no complete world (no ``world.json`` stamp).
    """
    root = Path(root)
    stamp = _read_stamp(root)
    if stamp is None or stamp.get("size") not in SIZES:
        raise MirrorError(
            f"{root} holds no complete synthetic world (no valid {STAMP_NAME}); "
            "build one with ppdata.mirror.world.ensure_world"
        )
    if stamp.get("world_version") != WORLD_VERSION:
        raise MirrorError(
            f"{root} holds a world of version {stamp.get('world_version')}, this ppdata writes "
            f"version {WORLD_VERSION}; rebuild it with ensure_world"
        )
    return describe_world(root, stamp["size"])  # type: ignore[arg-type]
