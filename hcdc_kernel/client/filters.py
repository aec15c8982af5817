"""Keyword filters -> the seed's ``browse_filters`` (upper-case names, JSON values).

``dc.data(obs_night_date=("2019-05-01", "2019-05-31"), data_frame_type=["IRD_DARK_RAW",
"IRD_FLAT_FIELD_RAW"], object="PDS*")`` becomes ``{"OBS_NIGHT_DATE": {"min": ..., "max": ...},
"DATA_FRAME_TYPE": [...], "OBJECT": "PDS*"}``. Names are case-insensitive; the service checks them
and answers an unknown one with a 400 naming it (raised as ``HcdcRequestError``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np
from astropy.time import Time

__all__ = ["Range", "browse_filters", "filter_value"]


class Range(tuple[Any, Any]):
    """An inclusive range ``(lo, hi)``; ``None`` leaves that end open."""

    __slots__ = ()

    def __new__(cls, lo: Any = None, hi: Any = None) -> Range:
        return super().__new__(cls, (lo, hi))


def _scalar(value: Any) -> Any:
    if isinstance(value, Time):
        return value.utc.isot
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, u.Quantity):
        if value.unit.physical_type == "angle":
            return float(value.to_value(u.deg))
        if value.unit.physical_type == "time":
            return float(value.to_value(u.s))
        return float(value.value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def filter_value(value: Any) -> Any:
    """The JSON form of one filter value.

    A list (or set, or array) means "any of"; a 2-tuple ``(lo, hi)`` (or :class:`Range`) an
    inclusive range with ``None`` for an open end; a mapping is sent as is; ``True`` turns a
    switch on. Dates and Times become ISO strings, angles degrees and durations seconds.
    """
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"a range is (lo, hi), got {len(value)} values: {value!r}")
        bounds = {"min": _scalar(value[0]), "max": _scalar(value[1])}
        return {k: v for k, v in bounds.items() if v is not None}
    if isinstance(value, Mapping):
        return {str(k): filter_value(v) for k, v in value.items()}
    if isinstance(value, list | set | frozenset | np.ndarray):
        return [_scalar(v) for v in value]
    return _scalar(value)


def browse_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """``browse_filters`` from keyword filters (names upper-cased, values converted)."""
    converted: dict[str, Any] = {}
    for name, value in filters.items():
        key = name.upper()
        if key in converted:
            raise ValueError(f"filter {key} given twice")
        converted[key] = filter_value(value)
    return converted
