"""Statistics over exposure windows: edges inclusive, gaps never bridged, aggregates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcdc_kernel.conditions import (
    ConditionParameter,
    ConditionSeries,
    ConditionSource,
    WindowStats,
    combine,
    conditions_over,
    exposure_window,
    index_series,
    window_stats,
)
from tests.conditions.files import START


def _series(times, values, parameter=ConditionParameter.TAU0, source=ConditionSource.SPARTA):
    return ConditionSeries.build(parameter, source, times, values)


SERIES = _series([0.0, 30.0, 60.0, 90.0, 300.0, 330.0], [1.0, 2.0, 3.0, 4.0, 10.0, 11.0])


def test_samples_on_both_edges_count() -> None:
    stats = window_stats(SERIES, 30.0, 60.0)
    assert stats is not None
    assert (stats.n, stats.mean, stats.minimum, stats.maximum) == (2, 2.5, 2.0, 3.0)
    assert stats.std == pytest.approx(math.sqrt(0.5))
    assert not stats.interpolated


def test_one_sample_just_inside_each_edge() -> None:
    assert window_stats(SERIES, 29.999, 30.0).n == 1
    assert window_stats(SERIES, 60.0, 60.001).mean == 3.0
    single = window_stats(SERIES, 59.0, 61.0)
    assert single.n == 1 and single.std is None


def test_short_window_between_samples_is_interpolated() -> None:
    stats = window_stats(SERIES, 40.0, 44.0)  # middle 42: 2 + 12/30
    assert stats is not None and stats.interpolated and stats.n == 0
    assert stats.mean == pytest.approx(2.4)
    assert stats.std is None


def test_a_gap_is_never_bridged() -> None:
    assert window_stats(SERIES, 150.0, 160.0) is None  # 60 s and 140 s from the neighbours
    assert window_stats(SERIES, 150.0, 160.0, max_gap_s=200.0) is not None


def test_outside_the_series_is_unknown() -> None:
    assert window_stats(SERIES, -20.0, -10.0) is None
    assert window_stats(SERIES, 400.0, 410.0) is None
    assert window_stats(_series([], []), 0.0, 1.0) is None


def test_window_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        window_stats(SERIES, 10.0, 5.0)


def test_exposure_window_from_exptime_or_dit() -> None:
    start, end = exposure_window(START, exptime=64.0)
    assert end - start == 64.0
    assert exposure_window(START, dit=16.0, ndit=4)[1] - start == 64.0
    assert exposure_window(START)[1] == start


def test_preferred_source_wins_and_falls_back() -> None:
    sparta = _series([0.0, 30.0], [0.005, 0.005])
    site = _series([0.0, 30.0], [0.003, 0.003], source=ConditionSource.SITE)
    both = index_series([sparta, site])
    assert conditions_over(both, 0.0, 30.0)[ConditionParameter.TAU0].source == "site"
    only = index_series([sparta])
    assert conditions_over(only, 0.0, 30.0)[ConditionParameter.TAU0].stats.mean == 0.005


def test_index_merges_series_of_one_key_in_time_order() -> None:
    merged = index_series([_series([60.0, 90.0], [3.0, 4.0]), _series([0.0, 30.0], [1.0, 2.0])])
    np.testing.assert_array_equal(
        merged[(ConditionParameter.TAU0, "sparta")].times, [0, 30, 60, 90]
    )


def test_combine_is_the_mean_of_means_with_pooled_spread() -> None:
    a = WindowStats(1.0, 0.0, 2, 1.0, 1.0)
    b = WindowStats(3.0, 0.0, 2, 3.0, 3.0)
    both = combine([a, b, None])
    assert both is not None
    assert (both.mean, both.std, both.n, both.minimum, both.maximum) == (2.0, 1.0, 4, 1.0, 3.0)
    assert combine([None]) is None
