"""Conditions over an exposure window, and over a set of frames.

A frame's window runs from its start (``DATE-OBS``) for its exposure (``EXPTIME``, else DIT ×
NDIT). The samples inside the window, bounds included, give the mean, the spread (standard
deviation) and the count. Telemetry is sampled more coarsely than short exposures, so a window
holding no sample is not left empty when the series covers it: the value is then interpolated
linearly at the window's middle from the samples on either side, provided neither is farther
than ``max_gap_s`` from the window (a longer gap in the series means the value is unknown,
never invented). Such a value is marked ``interpolated`` with no spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hcdc_kernel.conditions.series import GAP_S, ConditionSeries

__all__ = ["DEFAULT_MAX_GAP_S", "WindowStats", "combine", "window_stats"]

#: Longest distance (s) from a window to the samples an interpolation may use (what the readers
#: report as a gap).
DEFAULT_MAX_GAP_S = GAP_S


@dataclass(frozen=True)
class WindowStats:
    """A parameter over a window: mean, spread (std, None for one value), count, extremes."""

    mean: float
    std: float | None
    n: int
    minimum: float
    maximum: float
    interpolated: bool = False


def window_stats(
    series: ConditionSeries,
    start: float,
    end: float,
    *,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> WindowStats | None:
    """Statistics of ``series`` over ``[start, end]`` (unix seconds); None when unknown."""
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    times, values = series.times, series.values
    if times.size == 0:
        return None
    first = int(np.searchsorted(times, start, side="left"))
    last = int(np.searchsorted(times, end, side="right"))
    inside = values[first:last]
    if inside.size:
        std = float(np.std(inside, ddof=1)) if inside.size > 1 else None
        return WindowStats(
            float(np.mean(inside)), std, int(inside.size), float(inside.min()), float(inside.max())
        )
    # No sample inside: interpolate between the neighbours when both are close enough.
    if first == 0 or first >= times.size:
        return None
    before, after = first - 1, first
    if start - times[before] > max_gap_s or times[after] - end > max_gap_s:
        return None
    middle = 0.5 * (start + end)
    value = float(np.interp(middle, times[before : after + 1], values[before : after + 1]))
    return WindowStats(value, None, 0, value, value, interpolated=True)


def combine(stats: Sequence[WindowStats | None]) -> WindowStats | None:
    """The conditions of a set of frames from each frame's: the mean of the frames' means and
    the pooled spread (within and between frames), so that a process's value is the average
    of its inputs' values, whatever their sampling."""
    known = [s for s in stats if s is not None]
    if not known:
        return None
    means = np.array([s.mean for s in known])
    mean = float(means.mean())
    variances = [(s.std or 0.0) ** 2 + (s.mean - mean) ** 2 for s in known]
    spread = math.sqrt(float(np.mean(variances))) if len(known) > 1 or known[0].std else None
    return WindowStats(
        mean,
        spread,
        sum(s.n for s in known),
        min(s.minimum for s in known),
        max(s.maximum for s in known),
        interpolated=all(s.interpolated for s in known),
    )
