# %% [markdown]
# # A Mesoscope session: planes, ΔF/F, ROIs, aligned responses
#
# The Mesoscope images up to eight planes at once (four depths in two visual areas). Its
# processed data is spread over three `_processed_` assets: the imaging planes
# (`pophys.nwb.zarr`), the behavior and stimulus timing, and the videos. ppdata tells them
# apart and opens the right one for each question.
#
# **Where the data comes from.** ppdata reads the public bucket `s3://aind-open-data`
# anonymously. To run this notebook offline (as our CI does), start the mirror, a small
# synthetic copy of the bucket with the same session names and layout, and point ppdata at it:
#
# ```
# ppdata mirror serve --port 9000        # prints the two lines below
# export PPDATA_ENDPOINT_URL=http://127.0.0.1:9000
# export PPDATA_SPREADSHEET=<the tracking.csv it prints>
# ```
#
# Unset, the same cells read the real bucket (hundreds of ROIs per plane, an hour of frames).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import ppdata

print("reading from:", os.environ.get("PPDATA_ENDPOINT_URL") or "AWS S3 (the real bucket)")
SESSION = "multiplane-ophys_832700_2026-01-24_12-06-12"
session = ppdata.open_session(SESSION)
session.assets

# %% [markdown]
# ## Planes
# One row per imaging plane: the visual area, the depth below the surface, the frame rate
# and how many ROIs the segmentation found.

# %%
planes = session.planes()
planes

# %% [markdown]
# ## ΔF/F of one plane
# `dff` reads only the time window and ROIs asked for (here the first minute, all ROIs).

# %%
PLANE = planes.index[0]
dff = session.dff(PLANE, start=0, stop=60)
dff.iloc[:5, :6]

# %%
fig, ax = plt.subplots(figsize=(8, 3))
for offset, roi in enumerate(dff.columns[:8]):
    ax.plot(dff.index, dff[roi] + offset * 1.0, linewidth=0.7)
ax.set_xlabel("time (s)")
ax.set_ylabel("ΔF/F (offset by ROI)")
ax.set_title(f"{PLANE}: first 8 ROIs", fontsize=9)
fig.tight_layout()

# %% [markdown]
# ## ROIs on the projection image
# The segmentation's masks, outlined over the plane's maximum projection; somata in red,
# other ROIs (dendrites, unclassified) in blue.

# %%
from ppdata.ophys import projections, roi_masks

nwb = session.nwb("planar-ophys")
image = projections(nwb, PLANE)["max_projection"]
rois = session.rois(PLANE)
masks = roi_masks(nwb, PLANE)

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(image, cmap="gray")
for mask, soma in zip(masks, rois["is_soma"], strict=True):
    ax.contour(mask > 0, levels=[0.5], colors=["#ff4f4f" if soma else "#4fc3ff"], linewidths=0.8)
ax.set_axis_off()
ax.set_title(f"{PLANE}: {int(rois['is_soma'].sum())} somata of {len(rois)} ROIs", fontsize=9)

# %% [markdown]
# ## ΔF/F aligned to the stimulus: deviant vs standard
# The stimulus tables live in the behavior NWB (another asset); `stimulus_tables` finds it.
# Oddball presentations are the deviants, the rest the standards. We cut a window around each
# onset from the plane's ΔF/F and average over somata.

# %%
tables = session.stimulus_tables()
{name: len(table) for name, table in tables.items()}

# %%
gratings = tables["gratings_presentations"]
trace = session.dff(PLANE)
soma_ids = rois.index[rois["is_soma"]]
times = trace.index.to_numpy()
window = np.arange(-0.5, 1.5, 0.1)


def aligned(onsets):
    """Somata-mean ΔF/F around each onset, sampled on `window` (onsets x window)."""
    values = trace[soma_ids].mean(axis=1).to_numpy()
    return np.array([np.interp(onset + window, times, values) for onset in onsets])


deviant = aligned(gratings.loc[gratings["is_oddball"], "start_time"])
standard = aligned(gratings.loc[~gratings["is_oddball"], "start_time"])

fig, ax = plt.subplots(figsize=(5, 3))
for name, block, color in (("standard", standard, "#4c72b0"), ("deviant", deviant, "#dd8452")):
    mean = block.mean(axis=0)
    sem = block.std(axis=0) / np.sqrt(max(len(block), 1))
    ax.plot(window, mean, color=color, label=f"{name} (n={len(block)})")
    ax.fill_between(window, mean - sem, mean + sem, color=color, alpha=0.25)
ax.axvline(0, color="grey", linewidth=0.6)
ax.set_xlabel("time from stimulus onset (s)")
ax.set_ylabel("ΔF/F (somata mean)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## What it cost
# Every request and byte this session's client made, by S3 operation.

# %%
from ppdata._html import stats_text

print(stats_text(session.stats))
session.close()
