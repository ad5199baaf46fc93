"""Reading an asset's JSON documents: the :class:`KeyReader` protocol that keeps the parsers
free of I/O, :func:`load_json_document` (one object per file, errors naming the file) and
:class:`DocumentReader` (typed look-ups that record a wrong type instead of raising).

Used by :mod:`ppdata.meta.metadata`, :mod:`ppdata.meta.qc` and :mod:`ppdata.meta.portal`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from ..errors import MetadataError, NotFound

__all__ = [
    "DocumentReader",
    "KeyReader",
    "document_error",
    "get_asset_file",
    "load_json_document",
]

T = TypeVar("T")


class KeyReader(Protocol):
    """What :func:`get_metadata` needs from an S3 client (``ppdata.remote.s3.S3Client`` has it)."""

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Fetch several keys; keys that do not exist are absent from the result."""
        ...


def get_asset_file(
    asset_name: str, file: str, *, client: KeyReader, hint: str = ""
) -> tuple[str, bytes]:
    """The key and bytes of one file of an asset (``quality_control.json``...).

    Raises
    ------
    NotFound
        If the asset has no such file; ``hint`` (where such files exist) is added.
    """
    key = f"{asset_name.strip('/')}/{file}"
    found = client.get_many([key])
    if key not in found:
        raise NotFound(f"{asset_name.strip('/')} has no {file}{hint}")
    return key, found[key]


def document_error(file: str, key: str | None, message: str) -> MetadataError:
    where = f"{file}: key {key!r}: " if key else f"{file}: "
    err = MetadataError(where + message)
    err.file = file  # type: ignore[attr-defined]
    err.key = key  # type: ignore[attr-defined]
    return err


def load_json_document(data: bytes | str | Mapping[str, Any], file: str) -> dict[str, Any]:
    """Parse one JSON document that must be an object.

    Parameters
    ----------
    data : bytes, str or mapping
        The file's content (a mapping is taken as already parsed).
    file : str
        The file name, used in error messages.

    Raises
    ------
    MetadataError
        If the content is not valid UTF-8 JSON or not a JSON object; the message names the
        file (and the position of a syntax error).
    """
    if isinstance(data, Mapping):
        return dict(data)
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes | bytearray) else data
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        raise document_error(file, None, f"not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise document_error(
            file, None, f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(doc, dict):
        raise document_error(file, None, f"expected a JSON object, found {type(doc).__name__}")
    return doc


class DocumentReader:
    """Typed look-ups in one document; a wrong type is recorded, not raised."""

    def __init__(self, file: str, doc: Mapping[str, Any] | None, errors: list[MetadataError]):
        self.file = file
        self.doc = doc or {}
        self.errors = errors

    def _bad(self, key: str, expected: str, value: Any) -> None:
        self.errors.append(
            document_error(
                self.file, key, f"expected {expected}, found {type(value).__name__} {value!r}"
            )
        )

    def get(self, *paths: str, source: Mapping[str, Any] | None = None) -> tuple[str, Any]:
        """The first non-None value among dotted paths; (path, value)."""
        doc = self.doc if source is None else source
        for path in paths:
            value: Any = doc
            for part in path.split("."):
                if not isinstance(value, Mapping):
                    value = None
                    break
                value = value.get(part)
            if value is not None:
                return path, value
        return paths[0], None

    def text(self, *paths: str, source: Mapping[str, Any] | None = None) -> str | None:
        key, value = self.get(*paths, source=source)
        if value is None:
            return None
        if isinstance(value, Mapping):  # {"name": ...} objects (species, platform)
            inner = value.get("abbreviation") or value.get("name")
            if isinstance(inner, str):
                return inner
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        self._bad(key, "a string", value)
        return None

    def name_of(self, *paths: str, source: Mapping[str, Any] | None = None) -> str | None:
        """A string, or the ``name`` of an object (species)."""
        _key, value = self.get(*paths, source=source)
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            return value["name"]
        return self.text(*paths, source=source)

    def _parsed(
        self,
        paths: tuple[str, ...],
        source: Mapping[str, Any] | None,
        parse: Callable[[str], T],
        expected: str,
    ) -> T | None:
        """The first value found, read by ``parse`` (a ``ValueError`` records it as not
        ``expected``, as does a value that is not a string)."""
        key, value = self.get(*paths, source=source)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return parse(value)
            except ValueError:
                pass
        self._bad(key, expected, value)
        return None

    def datetime(self, *paths: str, source: Mapping[str, Any] | None = None) -> datetime | None:
        return self._parsed(paths, source, datetime.fromisoformat, "an ISO 8601 datetime")

    def date(self, *paths: str, source: Mapping[str, Any] | None = None) -> date | None:
        return self._parsed(paths, source, lambda v: date.fromisoformat(v[:10]), "an ISO 8601 date")

    def items(self, *paths: str, source: Mapping[str, Any] | None = None) -> list[Any]:
        key, value = self.get(*paths, source=source)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self._bad(key, "a list", value)
        return []

    def objects(self, *paths: str) -> list[tuple[str, Mapping[str, Any]]]:
        """The objects of a list, with their keys (``stimulus_epochs[2]``)."""
        key, _ = self.get(*paths)
        out = []
        for i, item in enumerate(self.items(*paths)):
            if isinstance(item, Mapping):
                out.append((f"{key}[{i}]", item))
            else:
                self._bad(f"{key}[{i}]", "an object", item)
        return out
