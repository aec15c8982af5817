"""Frame selection by flux, correlation and observing conditions."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.frame_selection import robust_sigma, select_frames


@pytest.fixture
def cube(make_adi_cube):
    data = make_adi_cube(n_frames=20, size=31, noise=1.0).cube.copy()
    data[4] *= 0.5  # cloud: flux drop
    rng = np.random.default_rng(9)
    data[11] = np.median(data, axis=0)[::-1, ::-1] + rng.normal(
        size=data[11].shape
    )  # other pattern
    return data


def test_flux_and_correlation_outliers_are_named(cube):
    selection = select_frames(cube, inner_radius=2.0, outer_radius=12.0)
    assert set(selection.rejected_indices) == {4, 11}
    assert "flux_low" in selection.reasons[4]
    assert "correlation" in selection.reasons[11]
    assert selection.reasons[0] == ()
    assert selection.keep.sum() == 18


def test_conditions(cube):
    seeing = np.full(20, 0.7)
    seeing[7] = 1.6
    tau0 = np.full(20, 0.005)
    tau0[8] = 0.001
    selection = select_frames(
        cube,
        inner_radius=2.0,
        outer_radius=12.0,
        flux_sigma=None,
        correlation_sigma=None,
        seeing=seeing,
        max_seeing=1.2,
        tau0=tau0,
        min_tau0=0.002,
    )
    assert selection.reasons[7] == ("seeing",)
    assert selection.reasons[8] == ("tau0",)
    assert set(selection.rejected_indices) == {7, 8}


def test_bad_inputs(cube):
    with pytest.raises(ValueError, match="seeing"):
        select_frames(cube, inner_radius=0, outer_radius=10, seeing=[1.0, 2.0])
    with pytest.raises(ValueError, match="no seeing"):
        select_frames(cube, inner_radius=0, outer_radius=10, max_seeing=1.0)
    bad = cube.copy()
    bad[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_frames(bad, inner_radius=0, outer_radius=10)


def test_robust_sigma_of_gaussian():
    values = np.random.default_rng(0).normal(scale=2.0, size=20000)
    assert robust_sigma(values) == pytest.approx(2.0, rel=0.03)
