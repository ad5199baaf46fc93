"""Downloads: the public functions (``api``), what a target names (``plan``), the
parallel resumable fetch (``engine``) and the manifest check (``manifest``).

Named ``transfer`` rather than ``download`` so that ``ppdata.download`` stays the function.
"""
