# %% [markdown]
# # Streaming an NWB from a session name
#
# You know a session's name (from the data tracking sheet, the paper, or `ppdata sessions`)
# and want what is inside its NWB without downloading gigabytes. This notebook goes from the
# name to the units table, then does the same the way the project's `stream_nwb_from_s3`
# notebook does, and counts the requests and bytes of both.
#
# **Where the data comes from.** ppdata reads the public bucket `s3://aind-open-data`
# anonymously. To run this notebook offline (as our CI does), start the mirror, a small
# synthetic copy of the bucket with the same session names and file layout, and point
# ppdata at it:
#
# ```
# ppdata mirror serve --port 9000        # in a terminal; prints the two lines below
# export PPDATA_ENDPOINT_URL=http://127.0.0.1:9000
# export PPDATA_SPREADSHEET=<the tracking.csv it prints>
# ```
#
# With those variables unset, the same cells read the real bucket (the numbers then are
# real file sizes: units tables of thousands of rows instead of tens).

# %%
import os

import ppdata

print("reading from:", os.environ.get("PPDATA_ENDPOINT_URL") or "AWS S3 (the real bucket)")

# %% [markdown]
# ## From a name to a session
# `open_session` reads nothing yet. Listing the assets is one request (two for Neuropixels:
# the subject's CCF folder is listed at the same time).

# %%
SESSION = "ecephys_820459_2025-11-12_14-34-33"
session = ppdata.open_session(SESSION)
session

# %%
session.assets

# %% [markdown]
# ## Open its NWB
# `session.nwb()` picks the complete NWB when the session has one (else the partial NWB of
# the sorted or processed asset) and opens it remotely: only the HDF5 metadata is read.

# %%
nwb = session.nwb()
nwb

# %% [markdown]
# ## The units table
# Quality metrics, one row per unit. Array columns (spike times, waveforms) are left out
# until asked for, so this reads a few columns, not the whole file.

# %%
units = session.units()
units.head()

# %%
ids = units.index[:3]
spikes = session.spike_times(ids)
{unit: len(times) for unit, times in spikes.items()}

# %%
from ppdata._html import stats_text

print("ppdata so far:", stats_text(session.stats))
session.stats["by_operation"]

# %% [markdown]
# ## A firing-rate histogram
# Everything below is pandas and matplotlib on the table we already have.

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3))
rates = units["firing_rate"].dropna()
ax.hist(rates, bins=30, color="#4c72b0")
ax.set_xlabel("firing rate (spikes/s)")
ax.set_ylabel("units")
ax.set_title(f"{len(rates)} units of {SESSION}", fontsize=9)
fig.tight_layout()

# %% [markdown]
# ## The same, the way the original notebook does it
# `stream_nwb_from_s3` builds the HTTPS address of the file by hand, wraps it in `remfile`,
# and lets `h5py` and `pynwb` read the whole NWB structure. To count its requests we put a
# small counting proxy in front of the mirror, with 30 ms per request like a real network,
# and run both ways through it. (Against the real bucket this cell is skipped: the proxy
# forwards plain HTTP only.)

# %%
import time
from urllib.parse import quote

from ppdata.mirror.proxy import LatencyProxy

endpoint = os.environ.get("PPDATA_ENDPOINT_URL")
key = session.nwb_locations()[0].key
rows = []
if endpoint:
    with LatencyProxy(endpoint, latency=0.03) as proxy:
        import h5py
        import remfile
        from pynwb import NWBHDF5IO

        start = time.perf_counter()
        url = f"{proxy.endpoint_url}/aind-open-data/{quote(key)}"
        with h5py.File(remfile.File(url), "r") as h5, NWBHDF5IO(file=h5, mode="r") as io:
            n_units = len(io.read().units.to_dataframe())
        seconds = time.perf_counter() - start
        rows.append(("remfile + h5py + pynwb", n_units, proxy.total_requests,
                     proxy.bytes_sent / 1e6, seconds))

        proxy.reset_counts()
        start = time.perf_counter()
        settings = ppdata.Settings.resolve(endpoint_url=proxy.endpoint_url)
        with ppdata.open_session(SESSION, settings) as fresh:
            n_units = len(fresh.units())
        seconds = time.perf_counter() - start
        rows.append(("ppdata (from the name)", n_units, proxy.total_requests,
                     proxy.bytes_sent / 1e6, seconds))

import pandas as pd

pd.DataFrame(rows, columns=["way", "units", "requests", "MB", "seconds"])

# %% [markdown]
# The original way also needs the file's key up front; ppdata found it from the session
# name (the listing requests are included in its count). Close what you opened:

# %%
session.close()
