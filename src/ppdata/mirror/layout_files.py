"""Small, deterministic file writers for the synthetic world.

Every writer produces the same bytes for the same inputs: no timestamps, no random ids, fixed
seeds. Binary formats that the world only needs to *look* right (PNG, TIFF, MP4, MAT) are
written by hand so that no library version can slip a date or a version string into them.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .layout_model import Asset, Session

__all__ = [
    "mat_bytes",
    "mp4_bytes",
    "npy_bytes",
    "picture",
    "png_bytes",
    "random_bytes",
    "rng",
    "seed_of",
    "tiff_bytes",
    "write_bytes",
    "write_h5",
    "write_json",
    "write_metadata",
    "write_png",
    "write_text",
    "write_zarr_array",
]


def rng(*parts: object) -> np.random.Generator:
    """A random generator seeded from any parts (stable across runs and platforms)."""
    digest = zlib.crc32(repr(parts).encode())
    return np.random.default_rng(digest)


def random_bytes(n: int, *seed: object) -> bytes:
    """``n`` pseudo-random (incompressible) bytes."""
    return rng("bytes", *seed).integers(0, 256, size=n, dtype=np.uint8).tobytes()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, creating the parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text (Unix newlines)."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, document: Any) -> Path:
    """Write a JSON document the way AIND writes them (indented, UTF-8, key order kept)."""
    text = json.dumps(document, indent=3, ensure_ascii=False, default=str)
    return write_text(path, text + "\n")


def npy_bytes(array: np.ndarray) -> bytes:
    """The bytes of ``np.save(array)`` (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def picture(height: int, width: int, *seed: object, rgb: bool = True) -> np.ndarray:
    """A small plot-like image: a smooth gradient with a few random blobs (uint8)."""
    generator = rng("picture", *seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 40 + 150 * (x / max(width - 1, 1)) * (1 - 0.5 * y / max(height - 1, 1))
    for _ in range(4):
        cy, cx = generator.uniform(0, height), generator.uniform(0, width)
        r = generator.uniform(2, max(3.0, min(height, width) / 4))
        base = base + 60 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    gray = np.clip(base, 0, 255).astype(np.uint8)
    if not rgb:
        return gray
    tint = generator.integers(0, 60, size=3)
    return np.clip(np.stack([gray + t for t in tint], axis=-1), 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an 8-bit gray (H, W) or RGB (H, W, 3) image as a valid PNG."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    color_type = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def write_png(path: Path, *seed: object, size: tuple[int, int] = (48, 64)) -> Path:
    """Write a small valid PNG whose pixels depend on ``seed``."""
    return write_bytes(path, png_bytes(picture(size[0], size[1], path.name, *seed)))


def tiff_bytes(pages: np.ndarray) -> bytes:
    """Encode a uint16 image (H, W) or stack (pages, H, W) as a baseline little-endian TIFF."""
    stack = np.asarray(pages, dtype="<u2")
    if stack.ndim == 2:
        stack = stack[None]
    _, height, width = stack.shape
    out = bytearray(b"II*\x00\x00\x00\x00\x00")  # first-IFD offset patched below
    previous_link = 4
    for page in stack:
        data_offset = len(out)
        out += page.tobytes()
        if len(out) % 2:
            out += b"\x00"
        ifd_offset = len(out)
        struct.pack_into("<I", out, previous_link, ifd_offset)
        entries = [
            (256, 4, width),  # ImageWidth, LONG
            (257, 4, height),  # ImageLength
            (258, 3, 16),  # BitsPerSample, SHORT
            (259, 3, 1),  # Compression: none
            (262, 3, 1),  # Photometric: BlackIsZero
            (273, 4, data_offset),  # StripOffsets
            (277, 3, 1),  # SamplesPerPixel
            (278, 4, height),  # RowsPerStrip
            (279, 4, page.nbytes),  # StripByteCounts
            (339, 3, 1),  # SampleFormat: unsigned
        ]
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            packed = struct.pack("<HxxI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + packed
        previous_link = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def mp4_bytes(n_bytes: int, *seed: object) -> bytes:
    """A tiny stand-in for an MP4: a valid ``ftyp`` box followed by an ``mdat`` of noise."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41"
    payload = random_bytes(max(0, n_bytes), "mp4", *seed)
    return (
        struct.pack(">I", len(ftyp) + 4)
        + ftyp
        + struct.pack(">I", len(payload) + 8)
        + b"mdat"
        + payload
    )


def mat_bytes(variables: Mapping[str, np.ndarray], *, created: str) -> bytes:
    """Encode real double matrices as a MATLAB 5.0 MAT-file (what ``scipy.io.savemat`` writes).

    ``created`` is the fixed text put in the header instead of the current date.
    """
    text = f"MATLAB 5.0 MAT-file, Platform: posix, Created on: {created}".encode("ascii")
    out = bytearray(text.ljust(116, b" ")[:116])
    out += b"\x00" * 8 + struct.pack("<H", 0x0100) + b"IM"

    def element(kind: int, data: bytes) -> bytes:
        pad = (-len(data)) % 8
        return struct.pack("<II", kind, len(data)) + data + b"\x00" * pad

    for name, value in variables.items():
        matrix = np.atleast_2d(np.asarray(value, dtype="<f8"))
        body = element(6, struct.pack("<II", 6, 0))  # array flags: mxDOUBLE_CLASS
        body += element(5, struct.pack("<ii", *matrix.shape))  # dimensions
        body += element(1, name.encode("ascii"))  # array name
        body += element(9, matrix.tobytes(order="F"))  # real part, column-major
        out += struct.pack("<II", 14, len(body)) + body
    return bytes(out)


def write_h5(
    path: Path,
    datasets: Mapping[str, np.ndarray | str],
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write an HDF5 file of small datasets (keys may contain ``/`` for groups).

    h5py writes no creation times unless asked, so the bytes are reproducible.
    """
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle.create_dataset(key, data=value, track_times=False)
        for key, value in (attrs or {}).items():
            handle.attrs[key] = value
    return path


def write_zarr_array(
    folder: Path,
    *,
    chunk_bytes: int,
    n_chunks: int,
    seed: object,
    attrs: Mapping[str, object] | None = None,
    block: bytes | None = None,
) -> int:
    """Write a 1-D uint8 Zarr v2 array (no compression) of ``n_chunks`` chunk files.

    Chunk content is sliced out of ``block`` (random bytes; made from ``seed`` if not given)
    so that large arrays are cheap to write.

    Returns
    -------
    int
        The number of files written (chunks + ``.zarray`` [+ ``.zattrs``]).
    """
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "chunks": [chunk_bytes],
        "compressor": None,
        "dimension_separator": ".",
        "dtype": "|u1",
        "fill_value": 0,
        "filters": None,
        "order": "C",
        "shape": [chunk_bytes * n_chunks],
        "zarr_format": 2,
    }
    (folder / ".zarray").write_text(json.dumps(meta, indent=4, sort_keys=True) + "\n")
    written = 1
    if attrs:
        (folder / ".zattrs").write_text(json.dumps(dict(attrs), indent=4, sort_keys=True) + "\n")
        written += 1
    source = block if block is not None else random_bytes(chunk_bytes * 2, "zarr", seed)
    span = max(1, len(source) - chunk_bytes)
    offset = zlib.crc32(repr(seed).encode())
    for index in range(n_chunks):
        start = (offset + index * 7919) % span
        data = source[start : start + chunk_bytes].ljust(chunk_bytes, b"\x00")
        (folder / str(index)).write_bytes(data)
        written += 1
    return written


def seed_of(*parts: object) -> int:
    """A stable integer seed from any parts (for the generators that take an ``int``)."""
    return zlib.crc32(repr(parts).encode())


def write_metadata(
    folder: Path,
    session: Session,
    asset: Asset,
    *,
    modalities: tuple[str, ...],
    pipeline: str | None = None,
    qc_modality: str | None = None,
    qc_groups: tuple[str, ...] = (),
    input_data_name: str | None = None,
    process: str | None = None,
    project_name: str | None = None,
) -> dict[str, Any] | None:
    """Write an asset's metadata JSONs (and ``quality_control.json`` plus the PNG figures it
    references, when the asset has QC). Returns the QC document, if any."""
    from . import jsongen

    qc = None
    if asset.qc_schema is not None:
        qc = jsongen.quality_control(
            schema=asset.qc_schema,  # type: ignore[arg-type]
            modality=qc_modality or modalities[0],
            probes=qc_groups,
            asset_name=asset.name,
            fail=asset.qc_fail,
            pending=asset.qc_pending,
            seed=seed_of("qc", asset.name),
            created=asset.processed,
        )
    derived = asset.kind != "raw"
    extra: dict[str, Any] = {}
    if project_name is not None:
        extra["project_name"] = project_name
    docs = jsongen.metadata_documents(
        asset.name,
        schema=asset.schema,  # type: ignore[arg-type]
        platform=session.platform,
        subject_id=session.subject_id,
        acquired=session.acquired,
        process=(process or _process_of(asset.name)) if derived else None,
        processed=asset.processed if derived else None,
        modalities=modalities,
        rig_id=session.rig or None,
        seed=seed_of("metadata", asset.name),
        input_data_name=input_data_name,
        pipeline=pipeline,
        quality_control=qc,
        **extra,
    )
    for filename, document in docs.items():
        write_json(folder / filename, document)
    if qc is not None:
        write_json(folder / "quality_control.json", qc)
        for reference in jsongen.qc_references(qc):
            if reference.endswith(".png") and not reference.startswith(("/", "http")):
                write_png(folder / reference, asset.name)
    return qc


def _process_of(asset_name: str) -> str:
    from ..naming import parse_name

    return parse_name(asset_name).process or "processed"
