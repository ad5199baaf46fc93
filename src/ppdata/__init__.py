"""ppdata: find, stream and download the OpenScope Predictive Processing data.

Importing ppdata has no side effects: the names below load their modules on first use.

Examples
--------
>>> import ppdata
>>> ppdata.parse_name("ecephys_012345_2025-01-01_01-01-01").subject_id
'012345'
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Asset": "assets",
    "AssetKind": "assets",
    "AssetMetadata": "metadata",
    "AssetNotFound": "errors",
    "BucketUnreachable": "errors",
    "Catalog": "catalog",
    "DandiAsset": "dandi",
    "DandiAssetNotFound": "errors",
    "DownloadError": "errors",
    "DownloadPlan": "download",
    "DownloadSummary": "download",
    "Existing": "download",
    "InvalidName": "errors",
    "MetadataError": "errors",
    "NWB": "nwb",
    "NWBError": "errors",
    "NWBLocation": "locate",
    "NotFound": "errors",
    "OutOfRange": "errors",
    "PpdataError": "errors",
    "QualityControl": "qc",
    "S3Client": "s3",
    "Session": "session",
    "SessionName": "naming",
    "SessionNotFound": "errors",
    "Settings": "settings",
    "Slap2": "slap2",
    "UnsafeKey": "errors",
    "classify": "assets",
    "download": "download",
    "find_assets": "assets",
    "find_dandi_asset": "dandi",
    "find_nwbs": "locate",
    "get_metadata": "metadata",
    "get_portal_links": "portal",
    "get_quality_control": "qc",
    "list_path": "listing",
    "make_plot": "plotting",
    "map_sessions": "project.mapping",
    "open_nwb": "nwb",
    "open_session": "session",
    "parse_name": "naming",
    "plan_download": "download",
    "read_spreadsheet": "spreadsheet",
    "verify": "manifest",
}

__all__ = [
    "NWB",
    "Asset",
    "AssetKind",
    "AssetMetadata",
    "AssetNotFound",
    "BucketUnreachable",
    "Catalog",
    "DandiAsset",
    "DandiAssetNotFound",
    "DownloadError",
    "DownloadPlan",
    "DownloadSummary",
    "Existing",
    "InvalidName",
    "MetadataError",
    "NWBError",
    "NWBLocation",
    "NotFound",
    "OutOfRange",
    "PpdataError",
    "QualityControl",
    "S3Client",
    "Session",
    "SessionName",
    "SessionNotFound",
    "Settings",
    "Slap2",
    "UnsafeKey",
    "__version__",
    "classify",
    "download",
    "find_assets",
    "find_dandi_asset",
    "find_nwbs",
    "get_metadata",
    "get_portal_links",
    "get_quality_control",
    "list_path",
    "make_plot",
    "map_sessions",
    "open_nwb",
    "open_session",
    "parse_name",
    "plan_download",
    "read_spreadsheet",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ppdata' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Package(types.ModuleType):
    """Keeps a public function named like its module (``ppdata.download``) the function.

    Importing a submodule sets it as an attribute of its package; without this guard,
    ``ppdata.download`` would turn from the function into the module as soon as anything
    imported ``ppdata.download`` (``ppdata.plan_download`` does).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .assets import Asset, AssetKind, classify, find_assets
    from .catalog import Catalog
    from .dandi import DandiAsset, find_dandi_asset
    from .download import DownloadPlan, DownloadSummary, Existing, download, plan_download
    from .errors import (
        AssetNotFound,
        BucketUnreachable,
        DandiAssetNotFound,
        DownloadError,
        InvalidName,
        MetadataError,
        NotFound,
        NWBError,
        OutOfRange,
        PpdataError,
        SessionNotFound,
        UnsafeKey,
    )
    from .listing import list_path
    from .locate import NWBLocation, find_nwbs
    from .manifest import verify
    from .metadata import AssetMetadata, get_metadata
    from .naming import SessionName, parse_name
    from .nwb import NWB, open_nwb
    from .plotting import make_plot
    from .portal import get_portal_links
    from .project.mapping import map_sessions
    from .qc import QualityControl, get_quality_control
    from .s3 import S3Client
    from .session import Session, open_session
    from .settings import Settings
    from .slap2 import Slap2
    from .spreadsheet import read_spreadsheet
