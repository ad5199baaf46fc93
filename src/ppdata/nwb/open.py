"""Open an NWB file (Zarr or HDF5), local or on S3: :func:`open_nwb` returns an
:class:`~ppdata.nwb.file.NWB` handle.

Remote Zarr goes through :class:`S3ZarrStore` (a read-only zarr v2 store over
:class:`ppdata.remote.s3.S3Client`: consolidated metadata in one request, chunk batches through
``get_many``); remote HDF5 through :class:`S3File` (a file object with ranged reads and a
block cache). Every request is counted in the client's ``stats``.

hdmf-zarr stores strings and references as pickled object arrays. Recent numcodecs refuse
to unpickle; ppdata installs a restricted decoder for the ``pickle`` codec id
(:func:`~ppdata.nwb.safepickle.install_safe_pickle`) that only rebuilds numpy arrays of plain
values and refuses anything else.

The handle (:mod:`ppdata.nwb.file`), format detection (:mod:`ppdata.nwb.formats`) and
:func:`summarize` (:mod:`ppdata.nwb.summary`) are importable from here too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFound, NWBError, PpdataError
from .backends import H5Backend, ZarrBackend
from .file import NWB, STRICT_WINDOWS
from .formats import (
    HDF5_OFFSETS,
    HDF5_SIGNATURE,
    ZARR_MARKERS,
    NWBFormat,
    detect_format,
    format_errors,
    format_from_objects,
    neither_message,
)
from .safepickle import install_safe_pickle
from .storage import S3File, S3ZarrStore, as_zarr_store
from .summary import summarize

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..remote.s3 import S3Client

__all__ = [
    "HDF5_SIGNATURE",
    "NWB",
    "STRICT_WINDOWS",
    "NWBFormat",
    "S3File",
    "S3ZarrStore",
    "detect_format",
    "format_from_objects",
    "install_safe_pickle",
    "open_nwb",
    "summarize",
]

logger = logging.getLogger(__name__)


def open_nwb(
    source: str | Path,
    *,
    client: S3Client | None = None,
    format: NWBFormat | str | None = None,
    size: int | None = None,
) -> NWB:
    """Open an NWB file lazily, local or remote.

    Parameters
    ----------
    source : str or Path
        A local path (file or Zarr folder); an ``s3://`` URI; or, with ``client``, a key in
        the client's bucket.
    client : S3Client, optional
        Read remotely through this client. Without one, an ``s3://`` URI gets its own
        client from the settings (``PPDATA_*`` / defaults), closed with the NWB.
    format : {"zarr", "hdf5"}, optional
        Skip detection when the format is known (saves one or two requests).
    size : int, optional
        Size of a remote single object (an HDF5 file), if known from a listing: saves a
        HEAD request, and the Zarr probe (one object is never a Zarr folder; the HDF5
        signature is still checked).

    Returns
    -------
    NWB

    Raises
    ------
    NWBError
        If ``source`` is not an NWB, or its metadata cannot be read (truncated/corrupt).
    """
    fmt = NWBFormat(format) if format is not None else None
    if client is None and str(source).startswith("s3://"):
        from ..remote.s3 import S3Client, parse_s3_uri
        from ..settings import Settings

        own = S3Client(Settings.resolve(bucket=parse_s3_uri(str(source))[0]))
        try:
            nwb = open_nwb(source, client=own, format=fmt, size=size)
        except BaseException:
            own.close()
            raise
        nwb._owned_client = True
        return nwb
    if client is None:
        path = Path(source)
        fmt = fmt or detect_format(path)
        return _open_local(path, fmt)
    key = client.key_of(str(source)).rstrip("/")
    return _open_remote(client, key, fmt, size)


def _open_local(path: Path, fmt: NWBFormat) -> NWB:
    source = str(path)
    if fmt is NWBFormat.ZARR:
        import zarr

        install_safe_pickle()
        try:
            if (path / ".zmetadata").exists():
                root = zarr.open_consolidated(str(path), mode="r")
            else:
                root = zarr.open_group(str(path), mode="r")
        except format_errors() as exc:
            raise NWBError(_open_message(source, ".zmetadata/.zgroup", exc)) from exc
        return NWB(ZarrBackend(root, None), source=source)
    import h5py

    try:
        root = h5py.File(path, "r")
    except format_errors() as exc:
        raise NWBError(_open_message(source, "the HDF5 superblock", exc)) from exc
    return NWB(H5Backend(root, None), source=source)


def _open_remote(
    client: S3Client,
    key: str,
    fmt: NWBFormat | None,
    size: int | None,
    first: bytes | None = None,
    block_size: int | None = None,
    prepare: Callable[[S3File], object] | None = None,
    last: bytes | None = None,
) -> NWB:
    """Open a remote NWB.

    ``first`` and ``last``: its first and last bytes, already read with its size (without
    ``first``, an HDF5 file's first and last blocks are read together; a caller that read
    the start itself gives the end too if it wants it); ``block_size``: of an HDF5 file's
    block cache (default
    :data:`ppdata.nwb.storage.BLOCK_SIZE`); ``prepare``: called with an HDF5 file's
    :class:`S3File` before h5py opens it (to fetch what h5py will read, outside its lock)."""
    source = client.uri(key)
    store = S3ZarrStore(client, key)
    if fmt is None and size is not None:
        fmt = NWBFormat.HDF5  # a listing showed one object: not a Zarr folder
    if fmt is None or fmt is NWBFormat.ZARR:
        markers = client.get_many([f"{key}/{m}" for m in ZARR_MARKERS])
        for marker in ZARR_MARKERS:
            store.remember(marker, markers.get(f"{key}/{marker}"))
        if format_from_objects(markers) is NWBFormat.ZARR:
            fmt = NWBFormat.ZARR
        elif fmt is NWBFormat.ZARR:
            raise NWBError(f"{source} is not a Zarr NWB: no .zgroup/.zmetadata under it")
    if fmt is NWBFormat.ZARR:
        import zarr

        install_safe_pickle()
        zstore = as_zarr_store(store)
        try:
            if ".zmetadata" in store:
                root = zarr.open_consolidated(zstore, mode="r")
            else:
                root = zarr.open_group(zstore, mode="r")
        except PpdataError:
            raise
        except format_errors() as exc:
            raise NWBError(_open_message(source, ".zmetadata/.zgroup", exc)) from exc
        return NWB(ZarrBackend(root, store), source=source, client=client, key=key)

    try:
        fileobj = (
            S3File(client, key, size)
            if block_size is None
            else S3File(client, key, size, block_size=block_size)
        )
    except NotFound:
        raise NWBError(
            f"{source} is not an NWB: no object there and no Zarr group under it"
        ) from None
    if first:
        fileobj.seed(first)
    if last:
        fileobj.seed(last, fileobj.size - len(last))
    # its first block (superblock, root group) and its last together, in one round trip:
    # an NWB's groups are written in the schema's order, so what is written last
    # (intervals, units) and the newest metadata sit at the end of the file (see
    # "Round trips saved" in docs/TRANSPORT.md)
    fileobj.prefetch(fileobj.ends() if first is None else fileobj.ends()[:1])
    head = fileobj.read(max(HDF5_OFFSETS) + 8)
    fileobj.seek(0)
    if format_from_objects(head=head) is not NWBFormat.HDF5:
        raise NWBError(neither_message(source))
    if prepare is not None:
        prepare(fileobj)
    import h5py

    try:
        root = h5py.File(fileobj, "r")
    except PpdataError:
        raise
    except format_errors() as exc:
        raise NWBError(_open_message(source, "the HDF5 superblock", exc)) from exc
    return NWB(H5Backend(root, fileobj), source=source, client=client, key=key)


def _open_message(source: str, obj: str, exc: BaseException) -> str:
    return (
        f"cannot open {source}: reading {obj} failed ({type(exc).__name__}: {exc}); "
        "the NWB may be truncated or corrupt"
    )
