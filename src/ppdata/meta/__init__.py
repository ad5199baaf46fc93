"""An asset's JSON documents, parsed by pure functions behind a key reader:
``metadata``, ``qc`` (quality control) and ``portal`` (links).
"""
