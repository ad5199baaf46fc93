"""The real inventory of the release: 141 sessions and their asset names, as data.

Transcribed from the release paper's ``figure_sources/data/data-access.csv``
(AllenNeuralDynamics/openscope_p3_data_release_paper @3938deb; see REAL_SHAPES.md §11):
60 Neuropixels, 64 Mesoscope and 17 SLAP2 sessions. Each row: session (raw name),
modality, context, dandiset, the assets in ``aind-open-data`` as ``kind=suffix`` (the asset
name is ``<session>_<suffix>``), and the kinds held elsewhere (``INTERNAL`` in the paper, or
``@codeocean`` for another bucket).

The bench world (:func:`ppdata.mirror.layout_sessions.describe_world` with ``size="bench"``)
carries every one of these sessions with its real asset names, and an NWB with a units
table for every Neuropixels session, so project-wide work is measured at full scale. Only
what the project tables and the catalog read is written: metadata JSONs everywhere, the
folders that classify ``_processed_`` assets, and one NWB per Neuropixels session (HDF5 in
its public ``_nwb_`` asset, else Zarr in its ``_sorted_`` asset).
"""

# ruff: noqa: E501  (the inventory rows are data, one session per line)

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .layout_model import Asset, Session

__all__ = [
    "INVENTORY",
    "InventorySession",
    "inventory",
    "inventory_names",
    "world_sessions",
    "write_asset",
]

#: (session, modality, context, dandiset, "kind=suffix ...", "kinds held elsewhere")
# fmt: off
INVENTORY: tuple[tuple[str, str, str, str, str, str], ...] = (
    ('multiplane-ophys_832700_2026-01-24_12-06-12', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-01-25_13-33-34 behavior-videos=processed_2026-01-25_13-22-08 processed=processed_2026-03-28_02-17-32 nwb=nwb_2026-04-20_22-59-22', ''),
    ('multiplane-ophys_832700_2026-01-29_11-18-09', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-01-30_14-35-06 behavior-videos=processed_2026-01-30_14-22-47 processed=processed_2026-01-30_19-13-59 nwb=nwb_2026-04-17_17-47-15', ''),
    ('multiplane-ophys_832700_2026-01-30_09-32-25', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-06_20-26-37 behavior-videos=processed_2026-02-07_14-41-00 processed=processed_2026-02-07_19-36-08 nwb=nwb_2026-04-21_01-11-39', ''),
    ('multiplane-ophys_832700_2026-01-31_11-38-29', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-02-01_12-46-33 behavior-videos=processed_2026-02-01_12-35-54 processed=processed_2026-02-01_17-38-26 nwb=nwb_2026-04-21_00-26-30', ''),
    ('multiplane-ophys_832700_2026-02-06_12-31-00', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-02-08_13-53-35 behavior-videos=processed_2026-02-08_13-44-02 processed=processed_2026-02-08_18-58-10 nwb=nwb_2026-04-21_00-39-39', ''),
    ('multiplane-ophys_832700_2026-02-07_11-18-06', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-02-08_15-02-47 behavior-videos=processed_2026-02-08_14-50-56 processed=processed_2026-02-08_19-58-45 nwb=nwb_2026-04-21_00-39-30', ''),
    ('multiplane-ophys_832700_2026-02-12_11-45-55', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-02-13_05-55-43 behavior-videos=processed_2026-02-13_05-40-15 processed=processed_2026-02-13_10-22-52 nwb=nwb_2026-04-21_00-25-09', ''),
    ('multiplane-ophys_832700_2026-02-13_11-45-59', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-02_17-48-18 behavior-videos=processed_2026-02-14_06-15-39 processed=processed_2026-02-14_10-56-24 nwb=nwb_2026-04-21_01-11-00', ''),
    ('multiplane-ophys_837568_2026-02-13_14-38-22', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-02_17-47-05 behavior-videos=processed_2026-02-14_08-28-43 processed=processed_2026-02-14_13-24-10 nwb=nwb_2026-04-21_01-17-05', ''),
    ('multiplane-ophys_837568_2026-02-16_11-39-57', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-02-17_05-44-09 behavior-videos=processed_2026-02-17_05-34-39 processed=processed_2026-02-17_10-28-19 nwb=nwb_2026-04-21_01-09-39', ''),
    ('multiplane-ophys_837568_2026-02-17_11-50-35', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-02-18_05-55-13 behavior-videos=processed_2026-02-18_05-40-15 processed=processed_2026-02-18_10-24-45 nwb=nwb_2026-04-21_01-14-05', ''),
    ('multiplane-ophys_837568_2026-02-19_13-22-26', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-03-24_21-12-05 behavior-videos=processed_2026-02-21_00-48-31 processed=processed_2026-02-21_06-30-28 nwb=nwb_2026-04-21_00-40-09', ''),
    ('multiplane-ophys_837568_2026-02-20_10-35-23', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-03-24_21-12-05 behavior-videos=processed_2026-02-21_06-27-50 processed=processed_2026-02-21_11-18-14 nwb=nwb_2026-04-21_00-00-08', ''),
    ('multiplane-ophys_839909_2026-02-20_12-53-27', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-02-21_08-00-32 behavior-videos=processed_2026-02-21_07-39-53 processed=processed_2026-02-21_14-17-01 nwb=nwb_2026-04-21_00-49-41', ''),
    ('multiplane-ophys_837568_2026-02-23_12-57-43', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-03-24_21-12-01 behavior-videos=processed_2026-02-24_05-28-09 processed=processed_2026-02-24_10-23-49 nwb=nwb_2026-04-21_00-29-53', ''),
    ('multiplane-ophys_837568_2026-02-24_11-35-15', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-03-24_21-21-14 behavior-videos=processed_2026-02-25_06-42-42 processed=processed_2026-02-25_11-37-17 nwb=nwb_2026-04-21_00-48-11', ''),
    ('multiplane-ophys_837568_2026-02-26_14-00-52', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-02_17-48-11 behavior-videos=processed_2026-02-27_05-47-13 processed=processed_2026-02-27_11-09-43 nwb=nwb_2026-04-21_00-49-59', ''),
    ('multiplane-ophys_839909_2026-02-26_15-11-01', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-02-27_06-04-50 behavior-videos=processed_2026-02-27_05-51-26 processed=processed_2026-02-27_11-23-59 nwb=nwb_2026-04-21_00-56-04', ''),
    ('multiplane-ophys_839909_2026-02-27_14-04-04', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-02_17-49-21 behavior-videos=processed_2026-02-28_06-05-16 processed=processed_2026-02-28_11-49-27 nwb=nwb_2026-04-21_01-12-40', ''),
    ('multiplane-ophys_843000_2026-03-03_12-18-14', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-03-04_07-01-16 behavior-videos=processed_2026-03-04_06-48-06 processed=processed_2026-03-04_11-42-13 nwb=nwb_2026-04-21_01-11-02', ''),
    ('multiplane-ophys_843000_2026-03-04_13-46-36', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-03-05_06-05-41 behavior-videos=processed_2026-03-05_05-46-51 processed=processed_2026-03-05_10-56-20 nwb=nwb_2026-04-21_00-45-05', ''),
    ('multiplane-ophys_837568_2026-03-05_14-14-51', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-02_17-45-20 behavior-videos=processed_2026-03-06_06-28-00 processed=processed_2026-03-06_11-31-22 nwb=nwb_2026-04-21_00-52-05', ''),
    ('multiplane-ophys_839909_2026-03-05_11-45-48', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-02_17-47-35 behavior-videos=processed_2026-03-06_06-49-32 processed=processed_2026-03-06_11-41-48 nwb=nwb_2026-04-21_00-35-44', ''),
    ('multiplane-ophys_837568_2026-03-06_13-39-00', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-03-24_21-12-05 behavior-videos=processed_2026-03-07_06-39-11 processed=processed_2026-03-08_01-27-49 nwb=nwb_2026-04-21_01-13-47', ''),
    ('multiplane-ophys_839909_2026-03-06_11-23-27', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-02_17-47-24 behavior-videos=processed_2026-03-07_06-27-06 processed=processed_2026-03-07_11-32-19 nwb=nwb_2026-04-21_01-19-56', ''),
    ('multiplane-ophys_837568_2026-03-09_11-43-41', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-03-24_22-01-50 behavior-videos=processed_2026-03-10_04-34-54 processed=processed_2026-04-04_00-23-10 nwb=nwb_2026-04-21_00-40-24', ''),
    ('multiplane-ophys_843000_2026-03-10_12-00-54', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-02_17-51-05 behavior-videos=processed_2026-03-11_05-36-17 processed=processed_2026-03-11_10-31-58 nwb=nwb_2026-04-21_00-24-54', ''),
    ('multiplane-ophys_843000_2026-03-11_14-27-49', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-02_17-51-25 behavior-videos=processed_2026-03-12_05-34-10 processed=processed_2026-03-12_10-07-16 nwb=nwb_2026-04-21_00-48-33', ''),
    ('multiplane-ophys_843001_2026-03-11_11-31-59', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-03_01-27-59 behavior-videos=processed_2026-03-12_04-39-38 processed=processed_2026-03-12_09-32-15 nwb=nwb_2026-04-21_00-25-23', ''),
    ('multiplane-ophys_843000_2026-03-17_12-23-04', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-03_01-22-24 behavior-videos=processed_2026-03-18_04-30-33 processed=processed_2026-03-18_10-16-37 nwb=nwb_2026-04-21_00-38-44', ''),
    ('multiplane-ophys_843000_2026-03-18_14-44-34', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-03_01-22-09 behavior-videos=processed_2026-03-19_04-37-21 processed=processed_2026-03-19_10-35-10 nwb=nwb_2026-04-21_00-28-17', ''),
    ('multiplane-ophys_843001_2026-03-18_11-39-01', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-03_01-22-10 behavior-videos=processed_2026-03-19_06-48-38 processed=processed_2026-03-19_12-26-00 nwb=nwb_2026-04-21_00-25-24', ''),
    ('multiplane-ophys_839909_2026-03-19_12-45-42', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-03-20_05-09-13 behavior-videos=processed_2026-03-20_04-51-15 processed=processed_2026-03-20_10-28-17 nwb=nwb_2026-04-21_01-18-39', ''),
    ('multiplane-ophys_843000_2026-03-19_15-05-20', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-03-20_05-59-38 behavior-videos=processed_2026-03-20_05-46-15 processed=processed_2026-03-20_10-59-14 nwb=nwb_2026-04-21_00-38-13', ''),
    ('multiplane-ophys_843001_2026-03-19_13-01-20', 'Mesoscope', 'Standard oddball', '001768', 'behavior-videos=processed_2026-03-20_06-47-32 processed=processed_2026-03-20_11-55-23 nwb=nwb_2026-04-21_01-16-12', 'behavior-timing@codeocean'),
    ('multiplane-ophys_839909_2026-03-20_12-32-09', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-03_01-35-09 behavior-videos=processed_2026-03-21_05-13-29 processed=processed_2026-03-21_10-28-45 nwb=nwb_2026-04-21_01-17-16', ''),
    ('multiplane-ophys_843000_2026-03-20_14-41-02', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-03_01-27-48 behavior-videos=processed_2026-03-21_07-08-34 processed=processed_2026-03-21_12-14-42 nwb=nwb_2026-04-20_23-45-55', ''),
    ('multiplane-ophys_843001_2026-03-21_11-43-22', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-03-22_06-03-56 behavior-videos=processed_2026-03-22_05-50-05 processed=processed_2026-03-22_10-58-22 nwb=nwb_2026-04-21_00-39-08', ''),
    ('multiplane-ophys_845342_2026-03-25_14-20-33', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-03-26_07-08-57 behavior-videos=processed_2026-03-26_06-45-16 processed=processed_2026-03-26_11-43-27 nwb=nwb_2026-04-21_01-14-26', ''),
    ('multiplane-ophys_845342_2026-03-26_13-33-27', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-03_01-22-49 behavior-videos=processed_2026-03-27_07-12-04 processed=processed_2026-03-27_22-08-18 nwb=nwb_2026-04-21_00-29-58', ''),
    ('multiplane-ophys_845342_2026-03-27_14-07-55', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-03_01-28-05 behavior-videos=processed_2026-03-28_07-38-14 processed=processed_2026-04-04_00-08-21 nwb=nwb_2026-04-21_00-27-45', ''),
    ('multiplane-ophys_845342_2026-03-30_09-58-06', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-03_02-12-45 behavior-videos=processed_2026-03-31_16-21-26 processed=processed_2026-03-31_22-18-18 nwb=nwb_2026-04-20_23-58-36', ''),
    ('multiplane-ophys_845342_2026-03-31_11-44-28', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-15_21-23-19 behavior-videos=processed_2026-04-01_04-36-35 processed=processed_2026-04-08_22-00-28 nwb=nwb_2026-07-08_08-55-35', ''),
    ('multiplane-ophys_843001_2026-04-01_11-53-58', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-02_16-40-59 behavior-videos=processed_2026-04-02_16-32-07 processed=processed_2026-04-08_23-31-00 nwb=nwb_2026-07-08_09-15-24', ''),
    ('multiplane-ophys_845342_2026-04-01_14-12-13', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-02_16-40-24 behavior-videos=processed_2026-04-02_16-31-14 processed=processed_2026-04-08_23-21-35 nwb=nwb_2026-07-08_08-53-52', ''),
    ('multiplane-ophys_843001_2026-04-02_12-08-20', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-03_04-48-07 behavior-videos=processed_2026-04-03_04-29-25 processed=processed_2026-04-03_09-54-04 nwb=nwb_2026-04-21_00-41-25', ''),
    ('multiplane-ophys_843001_2026-04-03_11-46-14', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-05_04-39-38 behavior-videos=processed_2026-04-05_04-30-34 processed=processed_2026-04-05_12-01-56 nwb=nwb_2026-04-20_22-59-44', ''),
    ('multiplane-ophys_845342_2026-04-03_13-57-42', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-04_08-04-12 behavior-videos=processed_2026-04-04_07-55-21 processed=processed_2026-04-04_14-04-28 nwb=nwb_2026-07-08_08-36-14', ''),
    ('multiplane-ophys_843001_2026-04-09_12-14-56', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-10_04-45-48 behavior-videos=processed_2026-04-10_04-36-33 processed=processed_2026-04-10_09-43-50 nwb=nwb_2026-07-08_08-12-01', ''),
    ('multiplane-ophys_846289_2026-04-10_14-12-11', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-11_05-43-06 behavior-videos=processed_2026-04-11_05-30-44 processed=processed_2026-04-11_11-03-44 nwb=nwb_2026-07-08_08-38-46', ''),
    ('multiplane-ophys_843001_2026-04-11_13-05-48', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-12_05-45-21 behavior-videos=processed_2026-04-12_05-32-56 processed=processed_2026-04-12_10-28-42 nwb=nwb_2026-07-08_08-21-48', ''),
    ('multiplane-ophys_846289_2026-04-13_11-49-19', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-timing=processed_2026-04-14_04-37-43 behavior-videos=processed_2026-04-14_04-28-16 processed=processed_2026-04-14_09-14-44 nwb=nwb_2026-07-08_08-42-19', ''),
    ('multiplane-ophys_846289_2026-04-15_13-55-19', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-16_04-47-03 behavior-videos=processed_2026-04-16_04-37-16 processed=processed_2026-04-16_09-36-05 nwb=nwb_2026-07-08_08-40-53', ''),
    ('multiplane-ophys_843001_2026-04-16_09-36-51', 'Mesoscope', 'Sensorimotor', '001768', 'behavior-videos=processed_2026-04-17_06-03-35 processed=processed_2026-04-17_11-00-14 nwb=nwb_2026-07-08_08-35-05', 'behavior-timing@codeocean'),
    ('multiplane-ophys_846289_2026-04-16_13-56-40', 'Mesoscope', 'Standard oddball', '001768', 'behavior-timing=processed_2026-04-17_06-56-38 behavior-videos=processed_2026-04-17_06-48-02 processed=processed_2026-04-17_12-49-58 nwb=nwb_2026-07-08_08-41-53', ''),
    ('multiplane-ophys_842971_2026-04-18_10-13-51', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-28_06-02-17 behavior-videos=processed_2026-04-28_05-52-33 processed=processed_2026-04-28_10-43-12 nwb=nwb_2026-07-08_09-15-33', ''),
    ('multiplane-ophys_846289_2026-04-20_11-49-37', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-22_04-23-50 behavior-videos=processed_2026-04-22_04-14-15 processed=processed_2026-04-22_09-22-33 nwb=nwb_2026-07-08_08-55-48', ''),
    ('multiplane-ophys_846289_2026-04-21_10-51-37', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-22_05-29-11 behavior-videos=processed_2026-04-22_05-19-27 processed=processed_2026-04-22_10-14-18 nwb=nwb_2026-07-08_08-42-11', ''),
    ('multiplane-ophys_839909_2026-04-22_14-40-04', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-23_06-43-53 behavior-videos=processed_2026-04-23_06-34-42 processed=processed_2026-04-23_11-12-47 nwb=nwb_2026-07-08_08-44-20', ''),
    ('multiplane-ophys_842971_2026-04-22_09-59-38', 'Mesoscope', 'Sequence', '001768', 'behavior-timing=processed_2026-04-24_07-04-43 behavior-videos=processed_2026-04-24_06-53-42 processed=processed_2026-04-24_12-34-06 nwb=nwb_2026-07-08_09-15-39', ''),
    ('multiplane-ophys_842971_2026-04-23_09-36-55', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-25_07-26-59 behavior-videos=processed_2026-04-25_07-13-51 processed=processed_2026-04-25_13-00-55 nwb=nwb_2026-07-08_07-40-37', ''),
    ('multiplane-ophys_846289_2026-04-23_14-15-03', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-24_06-10-11 behavior-videos=processed_2026-04-24_05-47-25 processed=processed_2026-04-24_10-20-16 nwb=nwb_2026-07-08_08-41-43', ''),
    ('multiplane-ophys_842971_2026-04-24_10-05-17', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-27_04-36-13 behavior-videos=processed_2026-04-27_04-25-58 processed=processed_2026-04-27_09-00-09 nwb=nwb_2026-07-08_08-41-39', ''),
    ('multiplane-ophys_846289_2026-04-27_09-47-06', 'Mesoscope', 'Duration', '001768', 'behavior-timing=processed_2026-04-28_05-46-43 behavior-videos=processed_2026-04-28_05-36-21 processed=processed_2026-04-28_09-44-41 nwb=nwb_2026-07-08_06-36-50', ''),
    ('ecephys_820454_2025-11-04_14-59-22', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_11-07-00', 'nwb ccf'),
    ('ecephys_820454_2025-11-05_15-21-15', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_12-25-47', 'nwb ccf'),
    ('ecephys_820454_2025-11-06_16-00-27', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_12-28-40 nwb=nwb_2026-07-29_12-31-13', 'ccf'),
    ('ecephys_820454_2025-11-07_10-54-23', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_12-47-50 nwb=nwb_2026-07-29_13-00-15', 'ccf'),
    ('ecephys_820459_2025-11-10_15-07-13', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_11-27-43 nwb=nwb_2026-06-26_13-37-58', 'ccf'),
    ('ecephys_820459_2025-11-12_14-34-33', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_09-05-10 nwb=nwb_2026-07-21_06-45-18', 'ccf'),
    ('ecephys_830794_2026-01-26_12-02-05', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_14-29-44 nwb=nwb_2026-06-30_15-05-56', 'ccf'),
    ('ecephys_830794_2026-01-27_11-25-31', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_10-21-04 nwb=nwb_2026-06-30_14-41-26', 'ccf'),
    ('ecephys_830794_2026-01-28_11-01-44', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_10-25-03 nwb=nwb_2026-06-30_11-54-01', 'ccf'),
    ('ecephys_830794_2026-01-29_11-12-57', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_12-37-51 nwb=nwb_2026-06-30_14-36-37', 'ccf'),
    ('ecephys_834691_2026-02-16_11-02-15', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_13-53-10 nwb=nwb_2026-06-30_14-26-41', 'ccf'),
    ('ecephys_834691_2026-02-17_10-49-35', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_10-53-50 nwb=nwb_2026-06-30_14-32-01', 'ccf'),
    ('ecephys_830795_2026-02-23_15-03-59', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_10-14-29 nwb=nwb_2026-07-21_06-56-54', 'ccf'),
    ('ecephys_830852_2026-02-23_10-31-02', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_14-54-45 nwb=nwb_2026-06-30_11-53-18', 'ccf'),
    ('ecephys_830795_2026-02-24_15-08-59', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_16-50-19 nwb=nwb_2026-06-30_14-29-14', 'ccf'),
    ('ecephys_830852_2026-02-24_10-20-58', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_16-28-08 nwb=nwb_2026-06-30_15-07-42', 'ccf'),
    ('ecephys_830795_2026-02-25_16-03-31', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_15-27-38 nwb=nwb_2026-06-30_15-05-53', 'ccf'),
    ('ecephys_830852_2026-02-25_10-32-11', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_15-01-21 nwb=nwb_2026-06-30_14-45-38', 'ccf'),
    ('ecephys_830795_2026-02-26_16-01-33', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_11-39-04 nwb=nwb_2026-06-26_12-50-47', 'ccf'),
    ('ecephys_830852_2026-02-26_10-49-56', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_16-22-54 nwb=nwb_2026-06-30_14-35-01', 'ccf'),
    ('ecephys_830848_2026-03-02_15-05-26', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_15-44-48 nwb=nwb_2026-06-30_14-38-09', 'ccf'),
    ('ecephys_830848_2026-03-03_14-02-09', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_15-36-35 nwb=nwb_2026-06-30_14-44-03', 'ccf'),
    ('ecephys_830848_2026-03-04_15-34-54', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_14-03-54 nwb=nwb_2026-06-30_11-58-27', 'ccf'),
    ('ecephys_830849_2026-03-04_10-14-36', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_13-44-34 nwb=nwb_2026-06-30_14-38-39', 'ccf'),
    ('ecephys_830848_2026-03-05_16-07-50', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_14-34-32 nwb=nwb_2026-06-30_11-59-10', 'ccf'),
    ('ecephys_830849_2026-03-05_10-41-20', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-07-07_04-02-18 nwb=nwb_2026-07-21_07-44-54', 'ccf'),
    ('ecephys_830849_2026-03-06_10-51-58', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_16-12-05 nwb=nwb_2026-06-30_15-00-25', 'ccf'),
    ('ecephys_830849_2026-03-07_09-48-16', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_11-27-30 nwb=nwb_2026-06-30_11-50-16', 'ccf'),
    ('ecephys_830846_2026-03-09_10-32-54', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_16-20-44 nwb=nwb_2026-06-30_12-00-43', 'ccf'),
    ('ecephys_830847_2026-03-09_16-23-49', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_16-52-23', 'ccf'),
    ('ecephys_830846_2026-03-10_10-17-25', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_15-55-32', 'ccf'),
    ('ecephys_830847_2026-03-10_16-32-25', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_16-42-53 nwb=nwb_2026-06-30_14-56-52', 'ccf'),
    ('ecephys_830846_2026-03-11_10-19-32', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_14-38-08 nwb=nwb_2026-06-30_14-58-32', 'ccf'),
    ('ecephys_830847_2026-03-11_15-46-40', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_16-25-19 nwb=nwb_2026-06-30_15-00-33', 'ccf'),
    ('ecephys_830846_2026-03-12_11-09-13', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_14-57-25 nwb=nwb_2026-06-30_12-01-16', 'ccf'),
    ('ecephys_830847_2026-03-12_17-14-42', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_15-42-06 nwb=nwb_2026-07-21_07-47-06', 'ccf'),
    ('ecephys_830851_2026-03-16_10-18-07', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-06-27_17-09-26 nwb=nwb_2026-06-30_14-42-48', 'ccf'),
    ('ecephys_834687_2026-03-16_16-33-30', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_12-09-23 nwb=nwb_2026-07-21_07-40-24', 'ccf'),
    ('ecephys_830851_2026-03-17_10-46-04', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-06-27_16-23-42 nwb=nwb_2026-06-30_11-53-49', 'ccf'),
    ('ecephys_834687_2026-03-17_16-18-25', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_16-30-40 nwb=nwb_2026-07-21_07-40-17', 'ccf'),
    ('ecephys_830851_2026-03-18_10-24-59', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-06-27_16-47-05 nwb=nwb_2026-06-30_14-53-35', 'ccf'),
    ('ecephys_834687_2026-03-18_15-50-10', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-04-07_18-26-27 nwb=nwb_2026-04-23_23-03-53', 'ccf'),
    ('ecephys_830851_2026-03-19_10-49-11', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-06-27_15-34-36 nwb=nwb_2026-06-30_14-49-48', 'ccf'),
    ('ecephys_834687_2026-03-19_16-06-07', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-04-07_18-29-43 nwb=nwb_2026-04-24_05-24-38', 'ccf'),
    ('ecephys_832691_2026-03-23_11-28-47', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-04-08_09-26-58 nwb=nwb_2026-04-23_23-04-40', 'ccf'),
    ('ecephys_834686_2026-03-23_17-08-31', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-07-09_12-24-53 nwb=nwb_2026-07-21_07-49-28', 'ccf'),
    ('ecephys_832691_2026-03-24_10-04-30', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-07-09_06-42-27 nwb=nwb_2026-07-21_07-09-21', 'ccf'),
    ('ecephys_834686_2026-03-24_15-41-18', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-07-09_11-31-37 nwb=nwb_2026-07-21_06-53-00', 'ccf'),
    ('ecephys_832691_2026-03-25_10-22-33', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-07-09_06-35-02 nwb=nwb_2026-07-21_06-45-26', 'ccf'),
    ('ecephys_834686_2026-03-25_15-47-48', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-07-09_11-47-45 nwb=nwb_2026-07-21_06-50-44', 'ccf'),
    ('ecephys_832691_2026-03-26_10-51-37', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-07-09_05-57-18 nwb=nwb_2026-07-21_06-49-54', 'ccf'),
    ('ecephys_834686_2026-03-26_16-15-13', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-07-09_10-15-31 nwb=nwb_2026-07-21_06-52-28', 'ccf'),
    ('ecephys_848387_2026-05-04_16-19-01', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-07-09_12-32-13 nwb=nwb_2026-07-23_04-25-57', 'ccf'),
    ('ecephys_848390_2026-05-04_10-22-33', 'Neuropixels', 'Sensorimotor', '001637', 'sorted=sorted_2026-07-09_12-29-50 nwb=nwb_2026-07-23_05-31-11', 'ccf'),
    ('ecephys_848387_2026-05-05_15-55-50', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-07-09_12-34-53 nwb=nwb_2026-07-21_06-55-08', 'ccf'),
    ('ecephys_848390_2026-05-05_10-08-25', 'Neuropixels', 'Standard oddball', '001637', 'sorted=sorted_2026-07-09_12-27-43 nwb=nwb_2026-07-21_06-56-09', 'ccf'),
    ('ecephys_848387_2026-05-06_15-09-10', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-07-09_10-11-20 nwb=nwb_2026-07-21_07-53-00', 'ccf'),
    ('ecephys_848390_2026-05-06_09-54-56', 'Neuropixels', 'Sequence', '001637', 'sorted=sorted_2026-07-09_11-30-06 nwb=nwb_2026-07-21_06-54-48', 'ccf'),
    ('ecephys_848387_2026-05-07_15-46-10', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-07-09_15-52-16 nwb=nwb_2026-07-21_06-52-50', 'ccf'),
    ('ecephys_848390_2026-05-07_10-22-45', 'Neuropixels', 'Duration', '001637', 'sorted=sorted_2026-07-09_11-21-21 nwb=nwb_2026-07-21_07-52-54', 'ccf'),
    ('801381_2025-06-05_14-57-42', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_776270_2025-07-02_11-50-06', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_803496_2025-07-02_15-33-26', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_796630_2025-08-25_14-59-15', 'SLAP2', 'Other/pilot', '001424', '', ''),
    ('SLAP2_796630_2025-08-28_14-25-34', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_796630_2025-09-26_10-48-22', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_801381_2025-09-26_14-17-56', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_796630_2025-10-01_14-23-25', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('SLAP2_801381_2025-10-02_15-23-18', 'SLAP2', 'Other/pilot', '001424', '', 'nwb'),
    ('828408_2025-11-13_10-30-53', 'SLAP2', 'Sensorimotor', '001424', 'motion-corrected=motion-corrected_2026-05-21_01-54-59 processed=processed_2026-05-22_06-53-48', 'annotated@codeocean'),
    ('828408_2025-11-18_14-44-48', 'SLAP2', 'Standard oddball', '001424', 'motion-corrected=motion-corrected_2026-05-14_03-24-33 processed=processed_2026-06-24_18-37-50', 'annotated@codeocean'),
    ('828409_2025-11-20_10-01-34', 'SLAP2', 'Sequence', '001424', 'motion-corrected=motion-corrected_2026-05-15_10-31-48 processed=processed_2026-07-08_17-26-36', 'annotated@codeocean'),
    ('828409_2025-11-21_11-14-03', 'SLAP2', 'Duration', '001424', 'motion-corrected=motion-corrected_2026-05-14_03-37-10 processed=processed_2026-06-24_10-01-37', 'annotated@codeocean'),
    ('829704_2025-12-10_13-47-47', 'SLAP2', 'Sensorimotor', '001424', 'motion-corrected=motion-corrected_2026-05-13_02-28-39 processed=processed_2026-07-26_06-59-38', 'annotated@codeocean'),
    ('829704_2025-12-11_12-57-26', 'SLAP2', 'Standard oddball', '001424', 'motion-corrected=motion-corrected_2026-05-13_01-58-25 processed=processed_2026-07-26_04-46-08', 'annotated@codeocean'),
    ('829704_2025-12-16_11-03-04', 'SLAP2', 'Sequence', '001424', 'motion-corrected=motion-corrected_2026-05-14_07-55-20 processed=processed_2026-06-24_02-10-58', 'annotated@codeocean'),
    ('829704_2025-12-18_10-57-36', 'SLAP2', 'Duration', '001424', 'motion-corrected=motion-corrected_2026-07-25_03-35-02 processed=processed_2026-06-24_04-22-48', 'annotated'),
)
# fmt: on

_PLATFORM = {"Neuropixels": "ecephys", "Mesoscope": "multiplane-ophys", "SLAP2": None}
_RIG = {"Neuropixels": "327_NP2_20240401", "Mesoscope": "429_mesoscope_20220321"}
#: world asset kind of each inventory kind (the paper's "Processed" column is the planar
#: asset for Mesoscope, an early pipeline output nobody classifies yet for SLAP2)
_KIND = {
    "sorted": "sorted",
    "nwb": "nwb",
    "behavior-timing": "behavior-timing",
    "behavior-videos": "behavior-videos",
    "motion-corrected": "unknown",
}
PROBES = ("ProbeA", "ProbeB", "ProbeC", "ProbeD", "ProbeE", "ProbeF")
#: Synthetic NWB sizes: the real 2,225–4,346 units per session (REAL_SHAPES §5) over a
#: short recording, so 60 files stay small (~5 MB each) while the tables are real-sized.
DURATION_S = 120.0
MEAN_RATE_HZ = 1.0
#: Sessions whose NWB electrodes have no CCF coordinates [real]: the release paper's
#: ``neuropixels-trajectories.provenance.json`` excludes these 3 of 60 ("missing-ccf-
#: coordinates:x,y,z"); their electrodes' ``location`` is "unknown" here.
NO_CCF = frozenset(
    {
        "ecephys_834687_2026-03-18_15-50-10",
        "ecephys_834687_2026-03-19_16-06-07",
        "ecephys_832691_2026-03-23_11-28-47",
    }
)
#: [ours] Each probe's CCF areas from tip to top: thalamus or hippocampus below one visual
#: area (the Allen Brain Observatory targets: A AM, B PM, C V1, D LM, E AL, F RL), its
#: layers, then "void" above the brain. Real profiles differ per insertion.
_VISUAL = {"ProbeA": "VISam", "ProbeB": "VISpm", "ProbeC": "VISp", "ProbeD": "VISl",
           "ProbeE": "VISal", "ProbeF": "VISrl"}  # fmt: skip
_DEEP = {"ProbeA": "LP", "ProbeB": "LP", "ProbeC": "LGd", "ProbeD": "LGd", "ProbeE": "CA3",
         "ProbeF": "DG-mo"}  # fmt: skip
CCF_AREAS = {
    probe: (
        _DEEP[probe],
        _DEEP[probe],
        "CA1",
        "CA1",
        *(f"{area}{layer}" for layer in ("6b", "6a", "5", "5", "4", "2/3", "2/3", "1")),
        "void",
    )
    for probe, area in _VISUAL.items()
}


@dataclass(frozen=True)
class InventorySession:
    """One row of the inventory."""

    name: str
    modality: str
    context: str
    dandiset: str
    assets: tuple[tuple[str, str], ...]  # (kind, asset name) in aind-open-data
    elsewhere: tuple[str, ...]

    @property
    def subject_id(self) -> str:
        parts = self.name.split("_")
        return (
            parts[1]
            if self.name.startswith(("ecephys_", "multiplane-ophys_", "SLAP2_"))
            else parts[0]
        )

    @property
    def acquired(self) -> datetime:
        return datetime.strptime("_".join(self.name.split("_")[-2:]), "%Y-%m-%d_%H-%M-%S")

    def asset(self, kind: str) -> str | None:
        return next((name for k, name in self.assets if k == kind), None)


def inventory() -> list[InventorySession]:
    """The 141 sessions of the release, in the paper's order."""
    out = []
    for name, modality, context, dandiset, assets, elsewhere in INVENTORY:
        pairs = []
        for item in assets.split():
            kind, suffix = item.split("=", 1)
            pairs.append((kind, f"{name}_{suffix}"))
        out.append(
            InventorySession(
                name, modality, context, dandiset, tuple(pairs), tuple(elsewhere.split())
            )
        )
    return out


def inventory_names() -> frozenset[str]:
    return frozenset(row[0] for row in INVENTORY)


def _when(asset_name: str) -> datetime:
    return datetime.strptime("_".join(asset_name.split("_")[-2:]), "%Y-%m-%d_%H-%M-%S")


def _ephys_shape(name: str) -> tuple[tuple[str, ...], int]:
    from .layout_files import rng

    g = rng("inventory", name)
    probes = PROBES if g.random() < 0.7 else PROBES[:5]
    total = int(g.integers(2225, 4347))  # the release's range of units per session
    return probes, total // len(probes)


def _session(row: InventorySession) -> Session:
    platform = _PLATFORM[row.modality]
    assets = [Asset(row.name, "raw", schema=1 if platform else 2)]
    probes, per_probe = _ephys_shape(row.name) if platform == "ecephys" else ((), 0)
    public_nwb = row.asset("nwb")
    for kind, asset_name in row.assets:
        world_kind = _KIND.get(kind)
        if kind == "processed":
            world_kind = "planar-ophys" if platform == "multiplane-ophys" else "unknown"
        extra: dict[str, object] = {}
        if platform == "ecephys" and ((kind == "nwb") or (kind == "sorted" and public_nwb is None)):
            hdf5 = kind == "nwb"
            extra = {
                "nwb_path": f"{'' if hdf5 else 'nwb/'}{row.name}_experiment1_recording1.nwb",
                "nwb_format": "hdf5" if hdf5 else "zarr",
                "probes": probes,
                "units_per_probe": per_probe,
                "label_column": "decoder_label",
                "ccf": row.name not in NO_CCF,
            }
        elif platform == "ecephys" and kind == "sorted":
            extra = {"probes": probes, "units_per_probe": per_probe}
        assets.append(
            Asset(asset_name, str(world_kind), _when(asset_name), schema=2, **extra)  # type: ignore[arg-type]
        )
    return Session(
        row.name,
        platform,
        row.subject_id,
        row.acquired,
        assets=tuple(assets),
        spreadsheet_qc="Pass",
        duration_s=DURATION_S,
        rig=_RIG.get(row.modality, "SLAP2_1_20250101"),
        modality=row.modality,
    )


def world_sessions(existing: Iterable[str] = ()) -> list[Session]:
    """World descriptions of the inventory sessions, leaving out names already described
    (a session of the hand-made world keeps its hand-made content)."""
    taken = set(existing)
    return [_session(row) for row in inventory() if row.name not in taken]


def write_asset(folder: Path, session: Session, asset: Asset) -> None:
    """Write one asset of an inventory session: its metadata, the entries that classify it,
    and its NWB if it holds one."""
    from .layout_files import write_bytes, write_json, write_metadata

    modalities = {
        "ecephys": ("ecephys",),
        "multiplane-ophys": ("pophys",),
    }.get(str(session.platform), ("slap2",))
    write_metadata(folder, session, asset, modalities=modalities)
    if asset.kind == "planar-ophys":
        for plane in ("VISp_0", "VISp_1", "VISl_2", "VISl_3"):
            write_json(folder / plane / f"{plane}_registered_metrics.json", {"plane": plane})
    elif asset.kind == "behavior-timing":
        write_bytes(folder / "wheel_running_speed.png", b"\x89PNG\r\n\x1a\n")
    elif asset.kind == "behavior-videos":
        for camera in ("Behavior", "Eye", "Face"):
            write_bytes(folder / camera / "metadata.csv", b"CameraFrameNumber,CameraFrameTime\n")
    if asset.nwb_path and session.platform == "ecephys":
        from . import nwbgen
        from .layout_ephys import ephys_nwb_identity
        from .layout_files import seed_of

        nwbgen.write_ephys_nwb(
            folder / asset.nwb_path,
            **ephys_nwb_identity(session, asset),
            duration_s=session.duration_s,
            ccf_areas=CCF_AREAS,
            lfp_duration_s=0.2,
            mean_firing_rate_hz=MEAN_RATE_HZ,
            seed=seed_of("inventory-nwb", asset.name),
        )
