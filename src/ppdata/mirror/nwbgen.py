"""Writers of synthetic but faithful NWB files (pynwb + hdmf-zarr).

The files follow the layout of the real Predictive Processing NWBs described in DOMAIN.md:

- :func:`write_ephys_nwb`: the partial NWB of a Neuropixels ``_sorted_`` asset (Zarr) or a
  complete NWB (HDF5): ``units`` with ragged ``spike_times`` and the AIND quality columns,
  ``electrodes``, one ``ElectrodeGroup``/``Device`` per probe, per-probe LFP under
  ``processing["ecephys"]["LFP"]["ElectricalSeries<Probe>-LFP"]``, and optionally the
  ``running``/``stimulus``/``eye_tracking`` modules and ``*_presentations`` intervals.
- :func:`write_pophys_nwb`: ``pophys.nwb.zarr`` of a Mesoscope planar-ophys asset, one
  processing module per plane (``VISp_0``) with the containers of aind-ophys-nwb.
- :func:`write_behavior_nwb`: ``<raw>.nwb`` of a Mesoscope behavior/timing asset.

Every writer is deterministic: the same arguments give the same bytes (random values come
from ``numpy.random.default_rng(seed)``, the NWB identifier is derived from ``raw_name``
and the per-object ``object_id`` UUIDs from a seeded generator).

Size: the ephys file grows with ``len(probes) * units_per_probe * mean_firing_rate_hz *
duration_s * 8`` bytes of spike times plus ``len(probes) * lfp_channels * lfp_rate *
lfp_duration_s * 2`` bytes of LFP (before compression, which saves roughly a third).
``benchmark_ephys_kwargs()`` returns a recipe for a ~250 MB file like the real ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "benchmark_ephys_kwargs",
    "write_behavior_nwb",
    "write_ephys_nwb",
    "write_pophys_nwb",
]

logger = logging.getLogger(__name__)

# hdmf draws every object_id from ``hdmf.container.uuid4``; we swap in a seeded generator
# while building and writing one file, and turn off Blosc threads (their output order
# varies). Both switches are process-global, hence the lock.
_WRITE_LOCK = threading.Lock()

#: Chunk sizes (elements) chosen like the pipelines do: a few MB per chunk for big arrays.
SPIKE_TIMES_CHUNK = 262_144  # 2 MiB of float64
LFP_TIME_CHUNK = 16_384  # x 96 channels x int16 = 3 MiB
STIMULUS_FRAME_RATE = 60.0
RUNNING_RATE = 60.0
EYE_RATE = 60.0
LFP_CONVERSION = 0.195e-6  # volts per int16 step (Neuropixels 1.0 LFP gain)


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _deterministic_ids(seed_text: str) -> Iterator[None]:
    import hdmf.container
    from numcodecs import blosc

    rng = random.Random(seed_text)

    def _uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    with _WRITE_LOCK, warnings.catch_warnings():
        # regions are built before their parent joins the file; hdmf warns, harmlessly
        warnings.filterwarnings("ignore", message="The linked table for DynamicTableRegion")
        original = hdmf.container.uuid4
        hdmf.container.uuid4 = _uuid4
        # multi-threaded Blosc orders blocks by completion: same data, different bytes
        threads = blosc.use_threads
        blosc.use_threads = False
        try:
            yield
        finally:
            hdmf.container.uuid4 = original
            blosc.use_threads = threads


def _aware(when: datetime) -> datetime:
    """NWB wants time-zone aware datetimes; a naive one is the rig's local wall time (as in
    the raw name): US/Pacific, -08:00 in winter, -07:00 in summer (REAL_SHAPES §9)."""
    from .jsongen import local_time

    return local_time(when)


def _date_of_birth(start: datetime, days: int) -> datetime:
    """Midnight ``days`` before the session with the pytz LMT offset the real files carry
    (-07:53, from localizing US/Pacific without ``normalize``; REAL_SHAPES §9)."""
    from datetime import timedelta, timezone

    born = (start - timedelta(days=days)).date()
    lmt = timezone(-timedelta(hours=7, minutes=53), "LMT")
    return datetime(born.year, born.month, born.day, tzinfo=lmt)


def _new_nwbfile(
    *, raw_name: str, kind: str, subject_id: str, session_start: datetime, description: str
) -> NWBFile:
    from pynwb import NWBFile
    from pynwb.file import Subject

    start = _aware(session_start)
    return NWBFile(
        session_description=description,
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ppdata:{kind}:{raw_name}")),
        session_start_time=start,
        file_create_date=[start],
        session_id=raw_name,
        institution="Allen Institute for Neural Dynamics",
        experiment_description="OpenScope Predictive Processing (synthetic ppdata mirror)",
        subject=Subject(
            subject_id=str(subject_id),
            species="Mus musculus",
            sex="F",
            age="P90D",
            genotype="wt/wt",
            date_of_birth=_date_of_birth(start, days=90),
        ),
    )


def _wrap(data: np.ndarray, fmt: str, chunks: tuple[int, ...] | None = None) -> Any:
    """Wrap an array with the chunking and compression of the chosen backend."""
    if chunks is not None:
        chunks = tuple(max(1, min(c, s)) for c, s in zip(chunks, data.shape, strict=True))
    if fmt == "zarr":
        import numcodecs
        from hdmf_zarr.utils import ZarrDataIO

        compressor = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        if chunks is None:
            return ZarrDataIO(data=data, compressor=compressor)
        return ZarrDataIO(data=data, chunks=chunks, compressor=compressor)
    from pynwb import H5DataIO

    if chunks is None:
        return H5DataIO(data=data, compression="gzip", compression_opts=4)
    return H5DataIO(data=data, chunks=chunks, compression="gzip", compression_opts=4)


def _write(nwbfile: NWBFile, path: Path, fmt: str) -> None:
    """Write to a temporary sibling, then move into place (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    _remove(tmp)
    try:
        if fmt == "zarr":
            from hdmf_zarr import NWBZarrIO

            with NWBZarrIO(str(tmp), mode="w") as io:
                io.write(nwbfile, consolidate_metadata=True)
        elif fmt == "hdf5":
            from pynwb import NWBHDF5IO

            with NWBHDF5IO(str(tmp), mode="w") as io:
                io.write(nwbfile)
        else:
            raise ValueError(f"unknown NWB format {fmt!r}: expected 'zarr' or 'hdf5'")
        _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _table_columns(columns: dict[str, tuple[str, Any]]) -> list[Any]:
    from hdmf.common import VectorData

    out = []
    for name, (description, data) in columns.items():
        values = data.tolist() if isinstance(data, np.ndarray) and data.dtype.kind == "U" else data
        out.append(VectorData(name=name, description=description, data=values))
    return out


def _time_intervals(name: str, description: str, columns: dict[str, tuple[str, Any]]) -> Any:
    from pynwb.epoch import TimeIntervals

    n = len(next(iter(columns.values()))[1])
    return TimeIntervals(
        name=name,
        description=description,
        columns=_table_columns(columns),
        id=np.arange(n),
    )


# --------------------------------------------------------------------------------------
# behavior parts (shared by the ephys and the behavior/timing NWB)
# --------------------------------------------------------------------------------------


def _running_speed(rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    from .behaviorgen import running_speed

    return running_speed(rng, duration_s)


def _series(
    name: str, data: np.ndarray, t: np.ndarray, *, unit: str, description: str, fmt: str
) -> Any:
    """A TimeSeries with explicit timestamps, its arrays stored as the backend stores them."""
    from pynwb import TimeSeries

    return TimeSeries(
        name=name,
        data=_wrap(data, fmt),
        timestamps=_wrap(t, fmt),
        unit=unit,
        description=description,
    )


def _running_module(nwbfile: NWBFile, t: np.ndarray, speed: np.ndarray, fmt: str) -> Any:
    """The ``running`` module: ``running_speed`` + ``running_wheel_rotation`` (h2: behaviorgen)."""
    from .behaviorgen import running_module

    return running_module(nwbfile, t, speed, fmt)


def _add_running(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    from .behaviorgen import add_running

    add_running(nwbfile, rng, duration_s, fmt)


def _add_wheel_acquisition(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Acquisition ``raw_running_wheel_rotation`` + the two wheel voltages (h2: behaviorgen);
    returns the wheel's ``(timestamps, speed)`` for :func:`_running_module`."""
    from .behaviorgen import add_wheel_acquisition

    return add_wheel_acquisition(nwbfile, rng, duration_s, fmt)


def _add_stimulus(nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str) -> None:
    """Stimulus onsets plus the ``*_presentations`` tables (see :mod:`.stimgen`)."""
    from . import stimgen

    stimgen.add_stimulus(nwbfile, rng, duration_s, fmt)


def _add_eye_tracking(
    nwbfile: NWBFile, rng: np.random.Generator, duration_s: float, fmt: str
) -> None:
    """``processing/eye_tracking``: pupil/CR/ellipse tables + blinks (h2: behaviorgen)."""
    from .behaviorgen import add_eye_tracking

    add_eye_tracking(nwbfile, rng, duration_s, fmt)


# --------------------------------------------------------------------------------------
# ephys
# --------------------------------------------------------------------------------------


def _np1_layout(n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels 1.0 checkerboard: 4 columns, 20 um rows."""
    ch = np.arange(n_channels)
    x = np.array([43.0, 11.0, 59.0, 27.0])[ch % 4]
    y = (ch // 2) * 20.0 + 20.0
    return x, y


def _add_electrodes(nwbfile: NWBFile, probes: Sequence[str], n_channels: int) -> dict[str, Any]:
    from pynwb.ecephys import ElectrodeGroup

    nwbfile.add_electrode_column(name="channel_name", description="channel name on the probe")
    nwbfile.add_electrode_column(name="rel_x", description="x position on the probe (um)")
    nwbfile.add_electrode_column(name="rel_y", description="y position on the probe (um)")
    groups = {}
    rel_x, rel_y = _np1_layout(n_channels)
    for probe in probes:
        device = nwbfile.create_device(name=probe, description="Neuropixels 1.0 (IMEC)")
        group = ElectrodeGroup(
            name=probe,
            description=f"electrode group of {probe}",
            location="unknown",
            device=device,
        )
        nwbfile.add_electrode_group(group)
        groups[probe] = group
        for ch in range(n_channels):
            nwbfile.add_electrode(
                group=group,
                location="unknown",
                channel_name=f"CH{ch}",
                rel_x=float(rel_x[ch]),
                rel_y=float(rel_y[ch]),
            )
    return groups


def _add_units(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    probes: Sequence[str],
    units_per_probe: int,
    n_channels: int,
    duration_s: float,
    mean_rate: float,
    label_column: str,
    fmt: str,
) -> None:
    from hdmf.common import DynamicTableRegion, VectorData, VectorIndex
    from pynwb.misc import Units

    n_probe = len(probes)
    n = n_probe * units_per_probe
    probe_of = np.repeat(np.arange(n_probe), units_per_probe)
    ks_id = np.tile(np.arange(units_per_probe), n_probe)
    peak_channel = rng.integers(0, n_channels, n)
    electrode_row = probe_of * n_channels + peak_channel
    rel_x, rel_y = _np1_layout(n_channels)

    rates = rng.lognormal(np.log(max(mean_rate, 1e-3)) - 0.5, 1.0, n)
    counts = rng.poisson(rates * duration_s)
    counts = np.maximum(counts, 1)
    index = np.cumsum(counts).astype(np.int64)
    spikes = np.empty(int(index[-1]), dtype=np.float64)
    start = 0
    for i, count in enumerate(counts):
        times = rng.random(count) * duration_s
        times.sort()
        spikes[start : start + count] = times
        start = int(index[i])

    isi = rng.gamma(0.6, 0.4, n)
    presence = np.clip(rng.beta(6.0, 1.2, n), 0.0, 1.0)
    amp_cutoff = np.clip(rng.exponential(0.06, n), 0.0, 0.5)
    default_qc = (isi < 0.5) & (presence > 0.8) & (amp_cutoff < 0.1)
    labels = np.where(default_qc, np.where(rng.random(n) < 0.6, "sua", "mua"), "noise")
    labels[rng.random(n) < 0.1] = "mua"
    depth = rel_y[peak_channel] + rng.normal(0.0, 5.0, n)
    names = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]

    spike_times = VectorData(
        name="spike_times",
        description="the spike times for each unit in seconds",
        data=_wrap(spikes, fmt, (SPIKE_TIMES_CHUNK,)),
    )
    electrodes = DynamicTableRegion(
        name="electrodes",
        description="the peak channel of each unit",
        data=electrode_row.astype(np.int64),
        table=nwbfile.electrodes,
    )
    cols: dict[str, tuple[str, Any]] = {
        "unit_name": ("unique unit name", names),
        "ks_unit_id": ("Kilosort unit id within the probe", ks_id.astype(np.int64)),
        "device_name": ("probe the unit was recorded on", [probes[p] for p in probe_of]),
        "decoder_label": ("classifier label: noise, mua or sua", labels.tolist()),
        "decoder_probability": ("classifier probability", rng.uniform(0.5, 1.0, n)),
        "default_qc": (
            "isi_violations_ratio < 0.5 and presence_ratio > 0.8 and amplitude_cutoff < 0.1",
            default_qc,
        ),
        "depth": ("depth of the peak channel (um)", depth),
        "estimated_x": ("estimated x position (um)", rel_x[peak_channel] + rng.normal(0, 3, n)),
        "estimated_y": ("estimated y position (um)", depth + rng.normal(0, 3, n)),
        "estimated_z": ("estimated z position (um)", rng.normal(0, 10, n)),
        "snr": ("signal-to-noise ratio", rng.gamma(4.0, 1.5, n)),
        "firing_rate": ("spikes per second", counts / duration_s),
        "presence_ratio": ("fraction of time bins with spikes", presence),
        "isi_violations_ratio": ("ISI violations ratio", isi),
        "amplitude_cutoff": ("estimated fraction of missed spikes", amp_cutoff),
        "amplitude_median": ("median spike amplitude (uV)", rng.gamma(5.0, 20.0, n)),
        "num_spikes": ("number of spikes", counts.astype(np.int64)),
    }
    if label_column == "unitrefine_label":
        cols["unitrefine_label"] = (
            "UnitRefine classifier label: noise, mua or sua",
            cols["decoder_label"][1],
        )
    elif label_column != "decoder_label":
        raise ValueError(
            f"label_column must be 'decoder_label' or 'unitrefine_label', not {label_column!r}"
        )
    columns = [
        spike_times,
        VectorIndex(name="spike_times_index", data=index, target=spike_times),
        electrodes,
        VectorIndex(name="electrodes_index", data=np.arange(1, n + 1), target=electrodes),
        *_table_columns(cols),
    ]
    nwbfile.units = Units(
        name="units",
        description="units sorted by Kilosort 4 and curated by the AIND ephys pipeline",
        id=np.arange(n),
        columns=columns,
    )


def _lfp_block(rng: np.random.Generator, n: int, channels: int, rate: float) -> np.ndarray:
    t = np.arange(n) / rate
    out = np.empty((n, channels), dtype=np.int16)
    theta = np.sin(2 * np.pi * 7.5 * t)
    slow = np.sin(2 * np.pi * 0.7 * t + 1.0)
    step = 8  # generate channels in groups to bound float64 memory
    for c0 in range(0, channels, step):
        c1 = min(channels, c0 + step)
        gain = 1.0 - np.arange(c0, c1) / max(channels, 1) * 0.5
        block = 400.0 * np.outer(theta, gain) + 250.0 * slow[:, None]
        block += rng.normal(0.0, 60.0, (n, c1 - c0))
        out[:, c0:c1] = np.clip(block, -32768, 32767).astype(np.int16)
    return out


def _add_lfp(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    probes: Sequence[str],
    n_channels: int,
    lfp_channels: int,
    lfp_rate: float,
    lfp_duration_s: float,
    fmt: str,
) -> None:
    from pynwb.ecephys import LFP, ElectricalSeries

    module = nwbfile.create_processing_module(name="ecephys", description="LFP, downsampled")
    lfp = LFP(name="LFP")
    n = max(2, int(lfp_duration_s * lfp_rate))
    for p, probe in enumerate(probes):
        rows = [p * n_channels + c for c in range(0, n_channels, 4)][:lfp_channels]
        region = nwbfile.create_electrode_table_region(
            region=rows, description=f"LFP channels of {probe} (every 4th channel)"
        )
        data = _lfp_block(rng, n, len(rows), lfp_rate)
        lfp.add_electrical_series(
            ElectricalSeries(
                name=f"ElectricalSeries{probe}-LFP",
                data=_wrap(data, fmt, (LFP_TIME_CHUNK, len(rows))),
                electrodes=region,
                starting_time=0.0,
                rate=float(lfp_rate),
                conversion=LFP_CONVERSION,
                filtering="0.5-500 Hz band-pass, decimated to 2500 Hz",
                description=f"LFP of {probe}",
            )
        )
    module.add(lfp)


def write_ephys_nwb(
    path: Path,
    *,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
    probes: Sequence[str] = ("ProbeA", "ProbeB"),
    units_per_probe: int = 40,
    duration_s: float = 120.0,
    fmt: Literal["zarr", "hdf5"] = "zarr",
    label_column: Literal["decoder_label", "unitrefine_label"] = "decoder_label",
    lfp_channels: int = 96,
    lfp_rate: float = 2500.0,
    with_eye_tracking: bool = False,
    with_behavior: bool = True,
    seed: int = 0,
    mean_firing_rate_hz: float = 5.0,
    lfp_duration_s: float | None = 4.0,
) -> None:
    """Write a Neuropixels NWB shaped like the AIND ephys pipeline's.

    Parameters
    ----------
    path : Path
        Destination: a folder for Zarr (name ending in ``.nwb``), a file for HDF5. Replaced
        if it exists; written to a temporary sibling first.
    raw_name, subject_id, session_start
        Session identity (``session_id``, ``subject.subject_id``, ``session_start_time``; a
        naive datetime is taken as UTC).
    probes : sequence of str
        One ``Device`` + ``ElectrodeGroup`` + LFP series per probe.
    units_per_probe : int
        Units per probe in the ``units`` table.
    duration_s : float
        Session length: spikes, running, stimulus tables span it.
    fmt : {"zarr", "hdf5"}
        Backend (NWBZarrIO with consolidated metadata, or NWBHDF5IO).
    label_column : {"decoder_label", "unitrefine_label"}
        Name of the classifier column; with ``unitrefine_label`` the file also keeps
        ``decoder_label`` as an alias, like newer pipeline versions.
    lfp_channels : int
        LFP channels per probe (every 4th of ``4 * lfp_channels`` electrodes).
    lfp_rate : float
        LFP sampling rate (Hz).
    with_eye_tracking, with_behavior : bool
        Add the ``eye_tracking`` module; add ``running``, ``stimulus`` and the
        ``*_presentations`` intervals.
    seed : int
        Seed of every random value.
    mean_firing_rate_hz : float
        Typical firing rate; with ``duration_s`` it sets the spike count (file size).
    lfp_duration_s : float or None
        Length of the LFP from the session start (default 4 s, so the default file stays a
        few MB; ``None`` = the whole ``duration_s``). The real LFP spans the session; the
        knob only bounds the size of synthetic files.
    """
    if fmt not in ("zarr", "hdf5"):
        raise ValueError(f"unknown NWB format {fmt!r}: expected 'zarr' or 'hdf5'")
    rng = np.random.default_rng(seed)
    n_channels = 4 * lfp_channels
    with _deterministic_ids(f"ephys:{raw_name}:{seed}"):
        nwbfile = _new_nwbfile(
            raw_name=raw_name,
            kind="ephys",
            subject_id=subject_id,
            session_start=session_start,
            description="Neuropixels recording (OpenScope Predictive Processing)",
        )
        _add_electrodes(nwbfile, probes, n_channels)
        _add_units(
            nwbfile,
            rng,
            probes=probes,
            units_per_probe=units_per_probe,
            n_channels=n_channels,
            duration_s=duration_s,
            mean_rate=mean_firing_rate_hz,
            label_column=label_column,
            fmt=fmt,
        )
        _add_lfp(
            nwbfile,
            rng,
            probes=probes,
            n_channels=n_channels,
            lfp_channels=lfp_channels,
            lfp_rate=lfp_rate,
            lfp_duration_s=duration_s
            if lfp_duration_s is None
            else min(lfp_duration_s, duration_s),
            fmt=fmt,
        )
        if with_behavior:
            _add_running(nwbfile, rng, duration_s, fmt)
            _add_stimulus(nwbfile, rng, duration_s, fmt)
        if with_eye_tracking:
            _add_eye_tracking(nwbfile, rng, duration_s, fmt)
        _write(nwbfile, Path(path), fmt)
    logger.debug("wrote ephys NWB %s", path)


def benchmark_ephys_kwargs() -> dict[str, Any]:
    """Keyword arguments for :func:`write_ephys_nwb` giving a ~250 MB Zarr NWB.

    Six probes of 100 units at ~8 Hz for one hour (~17 M spikes, ~90 MB stored) plus
    96-channel LFP at 2500 Hz for the first 90 s of each probe (~170 MB stored). Writing
    takes ~15 s and ~0.7 GB of memory.
    """
    return {
        "probes": ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeE", "ProbeF"),
        "units_per_probe": 100,
        "duration_s": 3600.0,
        "mean_firing_rate_hz": 8.0,
        "lfp_channels": 96,
        "lfp_rate": 2500.0,
        "lfp_duration_s": 90.0,
        "with_eye_tracking": True,
    }


# --------------------------------------------------------------------------------------
# planar ophys
# --------------------------------------------------------------------------------------


def _roi_masks(
    rng: np.random.Generator, n_rois: int, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.zeros((n_rois, h, w), dtype=np.float32)
    labels = np.zeros((h, w), dtype=np.uint16)
    radius = max(1.5, min(h, w) / 25.0)
    for i in range(n_rois):
        cy, cx = rng.uniform(radius, h - radius), rng.uniform(radius, w - radius)
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2
        mask = np.where(d2 <= 1.0, np.exp(-d2), 0.0).astype(np.float32)
        masks[i] = mask
        labels[mask > 0] = i + 1
    return masks, labels


def _calcium_traces(
    rng: np.random.Generator, n_frames: int, n_rois: int, rate_hz: float
) -> dict[str, np.ndarray]:
    decay = np.exp(-1.0 / (0.7 * rate_hz))
    events = np.where(
        rng.random((n_frames, n_rois)) < 0.02, rng.exponential(0.8, (n_frames, n_rois)), 0.0
    )
    calcium = np.empty((n_frames, n_rois))
    c = np.zeros(n_rois)
    for t in range(n_frames):
        c = c * decay + events[t]
        calcium[t] = c
    dff = calcium + rng.normal(0.0, 0.05, (n_frames, n_rois))
    baseline = rng.uniform(100.0, 400.0, n_rois)
    neuropil = baseline * 0.6 + np.cumsum(rng.normal(0.0, 0.5, (n_frames, n_rois)), axis=0) * 0.1
    corrected = baseline * (1.0 + dff)
    raw = corrected + 0.7 * neuropil
    return {
        "dff": dff.astype(np.float32),
        "events": events.astype(np.float32),
        "raw": raw.astype(np.float32),
        "neuropil": neuropil.astype(np.float32),
        "corrected": corrected.astype(np.float32),
    }


def _add_plane(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    device: Any,
    structure: str,
    index: int,
    depth: int,
    n_rois: int,
    timestamps: np.ndarray,
    rate_hz: float,
    image_size: tuple[int, int],
) -> None:
    from pynwb.base import Images
    from pynwb.image import GrayscaleImage
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        RoiResponseSeries,
    )

    from . import stimgen

    name = f"{structure}_{index}"
    module = nwbfile.create_processing_module(name=name, description=f"ophys of plane {name}")
    plane = nwbfile.create_imaging_plane(
        name=name,
        optical_channel=OpticalChannel(
            name="OpticalChannel", description="green channel", emission_lambda=520.0
        ),
        imaging_rate=float(rate_hz),
        description=f"two-photon imaging plane {name}",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6s",
        location=f"Structure: {structure} Depth: {depth}",
        grid_spacing=[0.78, 0.78],
        grid_spacing_unit="microns",
        origin_coords=[0.0, 0.0, float(depth)],
        origin_coords_unit="microns",
    )
    segmentation = ImageSegmentation(name="image_segmentation")
    table = segmentation.create_plane_segmentation(
        name="roi_table",
        description="suite2p segmentation, cellpose soma classifier",
        imaging_plane=plane,
    )
    for column, doc in (
        ("is_soma", "ROI classified as a soma"),
        ("soma_probability", "classifier probability of soma"),
        ("is_dendrite", "ROI classified as a dendrite"),
        ("dendrite_probability", "classifier probability of dendrite"),
    ):
        table.add_column(name=column, description=doc)
    masks, labels = _roi_masks(rng, n_rois, image_size)
    soma_p = rng.uniform(0.0, 1.0, n_rois)
    for i in range(n_rois):
        table.add_roi(
            image_mask=masks[i],
            is_soma=bool(soma_p[i] > 0.5),
            soma_probability=float(soma_p[i]),
            is_dendrite=bool(soma_p[i] < 0.2),
            dendrite_probability=float(1.0 - soma_p[i]) * 0.5,
        )
    module.add(segmentation)

    h, w = image_size
    mean = rng.gamma(2.0, 0.1, (h, w)) + masks.sum(axis=0) * 0.5
    max_img = mean + rng.gamma(1.5, 0.1, (h, w))
    module.add(
        Images(
            name="images",
            description="summary images of the two-photon movie",
            images=[
                GrayscaleImage(
                    name="average_projection",
                    data=(mean / mean.max()).astype(np.float32),
                    description="average intensity projection, normalized to [0, 1]",
                ),
                GrayscaleImage(
                    name="max_projection",
                    data=(max_img / max_img.max()).astype(np.float32),
                    description="maximum intensity projection, normalized to [0, 1]",
                ),
                GrayscaleImage(
                    name="segmentation_mask_image",
                    data=labels,
                    description="label image: ROI index + 1 per pixel, 0 = background",
                ),
            ],
        )
    )

    traces = _calcium_traces(rng, len(timestamps), n_rois, rate_hz)
    stimgen.add_dff_responses(traces["dff"], timestamps, len(timestamps) / rate_hz, index)

    def series(series_name: str, key: str, unit: str) -> Any:
        region = table.create_roi_table_region(
            description=f"ROIs of {name}", region=list(range(n_rois))
        )
        return RoiResponseSeries(
            name=series_name,
            data=traces[key],
            rois=region,
            unit=unit,
            timestamps=timestamps,
        )

    module.add(
        DfOverF(name="dff_timeseries", roi_response_series=series("dff_timeseries", "dff", "%"))
    )
    module.add(
        Fluorescence(
            name="raw_timeseries",
            roi_response_series=series("ROI_fluorescence_timeseries", "raw", "a.u."),
        )
    )
    module.add(series("neuropil_fluorescence_timeseries", "neuropil", "a.u."))
    module.add(series("neuropil_corrected_timeseries", "corrected", "a.u."))
    module.add(series("event_timeseries", "events", "a.u."))


def write_pophys_nwb(
    path: Path,
    *,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
    planes: Sequence[tuple[str, int, int]] = (("VISp", 0, 184), ("VISl", 4, 220)),
    rois_per_plane: int = 20,
    duration_s: float = 120.0,
    rate_hz: float = 9.48,
    image_size: tuple[int, int] = (64, 64),
    seed: int = 0,
) -> None:
    """Write ``pophys.nwb.zarr`` of a Mesoscope planar-ophys asset (always Zarr).

    Parameters
    ----------
    path : Path
        Destination folder (replaced if it exists).
    raw_name, subject_id, session_start
        Session identity.
    planes : sequence of (structure, index, depth_um)
        One processing module and one imaging plane named ``f"{structure}_{index}"`` each.
    rois_per_plane : int
        ROIs in each plane's ``roi_table``.
    duration_s, rate_hz : float
        Session length and frame rate per plane (traces have ``duration_s * rate_hz`` rows).
    image_size : (int, int)
        Height and width of the projections and the ROI image masks.
    seed : int
        Seed of every random value.
    """
    from pynwb.device import Device

    rng = np.random.default_rng(seed)
    n_frames = max(2, int(duration_s * rate_hz))
    n_groups = max(1, (len(planes) + 1) // 2)
    with _deterministic_ids(f"pophys:{raw_name}:{seed}"):
        nwbfile = _new_nwbfile(
            raw_name=raw_name,
            kind="pophys",
            subject_id=subject_id,
            session_start=session_start,
            description="Mesoscope two-photon imaging (OpenScope Predictive Processing)",
        )
        device = Device(name="MESO.1", description="Mesoscope (Thorlabs)")
        nwbfile.add_device(device)
        for i, (structure, index, depth) in enumerate(planes):
            # planes are imaged in pairs: each pair has its own frame clock offset
            offset = (i // 2) / (rate_hz * n_groups)
            timestamps = np.arange(n_frames) / rate_hz + offset
            _add_plane(
                nwbfile,
                rng,
                device=device,
                structure=structure,
                index=index,
                depth=depth,
                n_rois=rois_per_plane,
                timestamps=timestamps,
                rate_hz=rate_hz,
                image_size=image_size,
            )
        _write(nwbfile, Path(path), "zarr")
    logger.debug("wrote pophys NWB %s", path)


# --------------------------------------------------------------------------------------
# behavior / timing
# --------------------------------------------------------------------------------------


def write_behavior_nwb(
    path: Path,
    *,
    raw_name: str,
    subject_id: str,
    session_start: datetime,
    duration_s: float = 120.0,
    seed: int = 0,
) -> None:
    """Write ``<raw>.nwb`` of a Mesoscope behavior/timing asset (always Zarr).

    Holds acquisition ``raw_running_wheel_rotation`` (and the wheel voltages), processing
    ``running`` and ``stimulus``, and the ``*_presentations`` intervals.

    Parameters
    ----------
    path : Path
        Destination folder (replaced if it exists).
    raw_name, subject_id, session_start
        Session identity.
    duration_s : float
        Session length.
    seed : int
        Seed of every random value.
    """
    rng = np.random.default_rng(seed)
    fmt = "zarr"
    with _deterministic_ids(f"behavior:{raw_name}:{seed}"):
        nwbfile = _new_nwbfile(
            raw_name=raw_name,
            kind="behavior",
            subject_id=subject_id,
            session_start=session_start,
            description="behavior and stimulus timing (OpenScope Predictive Processing)",
        )
        t, speed = _running_speed(rng, duration_s)
        wheel_radius_cm = 8.255
        rotation = np.concatenate([[0.0], np.diff(t) * speed[1:] / wheel_radius_cm])
        nwbfile.add_acquisition(
            _series(
                "raw_running_wheel_rotation",
                rotation.astype(np.float32),
                t,
                unit="radians",
                description="wheel rotation per sample",
                fmt=fmt,
            )
        )
        for name, base in (
            ("running_wheel_signal_voltage", 2.5),
            ("running_wheel_supply_voltage", 5.0),
        ):
            nwbfile.add_acquisition(
                _series(
                    name,
                    (base + rng.normal(0.0, 0.01, len(t))).astype(np.float32),
                    t,
                    unit="V",
                    description=name.replace("_", " "),
                    fmt=fmt,
                )
            )
        _running_module(nwbfile, t, speed, fmt)
        _add_stimulus(nwbfile, rng, duration_s, fmt)
        _write(nwbfile, Path(path), fmt)
    logger.debug("wrote behavior NWB %s", path)
