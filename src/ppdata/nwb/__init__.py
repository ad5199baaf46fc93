"""Reading NWB files: open one (``open``), its storage backends (``backends``), and the
data by modality (``ephys``, ``ophys``, ``behavior``, ``stimuli``, ``aligned``, ``spikebins``).
"""
