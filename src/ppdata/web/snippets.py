"""The "copy Python" and "copy download command" text of each view of the web page."""

from __future__ import annotations

import shlex

__all__ = ["download_command", "python_snippet"]


def _settings_arg(endpoint_url: str | None) -> str:
    if not endpoint_url:
        return ""
    return f", settings=ppdata.Settings(endpoint_url={endpoint_url!r})"


def _options(endpoint_url: str | None) -> str:
    return f" --endpoint-url {shlex.quote(endpoint_url)}" if endpoint_url else ""


def python_snippet(view: str, session: str, endpoint_url: str | None = None, **extra: str) -> str:
    """Python that reproduces a view of the session page.

    Parameters
    ----------
    view : str
        ``assets``, ``metadata``, ``qc``, ``nwb``, ``units``, a plot kind (``raster``,
        ``unit-quality``, ``dff``, ``rois``, ``running``) or ``file`` (``key`` in ``extra``).
    session : str
        The session (or, for ``file``, asset) name.
    endpoint_url : str, optional
        The endpoint, when not AWS (the mirror).
    """
    open_line = f"s = ppdata.open_session({session!r}{_settings_arg(endpoint_url)})"
    head = ["import ppdata", "", open_line]
    if view == "assets":
        body = ["for asset in s.assets:", "    print(asset.kind, asset.name, asset.current)"]
    elif view == "metadata":
        body = [
            "md = ppdata.get_metadata(s.asset('raw').name, client=s.client)",
            "md.subject_id, md.genotype, md.instrument_id, md.session_start",
        ]
    elif view == "qc":
        body = [
            "for asset in s.assets:",
            "    try:",
            "        qc = ppdata.get_quality_control(asset.name, client=s.client)",
            "        print(asset.name, qc.status)",
            "    except ppdata.NotFound:",
            "        pass",
        ]
    elif view == "portal":
        body = ["ppdata.get_portal_links(s.asset('sorted').name, client=s.client)"]
    elif view == "nwb":
        body = ["for location in s.nwb_locations():", "    print(location.uri)"]
    elif view == "units":
        body = ["units = s.units(label='sua')", "units.groupby('probe').size()"]
    elif view in ("raster", "unit-quality", "dff", "rois", "running"):
        args = "".join(f", {k}={v!r}" for k, v in sorted(extra.items()) if v)
        body = [f"ppdata.make_plot({view!r}, s, {f'{view}.png'!r}{args})"]
    elif view == "file":
        key = extra.get("key", session)
        head = ["import ppdata", ""]
        client = f"ppdata.S3Client({_settings_arg(endpoint_url).removeprefix(', settings=')})"
        body = [f"client = {client}", f"data = client.get_bytes({key!r})"]
    else:
        body = []
    return "\n".join([*head, *body])


def download_command(target: str, endpoint_url: str | None = None, **extra: str) -> str:
    """The ``ppdata download`` command that fetches what a view shows.

    ``extra`` may hold ``kind`` (asset kind) and ``include`` (a glob).
    """
    parts = ["ppdata", "download", shlex.quote(target)]
    if extra.get("kind"):
        parts += ["--kind", shlex.quote(extra["kind"])]
    if extra.get("include"):
        parts += ["--include", shlex.quote(extra["include"])]
    parts.append("--dry-run")
    return " ".join(parts) + _options(endpoint_url)


def plot_command(kind: str, session: str, endpoint_url: str | None = None, **extra: str) -> str:
    """The ``ppdata plot`` command that draws the same figure."""
    parts = ["ppdata", "plot", kind, shlex.quote(session), "--out", f"{kind}.png"]
    for name, value in sorted(extra.items()):
        if value:
            parts += [f"--{name}", shlex.quote(str(value))]
    return " ".join(parts) + _options(endpoint_url)
