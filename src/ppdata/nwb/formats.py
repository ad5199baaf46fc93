"""Which storage an NWB uses (Zarr or HDF5), decided from the objects themselves: a pure
rule (:func:`format_from_objects`) and its I/O (:func:`detect_format`, local or on S3).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFound, NWBError

if TYPE_CHECKING:
    from ..remote.s3 import S3Client

__all__ = [
    "HDF5_SIGNATURE",
    "ZARR_MARKERS",
    "NWBFormat",
    "detect_format",
    "format_errors",
    "format_from_objects",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Where HDF5 looks for its signature: offset 0, then 512, 1024, 2048 ... (user blocks).
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)
ZARR_MARKERS = (".zmetadata", ".zgroup")


class NWBFormat(StrEnum):
    """The storage backend of an NWB file."""

    ZARR = "zarr"
    HDF5 = "hdf5"


def format_from_objects(names: Iterable[str] = (), head: bytes | None = None) -> NWBFormat | None:
    """Decide the format from what is there: Zarr markers among ``names``, or HDF5 bytes.

    Parameters
    ----------
    names : iterable of str
        Names (or keys) found inside the candidate folder.
    head : bytes, optional
        The first bytes of the candidate object (at least 8; more to find a user block).

    Returns
    -------
    NWBFormat or None
        ``None`` when neither rule matches.
    """
    if any(n.rstrip("/").rsplit("/", 1)[-1] in ZARR_MARKERS for n in names):
        return NWBFormat.ZARR
    if head is not None:
        for offset in HDF5_OFFSETS:
            if head[offset : offset + 8] == HDF5_SIGNATURE:
                return NWBFormat.HDF5
    return None


def detect_format(source: str | Path, *, client: S3Client | None = None) -> NWBFormat:
    """Find whether ``source`` is a Zarr or an HDF5 NWB, from the objects themselves.

    Parameters
    ----------
    source : str or Path
        A local path, or (with ``client``) a key in the client's bucket.
    client : S3Client, optional
        Read ``source`` as a key of this client's bucket.

    Raises
    ------
    NWBError
        If ``source`` is neither a Zarr group nor an HDF5 file.
    """
    if client is None:
        path = Path(source)
        if path.is_dir():
            found = format_from_objects(p.name for p in path.iterdir())
        elif path.is_file():
            with path.open("rb") as fh:
                found = format_from_objects(head=fh.read(max(HDF5_OFFSETS) + 8))
        else:
            raise NWBError(f"{path} does not exist: expected an NWB file or Zarr folder")
        if found is None:
            raise NWBError(neither_message(str(path)))
        return found
    key = str(source).rstrip("/")
    markers = client.get_many([f"{key}/{m}" for m in ZARR_MARKERS])
    found = format_from_objects(markers)
    if found is None:
        try:
            head = client.get_bytes(key, 0, 8)
        except NotFound:
            raise NWBError(
                f"{client.uri(key)} is not an NWB: no object there and no Zarr group "
                f"({' or '.join(ZARR_MARKERS)}) under it"
            ) from None
        found = format_from_objects(head=head)
    if found is None:
        raise NWBError(neither_message(client.uri(key)))
    return found


def neither_message(where: str) -> str:
    return (
        f"{where} is neither a Zarr NWB (no .zgroup/.zmetadata) nor an HDF5 NWB (no HDF5 "
        "signature in its first bytes); pass the NWB folder or file itself"
    )


def format_errors() -> tuple[type[BaseException], ...]:
    """What h5py, zarr, numcodecs and hdmf raise on a file that is truncated or corrupt
    (a bug in ppdata, such as an AttributeError, is not among them and surfaces as it is)."""
    import pickle
    import zlib

    return (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        RuntimeError,
        EOFError,
        zlib.error,
        pickle.UnpicklingError,
    )
