"""Reading NWB files: open one (``open``: the entry point), the handle (``file``), format
detection (``formats``), ``summary``, its backends (``backends``) and remote storage
(``storage``), and the data by modality (``ephys``, ``lfp``, ``ophys``, ``behavior``,
``stimuli``, ``aligned``, ``spikebins``).
"""
