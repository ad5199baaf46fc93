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
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Asset": "find.assets",
    "AssetKind": "find.assets",
    "AssetMetadata": "meta.metadata",
    "AssetNotFound": "errors",
    "BucketUnreachable": "errors",
    "Catalog": "find.catalog",
    "DandiAsset": "dandi",
    "DandiAssetNotFound": "errors",
    "DownloadError": "errors",
    "DownloadPlan": "transfer.model",
    "DownloadSummary": "transfer.model",
    "Existing": "transfer.model",
    "InvalidName": "errors",
    "MetadataError": "errors",
    "NWB": "nwb.file",
    "NWBError": "errors",
    "NWBLocation": "find.nwbs",
    "NotFound": "errors",
    "OutOfRange": "errors",
    "PpdataError": "errors",
    "QualityControl": "meta.qc",
    "S3Client": "remote.s3",
    "Session": "session",
    "SessionName": "naming",
    "SessionNotFound": "errors",
    "Settings": "settings",
    "Slap2": "slap2.reader",
    "UnsafeKey": "errors",
    "classify": "find.assets",
    "download": "transfer.api",
    "find_assets": "find.assets",
    "find_dandi_asset": "dandi",
    "find_nwbs": "find.nwbs",
    "get_metadata": "meta.metadata",
    "get_portal_links": "meta.portal",
    "get_quality_control": "meta.qc",
    "list_path": "find.listing",
    "make_plot": "plots.make",
    "map_sessions": "project.mapping",
    "open_nwb": "nwb.open",
    "open_session": "session",
    "parse_name": "naming",
    "plan_download": "transfer.api",
    "project_table": "project.api",
    "read_spreadsheet": "find.spreadsheet",
    "verify": "transfer.manifest",
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
    "project_table",
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


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .dandi import DandiAsset, find_dandi_asset
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
    from .find.assets import Asset, AssetKind, classify, find_assets
    from .find.catalog import Catalog
    from .find.listing import list_path
    from .find.nwbs import NWBLocation, find_nwbs
    from .find.spreadsheet import read_spreadsheet
    from .meta.metadata import AssetMetadata, get_metadata
    from .meta.portal import get_portal_links
    from .meta.qc import QualityControl, get_quality_control
    from .naming import SessionName, parse_name
    from .nwb.file import NWB
    from .nwb.open import open_nwb
    from .plots.make import make_plot
    from .project.api import project_table
    from .project.mapping import map_sessions
    from .remote.s3 import S3Client
    from .session import Session, open_session
    from .settings import Settings
    from .slap2.reader import Slap2
    from .transfer.api import download, plan_download
    from .transfer.manifest import verify
    from .transfer.model import DownloadPlan, DownloadSummary, Existing
