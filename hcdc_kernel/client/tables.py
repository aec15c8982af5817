"""Browse items (JSON objects) -> astropy Tables with units and Time columns.

The columns of the seed's Data Browse and Process Browse tables come first, in the seed's order;
every other item key follows in the order the service sends. Missing values are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table
from astropy.time import Time

__all__ = [
    "COLUMN_UNITS",
    "DATA_COLUMNS",
    "PROCESS_COLUMNS",
    "TIME_COLUMNS",
    "items_table",
]

#: The seed's Data Browse columns (item keys), in its order.
DATA_COLUMNS: tuple[str, ...] = (
    "id",
    "file_name",
    "size",
    "data_frame_type",
    "observation_date",
    "coord_ra",
    "coord_dec",
    "instrument_filter",
    "exp_time",
    "prog_id",
    "data_category",
    "raw",
    "standard",
    "data_status",
    "obs_night_date",
    "object",
    "instrument",
)

#: The seed's Process Browse columns (item keys), in its order.
PROCESS_COLUMNS: tuple[str, ...] = (
    "id",
    "batch_id",
    "process_date",
    "obs_night_date",
    "recipe_name",
    "pipeline_version",
    "user",
    "prog_id",
    "reference",
    "progress",
    "process_status",
    "process_validation_status",
)

#: Units of the item keys that carry one.
COLUMN_UNITS: Mapping[str, u.UnitBase] = {
    "coord_ra": u.deg,
    "coord_dec": u.deg,
    "ra": u.deg,
    "dec": u.deg,
    "exp_time": u.s,
    "exptime": u.s,
    "dit": u.s,
    "tau0": u.s,
    "seeing": u.arcsec,
    "wind_speed": u.m / u.s,
    "size": u.byte,
    "estimated_duration_s": u.s,
    "duration_s": u.s,
    "star_parallax": u.mas,
    "star_mag_g": u.mag,
    "star_mag_h": u.mag,
    "star_mag_k": u.mag,
    "progress": u.percent,
}

#: Item keys holding instants (ISO date-times, UTC): these become astropy Time columns. Night
#: dates (``obs_night_date``) stay strings: they name a night, not an instant.
TIME_COLUMNS: frozenset[str] = frozenset(
    {
        "observation_date",
        "process_date",
        "started_at",
        "ended_at",
        "created_at",
        "ingested_at",
        "date_obs",
        "obs_date",
        "start",
        "end",
    }
)


def _column(name: str, values: Sequence[Any]) -> MaskedColumn | Time:
    mask = np.array([v is None for v in values], dtype=bool)
    present = [v for v in values if v is not None]
    if name in TIME_COLUMNS and present and all(isinstance(v, str) for v in present):
        filler = present[0]
        times = Time([filler if v is None else v for v in values], format="isot", scale="utc")
        if mask.any():
            times[mask] = np.ma.masked
        return times
    if not present:
        return MaskedColumn(np.zeros(len(values)), name=name, mask=mask)
    if all(isinstance(v, bool) for v in present):
        data: Any = [bool(v) if v is not None else False for v in values]
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        data = [v if v is not None else 0 for v in values]
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        data = [float(v) if v is not None else np.nan for v in values]
    elif all(isinstance(v, str) for v in present):
        data = [v if v is not None else "" for v in values]
    else:
        data = np.empty(len(values), dtype=object)
        data[:] = list(values)
    return MaskedColumn(data, name=name, mask=mask, unit=COLUMN_UNITS.get(name))


def items_table(
    items: Iterable[Mapping[str, Any]],
    *,
    first: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> Table:
    """A Table of ``items``: the keys of ``first`` (where present), then the others.

    Parameters
    ----------
    items : iterable of mapping
        Browse items (``{"id": 1, "coord_ra": 86.8, ...}``).
    first : sequence of str
        Keys to put first, in this order (e.g. :data:`DATA_COLUMNS`).
    meta : mapping
        Stored as the table's ``meta`` (the filters of the query, for example).
    """
    rows = list(items)
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    ordered = [k for k in first if k in keys] + [k for k in keys if k not in first]
    if not rows:
        ordered = list(first)
    table = Table(meta=dict(meta or {}))
    for key in ordered:
        table[key] = _column(key, [row.get(key) for row in rows])
    return table
