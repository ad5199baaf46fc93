"""Neuropixels NWBs in the shapes of the real ones (REAL_SHAPES.md §1, 4, 5, 10).

- The sorted ("partial") NWB of a ``_sorted_`` asset (Zarr,
  ``nwb/<raw>_experimentN_recordingM.nwb``): subject, devices, electrode groups,
  electrodes, ``processing/ecephys/LFP`` and ``units``;
  no behavior at all.
- The complete NWB of an ``_nwb_`` asset (HDF5 at the asset root): the same plus acquisition
  (wheel rotation and voltages), ``running``, ``eye_tracking``, ``stimulus`` and the
  ``*_presentations`` tables (written by :mod:`.behaviorgen` and :mod:`.stimgen`), electrodes
  with CCF ``x, y, z`` and Allen acronyms in ``location``.

Shapes: one ``Device`` per probe (``ProbeA`` ...), an ``ElectrodeGroup`` per shank (the probe's
name, or ``ProbeF_group0`` ... for a multi-group probe); 384 electrodes per probe with the
real columns; LFP ``ElectricalSeries<Probe>-LFP`` of every 4th channel (96) at 1250 Hz with
explicit timestamps, int16 with conversion ~4.68e-6 V, contiguous and uncompressed in HDF5,
chunked in Zarr; ``units`` with the real 55 columns in file order (plus ``unitrefine_*``,
``bombcell_label`` after the 2026-06-30 curation release), ``electrodes`` per unit = every
electrode of its probe and ``waveform_mean``/``waveform_sd`` over the full probe.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .behaviorgen import add_eye_tracking, add_running, add_wheel_acquisition
from .nwbgen_common import building_nwb, table_columns, wrap
from .stimgen import add_stimulus

if TYPE_CHECKING:
    from pynwb import NWBFile

__all__ = [
    "LFP_CONVERSION",
    "LFP_RATE",
    "UNIT_COLUMNS",
    "benchmark_ephys_kwargs",
    "write_ephys_nwb",
]

CHANNELS_PER_PROBE = 384  # Neuropixels 1.0
LFP_RATE = 1250.0  # 2.5 kHz LFP band decimated x2
LFP_SPATIAL_FACTOR = 4  # every 4th channel kept: 96 of 384
LFP_CONVERSION = 4.6875e-06  # volts per int16 step, as in the complete NWBs
LFP_TIME_CHUNK = 16_384  # Zarr: x 96 channels x int16 = 3 MiB per data chunk
SPIKE_TIMES_CHUNK = 262_144
#: The units columns of a real complete NWB (Nov 2025), in file order (REAL_SHAPES §5).
UNIT_COLUMNS = (
    "spike_times",
    "electrodes",
    "waveform_mean",
    "waveform_sd",
    "unit_name",
    "nn_hit_rate",
    "presence_ratio",
    "recovery_slope",
    "amplitude_cutoff",
    "decoder_label",
    "num_negative_peaks",
    "depth",
    "peak_to_valley",
    "decoder_probability",
    "extremum_channel_index",
    "rp_violations",
    "estimated_y",
    "isi_violations_ratio",
    "isolation_distance",
    "original_cluster_id",
    "l_ratio",
    "estimated_x",
    "velocity_below",
    "amplitude_median",
    "estimated_z",
    "amplitude_cv_median",
    "rp_contamination",
    "ks_unit_id",
    "snr",
    "exp_decay",
    "spread",
    "shank",
    "firing_range",
    "drift_std",
    "amplitude",
    "half_width",
    "amplitude_cv_range",
    "num_positive_peaks",
    "peak_trough_ratio",
    "silhouette",
    "isi_violations_count",
    "sync_spike_8",
    "firing_rate",
    "d_prime",
    "repolarization_slope",
    "drift_mad",
    "sync_spike_2",
    "drift_ptp",
    "nn_miss_rate",
    "velocity_above",
    "sliding_rp_violation",
    "sync_spike_4",
    "device_name",
    "num_spikes",
    "default_qc",
)
#: Added by the 2026-06-30 curation release.
RELEASE_2026_COLUMNS = ("unitrefine_label", "unitrefine_probability", "bombcell_label")
#: Allen CCF acronyms along a probe, tip (channel 0) to top; "void" outside the brain.
_CCF_AREAS = ("CA1", "CA1", "DG-mo", "CA3", "VISp6a", "VISp5", "VISp4", "VISp2/3", "VISp1", "void")


def _np1_layout(n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels 1.0 checkerboard: 4 columns, 20 um rows."""
    ch = np.arange(n_channels)
    x = np.array([43.0, 11.0, 59.0, 27.0])[ch % 4]
    y = (ch // 2) * 20.0 + 20.0
    return x, y


def _groups_of(probe: str, shanks: int) -> list[str]:
    return [probe] if shanks <= 1 else [f"{probe}_group{i}" for i in range(shanks)]


def _add_electrodes(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    probes: Sequence[str],
    shanks: Mapping[str, int],
    *,
    ccf: bool,
    ccf_areas: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Devices, electrode groups and the electrodes table with the real columns."""
    from hdmf.common import VectorData
    from pynwb.ecephys import ElectrodesTable

    n = CHANNELS_PER_PROBE
    rel_x, rel_y = _np1_layout(n)
    col: dict[str, list[Any]] = {}
    for probe in probes:
        device = nwbfile.create_device(
            name=probe, description="Neuropixels 1.0", manufacturer="IMEC"
        )
        names = _groups_of(probe, shanks.get(probe, 1))
        groups = [
            nwbfile.create_electrode_group(
                name=group,
                description=f"electrode group {group} of {probe}",
                location="unknown",
                device=device,
            )
            for group in names
        ]
        entry = np.array([8800.0, 0.0, 3900.0]) + rng.normal(0, 200, 3)
        chans = np.arange(n)
        group_of = [groups[min(len(groups) - 1, ch * len(groups) // n)] for ch in chans]
        if ccf:
            profile = tuple((ccf_areas or {}).get(probe, _CCF_AREAS))
            area = [profile[min(len(profile) - 1, ch * len(profile) // n)] for ch in chans]
        else:
            area = ["unknown"] * n
        rows: dict[str, list[Any]] = {
            "location": area,
            "group": group_of,
            "group_name": [grp.name for grp in group_of],
            "channel_name": [f"AP{ch + 1}" for ch in chans],
            "gain_to_physical_unit": [2.34375] * n,
            "rel_y": rel_y.tolist(),
            "physical_unit": ["uV"] * n,
            "offset_to_physical_unit": [0.0] * n,
            "rel_x": rel_x.tolist(),
            "inter_sample_shift": ((chans % 13) / 13.0).tolist(),
        }
        if ccf:  # the tip is deepest
            rows["x"] = (entry[0] + 0.1 * rel_y).tolist()
            rows["y"] = (entry[1] + 3800.0 - rel_y).tolist()
            rows["z"] = (entry[2] + rel_x).tolist()
        for key, values in rows.items():
            col.setdefault(key, []).extend(values)
    docs = {
        "location": "Allen CCF acronym of the electrode's location ('void' outside the brain)"
        if ccf
        else "location of the electrode",
        "group": "electrode group of the electrode",
        "group_name": "name of the electrode group",
        "channel_name": "channel name on the probe",
        "gain_to_physical_unit": "gain to uV",
        "rel_y": "y position on the probe (um)",
        "physical_unit": "physical unit of the samples",
        "offset_to_physical_unit": "offset to uV",
        "rel_x": "x position on the probe (um)",
        "inter_sample_shift": "sampling delay of the channel's ADC, in samples",
        "x": "CCF anterior-posterior coordinate (um)",
        "y": "CCF dorsal-ventral coordinate (um)",
        "z": "CCF left-right coordinate (um)",
    }
    nwbfile.electrodes = ElectrodesTable(
        columns=[VectorData(name=k, description=docs[k], data=v) for k, v in col.items()],
        id=np.arange(len(col["location"])),
    )


def _spikes(
    rng: np.random.Generator, counts: np.ndarray, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    index = np.cumsum(counts).astype(np.int64)
    spikes = rng.random(int(index[-1])) * duration_s
    start = 0
    for end in index:  # sort each unit's slice in place
        spikes[start:end].sort()
        start = int(end)
    return spikes, index


def _waveforms(
    rng: np.random.Generator, peaks: np.ndarray, n_samples: int, n_channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """(units, samples, channels) float32, zero outside the ~20 channels around the peak."""
    n = len(peaks)
    mean = np.zeros((n, n_samples, n_channels), dtype=np.float32)
    sd = np.zeros_like(mean)
    t = np.linspace(-1.0, 2.0, n_samples)
    shape = (-np.exp(-(t**2) * 8) + 0.4 * np.exp(-((t - 0.6) ** 2) * 4)).astype(np.float32)
    for i, peak in enumerate(peaks):
        lo, hi = max(0, peak - 10), min(n_channels, peak + 10)
        falloff = np.exp(-np.abs(np.arange(lo, hi) - peak) / 4.0).astype(np.float32)
        amp = rng.uniform(50e-6, 300e-6)
        mean[i, :, lo:hi] = amp * shape[:, None] * falloff[None, :]
        sd[i, :, lo:hi] = amp * 0.2 * falloff[None, :]
    return mean, sd


def _add_units(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    probes: Sequence[str],
    shanks: Mapping[str, int],
    units_per_probe: int,
    duration_s: float,
    mean_rate: float,
    release_2026: bool,
    waveform_samples: int,
    fmt: str,
) -> None:
    from hdmf.common import DynamicTableRegion, VectorData, VectorIndex
    from pynwb.misc import Units

    n_ch = CHANNELS_PER_PROBE
    n = len(probes) * units_per_probe
    probe_of = np.repeat(np.arange(len(probes)), units_per_probe)
    peak = rng.integers(0, n_ch, n)
    rel_x, rel_y = _np1_layout(n_ch)
    rates = rng.lognormal(np.log(max(mean_rate, 1e-3)) - 0.5, 1.0, n)
    counts = np.maximum(rng.poisson(rates * duration_s), 1)
    spikes, index = _spikes(rng, counts, duration_s)
    # electrodes per unit: every electrode of its probe, the same window for all its units
    rows = (probe_of[:, None] * n_ch + np.arange(n_ch)[None, :]).ravel().astype(np.int64)
    mean, sd = _waveforms(rng, peak, waveform_samples, n_ch)

    isi = rng.gamma(0.6, 0.4, n)
    presence = np.clip(rng.beta(6.0, 1.2, n), 0.0, 1.0)
    amp_cutoff = np.clip(rng.exponential(0.06, n), 0.0, 0.5)
    rp_contamination = np.clip(rng.gamma(0.7, 0.5, n), 0.0, 1.0)
    if release_2026:
        default_qc = (rp_contamination < 0.5) & (presence > 0.8) & (amp_cutoff < 0.1)
        qc_doc = "rp_contamination < 0.5 & presence_ratio > 0.8 & amplitude_cutoff < 0.1"
    else:
        default_qc = (isi < 0.5) & (presence > 0.8) & (amp_cutoff < 0.1)
        qc_doc = "isi_violations_ratio < 0.5 & presence_ratio > 0.8 & amplitude_cutoff < 0.1"
    labels = np.where(default_qc, np.where(rng.random(n) < 0.6, "sua", "mua"), "noise")
    labels[rng.random(n) < 0.1] = "mua"
    probability = rng.uniform(0.5, 1.0, n)
    depth = rel_y[peak] + rng.normal(0.0, 5.0, n)
    ks_id = np.concatenate([rng.permutation(units_per_probe + 7)[:units_per_probe] for _ in probes])
    shank = [
        "" if shanks.get(probes[p], 1) <= 1 else str(pk * shanks[probes[p]] // n_ch)
        for p, pk in zip(probe_of, peak, strict=True)
    ]
    u = rng.uniform
    values: dict[str, Any] = {
        "unit_name": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
        "nn_hit_rate": u(0.5, 1.0, n),
        "presence_ratio": presence,
        "recovery_slope": u(-200, 0, n),
        "amplitude_cutoff": amp_cutoff,
        "decoder_label": labels.tolist(),
        "num_negative_peaks": rng.integers(1, 3, n),
        "depth": depth,
        "peak_to_valley": u(2e-4, 8e-4, n),
        "decoder_probability": probability,
        "extremum_channel_index": peak.astype(np.int64),
        "rp_violations": rng.poisson(3, n),
        "estimated_y": depth,
        "isi_violations_ratio": isi,
        "isolation_distance": u(10, 200, n),
        "original_cluster_id": ks_id,
        "l_ratio": u(0, 0.5, n),
        "estimated_x": rel_x[peak] + rng.normal(0, 3, n),
        "velocity_below": u(-1, 1, n),
        "amplitude_median": rng.gamma(5.0, 20.0, n),
        "estimated_z": rng.normal(0, 10, n),
        "amplitude_cv_median": u(0.05, 0.4, n),
        "rp_contamination": rp_contamination,
        "ks_unit_id": ks_id,
        "snr": rng.gamma(4.0, 1.5, n),
        "exp_decay": u(0.01, 0.2, n),
        "spread": u(20, 200, n),
        "shank": shank,
        "firing_range": u(0.5, 20, n),
        "drift_std": u(0, 10, n),
        "amplitude": rng.gamma(5.0, 30.0, n),
        "half_width": u(1e-4, 5e-4, n),
        "amplitude_cv_range": u(0.05, 0.6, n),
        "num_positive_peaks": rng.integers(0, 3, n),
        "peak_trough_ratio": u(-1, 0, n),
        "silhouette": u(0, 1, n),
        "isi_violations_count": rng.poisson(2, n),
        "sync_spike_8": u(0, 0.01, n),
        "firing_rate": counts / duration_s,
        "d_prime": u(1, 10, n),
        "repolarization_slope": u(0, 1e6, n),
        "drift_mad": u(0, 10, n),
        "sync_spike_2": u(0, 0.05, n),
        "drift_ptp": u(0, 30, n),
        "nn_miss_rate": u(0, 0.1, n),
        "velocity_above": u(-1, 1, n),
        "sliding_rp_violation": u(0, 0.3, n),
        "sync_spike_4": u(0, 0.02, n),
        "device_name": [probes[p] for p in probe_of],
        "num_spikes": counts.astype(np.int64),
        "default_qc": default_qc,
    }
    if release_2026:
        refine = labels.copy()
        values["unitrefine_label"] = refine.tolist()
        values["unitrefine_probability"] = probability
        values["bombcell_label"] = np.array(["good", "mua", "noise", "non_soma"])[
            np.where(labels == "sua", 0, np.where(labels == "mua", 1, rng.integers(2, 4, n)))
        ].tolist()
    spike_times = VectorData(
        name="spike_times",
        description="the spike times for each unit in seconds",
        data=wrap(spikes, fmt, (SPIKE_TIMES_CHUNK,)),
    )
    electrodes = DynamicTableRegion(
        name="electrodes",
        description="the electrodes of each unit's probe",
        data=rows,
        table=nwbfile.electrodes,
    )
    columns: list[Any] = [
        spike_times,
        VectorIndex(name="spike_times_index", data=index, target=spike_times),
        electrodes,
        VectorIndex(name="electrodes_index", data=np.arange(1, n + 1) * n_ch, target=electrodes),
        VectorData(
            name="waveform_mean",
            description="the spike waveform mean for each spike unit",
            data=wrap(mean, fmt, (64, waveform_samples, n_ch)),
        ),
        VectorData(
            name="waveform_sd",
            description="the spike waveform standard deviation for each spike unit",
            data=wrap(sd, fmt, (64, waveform_samples, n_ch)),
        ),
    ]
    docs = {"default_qc": qc_doc}
    order = [c for c in UNIT_COLUMNS if c in values] + [
        c for c in RELEASE_2026_COLUMNS if c in values
    ]
    columns += table_columns(
        {name: (docs.get(name, name.replace("_", " ")), values[name]) for name in order}
    )
    nwbfile.units = Units(
        name="units",
        description="Units from Kilosort4",
        id=np.arange(n),
        columns=columns,
        waveform_unit="volts",
    )


def _lfp_block(rng: np.random.Generator, n: int, channels: int, rate: float) -> np.ndarray:
    """Theta + slow wave + noise, int16; long series repeat one 60-s block (fast, large)."""
    period = int(60 * rate)
    if n > period:
        block = _lfp_block(rng, period, channels, rate)
        reps = -(-n // period)
        return np.tile(block, (reps, 1))[:n]
    t = np.arange(n) / rate
    out = np.empty((n, channels), dtype=np.int16)
    theta = np.sin(2 * np.pi * 7.5 * t)
    slow = np.sin(2 * np.pi * 0.7 * t + 1.0)
    for c0 in range(0, channels, 8):
        c1 = min(channels, c0 + 8)
        gain = 1.0 - np.arange(c0, c1) / max(channels, 1) * 0.5
        block = 40.0 * np.outer(theta, gain) + 25.0 * slow[:, None]
        block += rng.normal(0.0, 6.0, (n, c1 - c0))
        out[:, c0:c1] = np.clip(block, -32768, 32767).astype(np.int16)
    return out


def _lfp_timestamps(n: int, start: float, rate: float) -> np.ndarray:
    """Explicit timestamps as the sync alignment gives them: a start offset and a clock a
    few ppm off the nominal rate (so a reader cannot assume ``i / rate``)."""
    return start + np.arange(n, dtype=np.float64) / (rate * (1 + 7e-6))


def _add_lfp(
    nwbfile: NWBFile,
    rng: np.random.Generator,
    *,
    probes: Sequence[str],
    durations: Mapping[str, float],
    fmt: str,
) -> None:
    from pynwb.ecephys import LFP, ElectricalSeries

    module = nwbfile.create_processing_module(name="ecephys", description="LFP data")
    lfp = LFP(name="LFP")
    for p, probe in enumerate(probes):
        first = p * CHANNELS_PER_PROBE
        rows = list(range(first, first + CHANNELS_PER_PROBE, LFP_SPATIAL_FACTOR))
        region = nwbfile.create_electrode_table_region(
            region=rows, description=f"LFP electrodes of {probe}"
        )
        n = max(2, int(durations[probe] * LFP_RATE))
        data = _lfp_block(rng, n, len(rows), LFP_RATE)
        stamps = _lfp_timestamps(n, 0.5 + 0.01 * p, LFP_RATE)
        if fmt == "hdf5":  # the complete NWB: contiguous, uncompressed (REAL_SHAPES §4)
            data_io: Any = data
            stamps_io: Any = stamps
        else:
            data_io = wrap(data, fmt, (LFP_TIME_CHUNK, len(rows)))
            stamps_io = wrap(stamps, fmt, (LFP_TIME_CHUNK,))
        lfp.add_electrical_series(
            ElectricalSeries(
                name=f"ElectricalSeries{probe}-LFP",
                data=data_io,
                electrodes=region,
                timestamps=stamps_io,
                conversion=LFP_CONVERSION,
                filtering="0.1 Hz high-pass, decimated x2 to 1250 Hz, every 4th channel",
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
    shanks: Mapping[str, int] | None = None,
    units_per_probe: int = 40,
    duration_s: float = 120.0,
    fmt: Literal["zarr", "hdf5"] = "zarr",
    label_column: Literal["decoder_label", "unitrefine_label"] = "decoder_label",
    complete: bool = False,
    ccf: bool = False,
    ccf_areas: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
    mean_firing_rate_hz: float = 5.0,
    lfp_duration_s: float | None = 4.0,
    long_lfp_probes: Sequence[str] = (),
    waveform_samples: int = 8,
) -> None:
    """Write a Neuropixels NWB shaped like the AIND ephys pipeline's (see module docstring).

    Parameters
    ----------
    path : Path
        Destination: a folder for Zarr (name ending in ``.nwb``), a file for HDF5. Replaced
        if it exists; written to a temporary sibling first.
    raw_name, subject_id, session_start
        Session identity (``session_id``, ``subject.subject_id``, ``session_start_time``).
    probes : sequence of str
        One ``Device`` and one LFP series per probe.
    shanks : mapping, optional
        Probe -> number of electrode groups (default 1: the group is named as the probe;
        more: ``ProbeF_group0`` ...).
    units_per_probe : int
        Units per probe.
    duration_s : float
        Session length: spikes (and, for a complete NWB, behavior) span it.
    fmt : {"zarr", "hdf5"}
        Backend (NWBZarrIO with consolidated metadata, or NWBHDF5IO).
    label_column : {"decoder_label", "unitrefine_label"}
        ``unitrefine_label`` writes the 2026-06-30 curation release: ``unitrefine_label``,
        ``unitrefine_probability``, ``bombcell_label`` and ``default_qc`` by the
        ``rp_contamination`` rule; ``decoder_label`` the older file (old rule).
    complete : bool
        Write the complete NWB: wheel acquisition, ``running``, ``eye_tracking``,
        ``stimulus`` and the ``*_presentations`` tables (a sorted NWB has none of these).
    ccf : bool
        Electrodes with CCF ``x, y, z`` and Allen acronyms in ``location``.
    ccf_areas : mapping, optional
        Probe -> its areas from tip (channel 0) to top, spread evenly over its channels
        (default: the same hippocampus-to-VISp profile on every probe).
    seed : int
        Seed of every random value.
    mean_firing_rate_hz : float
        Typical firing rate; with ``duration_s`` it sets the spike count.
    lfp_duration_s : float or None
        LFP length (default 4 s; ``None`` = the whole session) of every probe except those
        in ``long_lfp_probes``, whose LFP spans the whole session.
    waveform_samples : int
        Samples per waveform (the pipeline writes 210; fewer keep small files small).
    """
    if fmt not in ("zarr", "hdf5"):
        raise ValueError(f"unknown NWB format {fmt!r}: expected 'zarr' or 'hdf5'")
    if label_column not in ("decoder_label", "unitrefine_label"):
        raise ValueError(
            f"label_column must be 'decoder_label' or 'unitrefine_label', not {label_column!r}"
        )
    rng = np.random.default_rng(seed)
    short = duration_s if lfp_duration_s is None else min(lfp_duration_s, duration_s)
    durations = {p: (duration_s if p in long_lfp_probes else short) for p in probes}
    with building_nwb(path, "ephys", fmt, seed, raw_name, subject_id, session_start) as nwbfile:
        _add_electrodes(nwbfile, rng, probes, shanks or {}, ccf=ccf, ccf_areas=ccf_areas)
        _add_units(
            nwbfile,
            rng,
            probes=probes,
            shanks=shanks or {},
            units_per_probe=units_per_probe,
            duration_s=duration_s,
            mean_rate=mean_firing_rate_hz,
            release_2026=label_column == "unitrefine_label",
            waveform_samples=waveform_samples,
            fmt=fmt,
        )
        _add_lfp(nwbfile, rng, probes=probes, durations=durations, fmt=fmt)
        if complete:
            add_wheel_acquisition(nwbfile, rng, duration_s, fmt)
            add_running(nwbfile, rng, duration_s, fmt)
            add_eye_tracking(nwbfile, rng, duration_s, fmt)
            add_stimulus(nwbfile, rng, duration_s, fmt)


def benchmark_ephys_kwargs() -> dict[str, Any]:
    """Keyword arguments for :func:`write_ephys_nwb` at the real scale of a session.

    Five probes (A, B, C, D, F; F with two electrode groups) of 600 units (3,000 units, the
    real range is 2,225–4,346) over 75 minutes at ~1.5 Hz (~20 M spikes); waveforms over the
    full probe (30 samples, zero outside the ~20 channels round the peak); ProbeA's LFP spans
    the whole session (5.6 M samples x 96 channels, ~1 GB), the other probes' the first 60 s.
    """
    return {
        "probes": ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeF"),
        "shanks": {"ProbeF": 2},
        "units_per_probe": 600,
        "duration_s": 4500.0,
        "mean_firing_rate_hz": 1.5,
        "lfp_duration_s": 60.0,
        "long_lfp_probes": ("ProbeA",),
        "waveform_samples": 30,
    }
