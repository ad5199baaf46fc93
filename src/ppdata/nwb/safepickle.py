"""Safe decoding of hdmf-zarr's pickled object arrays.

hdmf-zarr stores strings and references as pickled object arrays; recent numcodecs refuse to
unpickle. :func:`install_safe_pickle` registers a codec under numcodecs' ``pickle`` id that
only rebuilds numpy arrays of plain values (and hdmf-zarr references) and refuses anything
else.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np

__all__ = ["install_safe_pickle"]


_SAFE_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # hdmf-zarr's object references: a dict subclass with no custom state
    ("hdmf_zarr.utils", "ZarrReference"),
}


def _safe_loads(data: bytes) -> Any:
    import pickle

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) in _SAFE_GLOBALS:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays of plain values "
                "are allowed in NWB object arrays"
            )

    return _Unpickler(io.BytesIO(data)).load()


_SAFE_PICKLE_LOCK = threading.Lock()
_safe_pickle_class: type | None = None


def install_safe_pickle() -> type:
    """Register :class:`SafePickle` as the decoder of numcodecs' ``pickle`` codec id.

    Idempotent. Returns the registered class.
    """
    global _safe_pickle_class
    with _SAFE_PICKLE_LOCK:
        if _safe_pickle_class is None:
            import numcodecs
            from numcodecs.compat import ensure_contiguous_ndarray
            from numcodecs.pickles import Pickle

            class _SafePickle(Pickle):
                """numcodecs ``Pickle`` whose decode only rebuilds plain numpy arrays."""

                codec_id = "pickle"

                def decode(self, buf: Any, out: Any = None) -> Any:
                    data = ensure_contiguous_ndarray(buf).tobytes()
                    dec = _safe_loads(data)
                    if out is not None:
                        np.copyto(out, dec)
                        return out
                    return dec

            numcodecs.register_codec(_SafePickle)
            _safe_pickle_class = _SafePickle
        return _safe_pickle_class
