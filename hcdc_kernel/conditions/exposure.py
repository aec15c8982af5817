"""A frame's exposure window and the conditions over it, one value per parameter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hcdc_kernel.conditions.parameters import PREFERRED_SOURCES, ConditionParameter, ConditionSource
from hcdc_kernel.conditions.series import ConditionSeries, datetime_to_unix
from hcdc_kernel.conditions.windows import DEFAULT_MAX_GAP_S, WindowStats, window_stats

__all__ = [
    "FrameCondition",
    "conditions_over",
    "exposure_window",
    "index_series",
    "values_per_frame",
]

SeriesKey = tuple[ConditionParameter, ConditionSource]
SeriesIndex = Mapping[SeriesKey, ConditionSeries]


@dataclass(frozen=True)
class FrameCondition:
    """One parameter of a frame: its statistics and the source they come from."""

    parameter: ConditionParameter
    source: ConditionSource
    stats: WindowStats


def exposure_window(
    date_obs: datetime,
    *,
    exptime: float | None = None,
    dit: float | None = None,
    ndit: int | None = None,
) -> tuple[float, float]:
    """Start and end (unix s) of an exposure: ``EXPTIME``, else DIT × NDIT, else an instant."""
    start = datetime_to_unix(date_obs)
    duration = exptime if exptime is not None and exptime > 0 else None
    if duration is None and dit is not None and dit > 0:
        duration = dit * (ndit if ndit is not None and ndit > 0 else 1)
    return start, start + (duration or 0.0)


def index_series(series: Iterable[ConditionSeries]) -> dict[SeriesKey, ConditionSeries]:
    """Series by (parameter, source); several series of one key are merged in time order."""
    grouped: dict[SeriesKey, list[ConditionSeries]] = {}
    for item in series:
        grouped.setdefault((item.parameter, item.source), []).append(item)
    merged = {}
    for key, items in grouped.items():
        if len(items) == 1:
            merged[key] = items[0]
            continue
        merged[key] = ConditionSeries.build(
            key[0],
            key[1],
            np.concatenate([i.times for i in items]),
            np.concatenate([i.values for i in items]),
        )
    return merged


def conditions_over(
    series: SeriesIndex,
    start: float,
    end: float,
    *,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> dict[ConditionParameter, FrameCondition]:
    """Each parameter's statistics over ``[start, end]`` from its preferred source that knows it
    (:data:`~hcdc_kernel.conditions.parameters.PREFERRED_SOURCES`)."""
    found: dict[ConditionParameter, FrameCondition] = {}
    for parameter, sources in PREFERRED_SOURCES.items():
        for source in sources:
            item = series.get((parameter, source))
            if item is None:
                continue
            stats = window_stats(item, start, end, max_gap_s=max_gap_s)
            if stats is not None:
                found[parameter] = FrameCondition(parameter, source, stats)
                break
    return found


def values_per_frame(
    series: SeriesIndex,
    starts: NDArray[np.float64],
    ends: NDArray[np.float64],
    *,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> dict[ConditionParameter, NDArray[np.float64]]:
    """Each parameter's mean over each frame's window (NaN where unknown), for the parameters
    known in at least one frame."""
    n = int(np.asarray(starts).size)
    values: dict[ConditionParameter, NDArray[np.float64]] = {}
    for index in range(n):
        found = conditions_over(
            series, float(starts[index]), float(ends[index]), max_gap_s=max_gap_s
        )
        for parameter, item in found.items():
            values.setdefault(parameter, np.full(n, np.nan))[index] = item.stats.mean
    return values
