"""SLAP2 raw trials: the reader (``reader``) and the binary file format (``format``)."""
