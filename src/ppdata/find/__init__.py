"""What exists: a session's assets (``assets``), what a path names (``listing``), where
its NWBs are (``nwbs``), the tracking spreadsheet (``spreadsheet``) and the local
``catalog``.
"""
