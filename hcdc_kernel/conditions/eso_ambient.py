"""ESO's ambient-conditions archive: the site monitor's query form, asked for CSV.

The form (``archive.eso.org/wdb/wdb/asm/<table>/query``) takes a time range as
``start_date=<from>..<to>`` and ``wdbo=csv`` for a CSV answer, the format
:func:`~hcdc_kernel.conditions.site_monitor.parse_site_monitor` reads (the same as a file saved
from the form, imported with ``hcdc conditions import`` where the site has no network).
"""

from __future__ import annotations

from datetime import datetime

import httpx

__all__ = ["DEFAULT_AMBIENT_URL", "AmbientUnreachableError", "fetch_ambient", "query_params"]

#: Paranal's MASS-DIMM (seeing, tau0) query form.
DEFAULT_AMBIENT_URL = "https://archive.eso.org/wdb/wdb/asm/mass_paranal/query"


class AmbientUnreachableError(RuntimeError):
    """The archive could not be asked (offline site, server down): import files instead."""


def query_params(start: datetime, end: datetime) -> dict[str, str]:
    """The form's parameters for ``[start, end]`` (UTC) with a CSV answer."""
    return {
        "wdbo": "csv",
        "start_date": f"{start:%Y-%m-%dT%H:%M:%S}..{end:%Y-%m-%dT%H:%M:%S}",
        "tab_fwhm": "1",
        "tab_tau": "1",
    }


def fetch_ambient(url: str, start: datetime, end: datetime, *, timeout_s: float = 10.0) -> str:
    """The archive's CSV answer for ``[start, end]``; :class:`AmbientUnreachableError` when it
    cannot be reached or answers with an error."""
    try:
        reply = httpx.get(url, params=query_params(start, end), timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise AmbientUnreachableError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    if reply.status_code != 200:
        raise AmbientUnreachableError(f"{url}: HTTP {reply.status_code}")
    return reply.text
