"""Paranal site-monitor tables, as the ESO ambient query forms return them (``wdbo=csv``).

The forms (archive.eso.org/wdb/wdb/asm/..., e.g. ``mass_paranal``, ``meteo_paranal``,
``historical_ambient_paranal``) answer with ``#`` comment lines, one header line naming each
column with its unit in brackets (``Date time``, ``MASS-DIMM Seeing ["]``, ``MASS-DIMM Tau0
[s]``, ``Wind Speed at 30m [m/s]``, ``Relative Humidity at 30m [%]``...), then one line per
sample. Columns are recognised by name, in any order; units are converted to hcdc's (arcsec,
s, m/s, %). A column whose unit is not understood is reported and skipped; the others are kept.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from hcdc_kernel.conditions.parameters import UNITS, ConditionSource
from hcdc_kernel.conditions.parameters import ConditionParameter as P
from hcdc_kernel.conditions.series import (
    ConditionSeries,
    ReadResult,
    datetime_to_unix,
    gap_messages,
)

__all__ = ["parse_site_monitor", "read_site_monitor"]

_UNIT = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]\s*$")
_TIME_NAMES = ("date time", "date-time", "datetime", "date_time", "time", "date", "ut", "utc")
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)


@dataclass(frozen=True)
class _Kind:
    """How to recognise one parameter's column: words in its name, units with their factors."""

    parameter: P
    words: tuple[str, ...]
    units: dict[str, float]
    #: Name fragments in order of preference among several matching columns.
    prefer: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


_KINDS = (
    _Kind(
        P.SEEING,
        ("seeing", "fwhm"),
        {'"': 1.0, "arcsec": 1.0, "as": 1.0, "''": 1.0, "mas": 1e-3},
        prefer=("mass-dimm", "dimm"),
        exclude=("free atmosphere", "error", "err", "ground", "fraction"),
    ),
    _Kind(
        P.TAU0,
        ("tau0", "tau 0", "coherence time"),
        {"s": 1.0, "sec": 1.0, "ms": 1e-3},
        prefer=("mass-dimm", "dimm"),
        exclude=("error", "err"),
    ),
    _Kind(
        P.WIND_SPEED,
        ("wind speed", "windspeed"),
        {"m/s": 1.0, "ms-1": 1.0, "m s-1": 1.0, "km/h": 1 / 3.6, "kn": 0.514444, "knots": 0.514444},
        prefer=("30m", "30 m"),
        exclude=("direction", " u ", " v ", " w "),
    ),
    _Kind(P.HUMIDITY, ("humidity",), {"%": 1.0, "percent": 1.0}, prefer=("30m", "30 m")),
)


def _split_unit(column: str) -> tuple[str, str | None]:
    match = _UNIT.match(column.strip())
    if match is None:
        return column.strip(), None
    return match["name"].strip(), match["unit"].strip()


def _parse_time(text: str) -> float | None:
    value = text.strip().rstrip("Z")
    for fmt in _TIME_FORMATS:
        try:
            return datetime_to_unix(datetime.strptime(value, fmt))
        except ValueError:
            continue
    return None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _choose(kind: _Kind, header: Sequence[str]) -> list[int]:
    """Indices of the columns naming ``kind``, preferred first."""
    found = []
    for index, column in enumerate(header):
        name = f" {_split_unit(column)[0].lower()} "
        if any(w in name for w in kind.words) and not any(x in name for x in kind.exclude):
            found.append(index)

    def rank(index: int) -> int:
        name = header[index].lower()
        return next((i for i, p in enumerate(kind.prefer) if p in name), len(kind.prefer))

    return sorted(found, key=rank)


def parse_site_monitor(text: str, *, name: str = "table") -> ReadResult:
    """The series of a site-monitor table given as text; see the module for the format.
    Stretches without samples (the monitor closes for wind and humidity) are reported."""
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return ReadResult(name, (), (f"{name}: no header line and no data (only comments)",))
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = [h.strip() for h in rows[0]], rows[1:]
    messages: list[str] = []
    lowered = [_split_unit(h)[0].lower() for h in header]
    time_index = next((lowered.index(n) for n in _TIME_NAMES if n in lowered), None)
    if time_index is None:
        return ReadResult(
            name,
            (),
            (
                f"{name}: no time column (expected one of 'Date time', 'Date', 'Time'; "
                f"columns are {', '.join(header)})",
            ),
        )
    times = np.full(len(body), np.nan)
    bad_times = 0
    for row_index, row in enumerate(body):
        value = _parse_time(row[time_index]) if time_index < len(row) else None
        if value is None:
            bad_times += 1
        else:
            times[row_index] = value
    if bad_times:
        messages.append(
            f"{name}: {bad_times} row(s) with an unreadable {header[time_index]!r} skipped "
            "(expected ISO times such as 2019-05-28T03:10:00)"
        )
    series: list[ConditionSeries] = []
    for kind in _KINDS:
        for index in _choose(kind, header):
            column = header[index]
            unit = _split_unit(column)[1]
            factor = kind.units.get(unit.lower()) if unit is not None else 1.0
            if factor is None:
                messages.append(
                    f"{name}: column {column!r}: unit {unit!r} not understood for {kind.parameter} "
                    f"(known: {', '.join(kind.units)}); column skipped"
                )
                continue
            if unit is None:
                messages.append(
                    f"{name}: column {column!r} gives no unit; read as {UNITS[kind.parameter]}"
                )
            values = (
                np.array([_number(row[index]) if index < len(row) else np.nan for row in body])
                * factor
            )
            if len(body) and not np.isfinite(values).any():
                messages.append(f"{name}: column {column!r} holds no number; column skipped")
                continue
            site = ConditionSource.SITE
            series.append(ConditionSeries.build(kind.parameter, site, times, values))
            break
    if not series:
        messages.append(
            f"{name}: no seeing, tau0, wind speed or humidity column recognised "
            f"(columns are {', '.join(header)})"
        )
    return ReadResult(name, tuple(series), (*messages, *gap_messages(name, series)))


def read_site_monitor(path: Path) -> ReadResult:
    """The series of a site-monitor file; an unreadable file gives one message, no series."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return ReadResult(name, (), (f"{name}: not a text (CSV) file",))
    except OSError as exc:
        return ReadResult(name, (), (f"{name}: cannot read: {exc.strerror or exc}",))
    return parse_site_monitor(text, name=name)
