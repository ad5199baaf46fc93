"""The project units table, read lean: a session's units' scalar columns straight to Arrow.

:func:`ppdata.ephys.units` builds a rich DataFrame for one session (filters, the QC rule
used, brain areas from the whole ``units/electrodes`` column). A project table over every
session needs less, and needs it cheaply, so this reads only:

- the units' 1-D columns of one value per unit (no ragged ``spike_times``/``electrodes``,
  no waveforms), all fetched in one concurrent batch, strings kept as bytes until Arrow
  decodes them;
- for ``brain_area``, the peak electrode of each unit: ``electrodes[i][extremum_channel_index]``
  (REAL_SHAPES §5). Every unit of a probe lists the same window of electrodes (the whole
  probe), so one window per probe is read, by exact byte range where the column is stored
  uncompressed, instead of the whole ``units/electrodes`` column (9 MB in a real file of
  3,000 units x 384 channels); when the windows of a probe's first and last units differ,
  every unit's peak element is read instead;
- ``electrodes/location`` and nothing else of the electrodes table.

``label``, ``default_qc`` and ``probe`` follow :func:`ppdata.ephys.units` (the same label
columns and default-QC rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from ..nwb.open import NWB
    from ..session import Session

__all__ = ["UNITS_BLOCK_SIZE", "open_units_nwb", "units_arrow"]


def units_arrow(nwb: NWB, subject: str | None = None) -> pa.Table:
    """Every unit of an ephys NWB with its scalar columns, as an Arrow table.

    Columns: ``unit_id``, ``subject``, the file's scalar unit columns (strings decoded),
    then ``label``, ``default_qc``, ``probe``, ``brain_area`` (``"unknown"`` where the file
    does not say).

    Raises
    ------
    NotFound
        The NWB has no units table.
    """
    import pyarrow as pa

    from ..errors import NotFound
    from ..nwb.ephys import ELECTRODES, LABEL_COLUMNS, UNITS

    if not nwb.exists(UNITS):
        raise NotFound(f"{nwb.name} has no units table (not a sorted ephys NWB?)")
    group = nwb.array(UNITS)  # the h5py or zarr group: one lookup per column below
    children = set(group.keys())
    _prefetch_headers(nwb, group, [*children, f"/{ELECTRODES}/location"])
    ragged = {c[: -len("_index")] for c in children if c.endswith("_index")}
    nodes = {c: group[c] for c in children if c not in ragged}
    n = nodes["id"].shape[0]
    scalar = [
        name
        for name in nwb.table_columns(UNITS)
        if name in nodes and getattr(nodes[name], "shape", None) == (n,)
    ]
    has_windows = "electrodes" in ragged and "electrodes_index" in children
    wanted = ["id", *scalar]
    if has_windows:
        nodes["electrodes_index"] = group["electrodes_index"]
        wanted.append("electrodes_index")
    nwb.prefetch_arrays(nodes[c] for c in wanted)
    raw = {c: nwb.read_array(nodes[c], decode=False) for c in wanted}

    columns: dict[str, pa.Array] = {"unit_id": pa.array(np.asarray(raw["id"]))}
    if subject is not None:
        columns["subject"] = pa.array([subject] * n, pa.string())
    for name in scalar:
        columns[name] = _arrow(raw[name])
    label_from = next((c for c in LABEL_COLUMNS if c in columns), None)
    columns["label"] = _normalized(columns[label_from]) if label_from else pa.nulls(n, pa.string())
    columns["default_qc"] = _default_qc(columns, n)
    probe = columns.get("device_name")
    columns["probe"] = probe if probe is not None else pa.nulls(n, pa.string())

    areas = np.full(n, "unknown", dtype=object)
    if has_windows and "extremum_channel_index" in raw and nwb.exists(f"{ELECTRODES}/location"):
        rows = _peak_rows(
            nwb,
            np.asarray(raw["electrodes_index"], dtype=np.int64),
            np.asarray(raw["extremum_channel_index"], dtype=np.int64),
            None if probe is None else np.asarray(probe.to_pylist(), dtype=object),
        )
        path = f"{ELECTRODES}/location"
        locations = _strings(nwb.read_array(nwb.array(path), decode=False))
        ok = (rows >= 0) & (rows < len(locations))
        areas[ok] = locations[rows[ok]]
    columns["brain_area"] = pa.array(areas, pa.string())
    return pa.table(columns)


# --- reading ------------------------------------------------------------------------------

#: Bytes fetched from each column's object header on: the header, the chunk index and, for
#: a column of a few thousand values, its data, which HDF5 writers put right after it.
HEADER_SPAN = 64 * 2**10


def _prefetch_headers(nwb: NWB, group: Any, names: list[str]) -> None:
    """Fetch the blocks holding these HDF5 objects' headers in one concurrent batch.

    Their addresses are in the group's link table (no header is read to learn them).
    Without this, h5py misses block after block while it opens the headers, one round
    trip each, made while it holds its global lock, so the sessions a worker reads at once
    wait for each other's misses; with it, one round trip made outside that lock.
    """
    import h5py

    fileobj = nwb.hdf5_file
    if fileobj is None or not isinstance(group, h5py.Group):
        return
    ranges = []
    for name in names:
        try:
            info = group.id.links.get_info(name.encode()) if not name.startswith("/") else None
            if name.startswith("/"):  # an absolute path: its parent group's link
                parent, _, leaf = name.rpartition("/")
                info = group.file[parent].id.links.get_info(leaf.encode())
        except (KeyError, ValueError, RuntimeError, OSError):
            continue
        if info is not None and info.type == h5py.h5l.TYPE_HARD and isinstance(info.u, int):
            ranges.append((info.u, info.u + HEADER_SPAN))
    fileobj.prefetch(ranges)


def _strings(values: np.ndarray) -> np.ndarray:
    return np.asarray(_arrow(values).to_numpy(zero_copy_only=False), dtype=object)


def _arrow(values: np.ndarray) -> pa.Array:
    """A column as Arrow: numbers as they are, text (bytes or str) as UTF-8 strings."""
    import pyarrow as pa

    if values.dtype.kind in "biuf":
        return pa.array(values)
    if values.dtype.kind == "S":
        return pa.array(values.tolist(), pa.binary()).cast(pa.string())
    items = values.tolist()
    first = next((v for v in items if v is not None), None)
    if isinstance(first, bytes):
        binary = pa.array(items, pa.binary())
        try:
            return binary.cast(pa.string())
        except pa.ArrowInvalid:  # not UTF-8: decode by hand, replacing what is not
            items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in items]
    if first is None or isinstance(first, str):
        return pa.array([v if v is None or isinstance(v, str) else str(v) for v in items])
    return pa.array([None if v is None else str(v) for v in items], pa.string())


def _normalized(labels: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(labels.type):
        labels = labels.cast(pa.string())
    return pc.utf8_lower(pc.utf8_trim_whitespace(labels))


def _default_qc(columns: dict[str, pa.Array], n: int) -> pa.Array:
    """The stored ``default_qc``, else the curation's rule
    (:func:`ppdata.ephys.default_qc_rule`)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..nwb.ephys import default_qc_rule

    stored = columns.get("default_qc")
    if stored is not None:
        if pa.types.is_boolean(stored.type):
            return stored
        if pa.types.is_string(stored.type):
            return pc.is_in(pc.utf8_lower(stored), pa.array(["true", "1", "yes"]))
        return pc.not_equal(stored, 0)
    rule = default_qc_rule(columns)
    if rule is None:
        return pa.nulls(n, pa.bool_())
    names = [c for c in columns if c in rule]
    frame = pd.DataFrame({c: columns[c].to_numpy(zero_copy_only=False) for c in names})
    return pa.array(frame.eval(rule.replace("&", "and")).to_numpy(dtype=bool))


def _peak_rows(
    nwb: NWB, ends: np.ndarray, peak: np.ndarray, probe: np.ndarray | None
) -> np.ndarray:
    """Each unit's peak electrode (a row of the electrodes table), -1 where unknown."""
    from ..nwb.ephys import UNITS

    n = len(ends)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    lengths = ends - starts
    valid = (peak >= 0) & (peak < lengths)
    rows = np.full(n, -1, dtype=np.int64)
    if not valid.any():
        return rows
    path = f"{UNITS}/electrodes"
    groups = [np.arange(n)] if probe is None else [np.flatnonzero(probe == p) for p in set(probe)]
    # the first and last unit of each probe: their windows, read together
    ends_of = [(int(g[0]), int(g[-1])) for g in groups if len(g)]
    spans = sorted({(int(starts[i]), int(ends[i])) for pair in ends_of for i in pair})
    windows = dict(zip(spans, nwb.read_ranges(path, spans), strict=True))
    uniform = True
    for members, (first, last) in zip([g for g in groups if len(g)], ends_of, strict=True):
        window = windows[(int(starts[first]), int(ends[first]))]
        other = windows[(int(starts[last]), int(ends[last]))]
        same_length = bool(np.all(lengths[members] == len(window)))
        if not same_length or not np.array_equal(window, other):
            uniform = False
            break
        ok = members[valid[members]]
        rows[ok] = np.asarray(window, dtype=np.int64)[peak[ok]]
    if uniform:
        return rows
    # windows differ within a probe: read every unit's peak element (all of the column)
    flat = np.asarray(nwb.read(path), dtype=np.int64)
    rows[:] = -1
    rows[valid] = flat[(starts + peak)[valid]]
    return rows


#: Block size for reading a complete HDF5 NWB's units. Its headers and columns cluster in a
#: few MB (after the waveforms); each block h5py misses is one round trip made while h5py
#: holds its global lock (so sessions on one worker wait for each other), and every byte
#: read costs transfer time. Bench world, per session (8 sessions, 50 ms per request):
#: 2 MiB blocks 12 requests, 8.7 MB, 0.65 s; 1 MiB 13.5, 5.9 MB, 0.79 s; 512 KiB 16.5,
#: 4.6 MB, 0.81 s.
UNITS_BLOCK_SIZE = 2**20


def open_units_nwb(session: Session, nwb_asset: str | None = None) -> tuple[NWB, bool]:
    """The NWB to read a session's units from, and whether the caller must close it: its
    complete HDF5 NWB at the usual name, opened with :data:`UNITS_BLOCK_SIZE` blocks
    (one GET reads its first block) and the metadata of ``units`` fetched before h5py
    opens it (:func:`ppdata.nwb.h5walk.prefetch_group`), else whatever
    :meth:`Session.units` reads.

    ``nwb_asset``: the name of the session's current NWB asset, if known (from the
    catalog): then the session is not listed to find it.
    """
    from ..find.assets import Asset, AssetKind
    from ..find.nwbs import is_first_recording, probe_complete_hdf5
    from ..naming import parse_name
    from ..nwb.ephys import ELECTRODES, UNITS
    from ..nwb.h5walk import prefetch_group
    from ..nwb.open import NWBFormat, _open_remote

    if session.source == "dandi" or not is_first_recording(session.recording):
        return session._ephys(), False
    if nwb_asset is not None:
        asset = Asset(nwb_asset, AssetKind.NWB, session.client.bucket, parse_name(nwb_asset))
    elif AssetKind.NWB in session.kinds:
        asset = session.asset(AssetKind.NWB)
    else:
        return session._ephys(), False
    # not its last block: the walk fetches the blocks it needs (on the bench world the
    # last one is not among them: +1 request and +1 MB a session, no round trip saved)
    probed = probe_complete_hdf5(asset, UNITS_BLOCK_SIZE, client=session.client, tail=False)
    if probed is not None:
        nwb = _open_remote(
            session.client,
            probed.key,
            NWBFormat.HDF5,
            probed.size,
            probed.first,
            block_size=UNITS_BLOCK_SIZE,
            prepare=lambda f: prefetch_group(f, UNITS, others=[f"{ELECTRODES}/location"]),
        )
        if nwb.exists(UNITS):
            return nwb, True
        nwb.close()
    return session._ephys(), False
