"""Reading NWB files: open one (``open``), its backends (``backends``) and remote storage
(``storage``), and the data by modality (``ephys``, ``ophys``, ``behavior``, ``stimuli``,
``aligned``, ``spikebins``).
"""
