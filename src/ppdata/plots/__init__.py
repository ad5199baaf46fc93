"""Figures: matplotlib figures from arrays and tables (``figures``, no I/O) and by session
and kind (``make``).
"""
