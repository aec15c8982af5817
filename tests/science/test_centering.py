"""Star centring: 2-D fits of the core or dark hole, waffle spots, recentring."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.centering import (
    diagonal_intersection,
    find_star_feature,
    fit_profile,
    fit_star_core,
    locate_star,
    recenter_cube,
    shift_frames,
    waffle_centers,
)
from tests.science.conftest import gaussian_psf


def _star_cube(positions, *, size=41, fwhm=4.0, negative=False, seed=1):
    rng = np.random.default_rng(seed)
    c = size // 2
    frames = []
    for x, y in positions:
        spot = gaussian_psf(size, fwhm, x0=x - c, y0=y - c)
        frame = 100.0 - 80.0 * spot if negative else 5.0 + 100.0 * spot
        frames.append(frame + rng.normal(scale=0.2, size=(size, size)))
    return np.array(frames)


@pytest.mark.parametrize("model", ["gaussian", "moffat"])
def test_core_fit_recovers_offsets(model):
    rng = np.random.default_rng(3)
    positions = 20 + rng.uniform(-1.5, 1.5, size=(5, 2))
    centers = fit_star_core(_star_cube(positions), fwhm=4.0, model=model)
    assert np.allclose(centers.x, positions[:, 0], atol=0.05)
    assert np.allclose(centers.y, positions[:, 1], atol=0.05)
    assert centers.method == f"core_{model}"


def test_dark_hole_fit_as_vortex_coronagraph():
    positions = [(20.7, 19.6), (19.4, 20.3)]
    centers = fit_star_core(_star_cube(positions, negative=True), fwhm=4.0, negative=True)
    assert np.allclose(np.c_[centers.x, centers.y], positions, atol=0.05)


def test_fit_profile_rejects_nan():
    frame = _star_cube([(20.0, 20.0)])[0]
    frame[20, 20] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_profile(frame, x=20, y=20, fwhm=4.0)


def test_diagonal_intersection_any_order():
    spots = np.array([[30.0, 31.0], [10.0, 9.0], [9.5, 30.5], [30.5, 9.5]])
    x, y = diagonal_intersection(spots)
    assert x == pytest.approx(20.0, abs=1e-9)
    assert y == pytest.approx(20.0, abs=1e-9)
    rng = np.random.default_rng(0)
    x2, y2 = diagonal_intersection(spots[rng.permutation(4)])
    assert (x2, y2) == pytest.approx((x, y))


def test_waffle_centre_from_four_spots():
    size, fwhm = 64, 3.5
    star = (31.3, 32.6)
    rng = np.random.default_rng(2)
    frame = rng.normal(scale=0.1, size=(size, size))
    c = size // 2
    for angle in (45, 135, 225, 315):
        theta = np.deg2rad(angle + 7.0)
        sx, sy = star[0] + 15 * np.cos(theta), star[1] + 15 * np.sin(theta)
        frame += 50.0 * gaussian_psf(size, fwhm, x0=sx - c, y0=sy - c)
    # A coronagraphic residual at the star must not be taken for a spot.
    frame += 20.0 * gaussian_psf(size, 6.0, x0=star[0] - c, y0=star[1] - c)
    centers = waffle_centers(frame, fwhm=fwhm, spot_separation=15.0)
    assert centers.x[0] == pytest.approx(star[0], abs=0.05)
    assert centers.y[0] == pytest.approx(star[1], abs=0.05)
    assert centers.spots is not None and centers.spots.shape == (1, 4, 2)


def test_recenter_moves_star_to_frame_centre():
    positions = [(21.4, 19.2), (18.7, 20.6)]
    cube = _star_cube(positions)
    centers = fit_star_core(cube, fwhm=4.0)
    recentred = recenter_cube(cube, centers)
    after = fit_star_core(recentred, fwhm=4.0)
    assert np.allclose(after.x, 20.0, atol=0.05)
    assert np.allclose(after.y, 20.0, atol=0.05)


def test_shift_frames_integer_shift_is_exact_away_from_edges():
    rng = np.random.default_rng(5)
    cube = rng.normal(size=(1, 32, 32))
    shifted = shift_frames(cube, dx=[2.0], dy=[-1.0])
    assert np.allclose(shifted[0, 5:-5, 5:-5], np.roll(cube[0], (-1, 2), axis=(0, 1))[5:-5, 5:-5])


def _vortex_cube(positions, *, size=41, fwhm=4.0, seed=2):
    """Frames of a vortex coronagraph: a bright halo with a dark hole on the star."""
    rng = np.random.default_rng(seed)
    c = size // 2
    frames = []
    for x, y in positions:
        halo = gaussian_psf(size, 3.0 * fwhm, x0=x - c, y0=y - c)
        hole = gaussian_psf(size, fwhm, x0=x - c, y0=y - c)
        frame = 500.0 * halo * (1.0 - 0.9 * hole) + 20.0
        frames.append(frame + rng.normal(scale=1.0, size=(size, size)))
    return np.array(frames)


def test_locate_star_tells_a_vortex_dark_hole_from_a_core():
    positions = np.array([(20.6, 19.7), (20.4, 19.5), (20.7, 19.8)])
    hole = locate_star(_vortex_cube(positions), fwhm=4.0)
    assert hole.method == "dark_hole_gaussian"
    assert np.allclose(np.c_[hole.x, hole.y], positions, atol=0.1)
    feature = find_star_feature(_vortex_cube(positions)[0], fwhm=4.0)
    assert feature.kind == "dark_hole" and feature.depth > 1.1
    core = locate_star(_star_cube(positions), fwhm=4.0)
    assert core.method == "core_gaussian"
    assert np.allclose(np.c_[core.x, core.y], positions, atol=0.05)
    assert hole.fallback == () and core.fallback == ()
