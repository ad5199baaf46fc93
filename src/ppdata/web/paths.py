"""What the web pages share about keys and URLs: which objects show inline or as a preview,
the media type an object is served with, ``asset/sub/path`` splitting and query strings.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode

from .state import safe_key

__all__ = ["PREVIEW_IMAGE", "PREVIEW_TEXT", "media_type", "query", "split_path"]

#: Shown inline (PNG/JPEG/GIF as images, text and JSON as plain text). Anything else is an
#: attachment: an HTML or SVG key must never run in our origin.
INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".json": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
PREVIEW_TEXT = (".json", ".txt", ".log", ".csv", ".md", ".yml", ".yaml", ".xml", ".meta")
PREVIEW_IMAGE = (".png", ".jpg", ".jpeg", ".gif")


def split_path(path: str) -> tuple[str, str]:
    """``asset/sub/path`` -> (``asset``, ``sub/path``) after checking both (see safe_key)."""
    asset, _, rest = path.partition("/")
    safe_key(asset, rest)
    return asset, rest


def media_type(key: str) -> tuple[str, bool]:
    """``(Content-Type, inline)`` for an object served by ``/file``."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in INLINE_TYPES:
        return INLINE_TYPES[suffix], True
    guessed = mimetypes.guess_type(key)[0]
    return (guessed if guessed and "html" not in guessed else "application/octet-stream"), False


def query(**params: Any) -> str:
    """A query string of the non-empty parameters."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)}, doseq=True)
