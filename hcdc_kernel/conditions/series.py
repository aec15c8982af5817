"""Time series of conditions and what reading a file made of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.conditions.parameters import ConditionParameter, ConditionSource

__all__ = [
    "ConditionSeries",
    "ReadResult",
    "datetime_to_unix",
    "gap_messages",
    "unix_to_datetime",
]

#: A stretch without samples longer than this is reported as a gap (the longest distance a
#: frame's value may be interpolated over, :data:`hcdc_kernel.conditions.DEFAULT_MAX_GAP_S`).
GAP_S = 120.0


@dataclass(frozen=True, eq=False)
class ConditionSeries:
    """One parameter from one source: sample times (unix seconds, UTC) and values.

    Samples are sorted by time; non-finite values are dropped on construction (a gap in the
    series is simply a stretch of time without samples).
    """

    parameter: ConditionParameter
    source: ConditionSource
    times: NDArray[np.float64]
    values: NDArray[np.float64]

    @classmethod
    def build(
        cls,
        parameter: ConditionParameter,
        source: ConditionSource,
        times: ArrayLike,
        values: ArrayLike,
    ) -> ConditionSeries:
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if t.shape != v.shape:
            raise ValueError(f"{parameter}: {t.size} times for {v.size} values")
        good = np.isfinite(t) & np.isfinite(v)
        order = np.argsort(t[good], kind="stable")
        return cls(parameter, source, t[good][order], v[good][order])

    def __len__(self) -> int:
        return int(self.times.size)


@dataclass(frozen=True)
class ReadResult:
    """The series read from one file and, per problem met, a message naming it.

    A file with problems still gives what it holds (partial data kept): the caller stores the
    series and reports the messages.
    """

    name: str
    series: tuple[ConditionSeries, ...] = ()
    messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_samples(self) -> int:
        return sum(len(s) for s in self.series)


def datetime_to_unix(when: datetime) -> float:
    """Unix seconds of a UTC datetime (naive datetimes are UTC, as hcdc stores them)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def unix_to_datetime(seconds: float) -> datetime:
    """Naive UTC datetime of unix seconds (the database's convention)."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def gap_messages(
    name: str, series: Sequence[ConditionSeries], *, gap_s: float = GAP_S
) -> list[str]:
    """One message per set of parameters sharing the same gaps (frames there get no value)."""
    by_gaps: dict[tuple[tuple[float, float], ...], list[str]] = {}
    for item in series:
        steps = np.diff(item.times)
        holes = tuple(
            (float(item.times[i]), float(item.times[i + 1])) for i in np.flatnonzero(steps > gap_s)
        )
        if holes:
            by_gaps.setdefault(holes, []).append(item.parameter.value)
    messages = []
    for holes, parameters in by_gaps.items():
        shown = ", ".join(
            f"{unix_to_datetime(a):%H:%M:%S} to {unix_to_datetime(b):%H:%M:%S} ({b - a:.0f} s)"
            for a, b in holes[:3]
        )
        more = f" and {len(holes) - 3} more" if len(holes) > 3 else ""
        messages.append(
            f"{name}: {len(holes)} gap(s) longer than {gap_s:.0f} s in "
            f"{', '.join(parameters)}: {shown}{more} (no value for frames inside)"
        )
    return messages
