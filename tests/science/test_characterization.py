"""Detection in S/N maps and NEGFC characterisation on synthetic ADI cubes."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.adi import pca_full_frame
from hcdc_kernel.hci.characterization import (
    detect_sources,
    negfc,
    polar_from_xy,
    xy_from_polar,
)
from hcdc_kernel.hci.snr import snr_map


def test_polar_round_trip():
    for shape in [(41, 41), (40, 40)]:
        x, y = xy_from_polar(shape, 12.3, 217.0)
        assert polar_from_xy(shape, x, y) == pytest.approx((12.3, 217.0))
    # North up, east left: PA 90 is to the left of the star.
    x, y = xy_from_polar((41, 41), 10.0, 90.0)
    assert (x, y) == pytest.approx((10.0, 20.0))


def test_detection_one_per_source():
    image = np.zeros((41, 41))
    image[30, 20] = 9.0
    image[30, 21] = 8.5  # same source
    image[10, 12] = 6.0
    image[10, 33] = 4.0  # below threshold
    found = detect_sources(image, fwhm=4.0, threshold=5.0)
    assert [(d.x, d.y) for d in found] == [(20, 30), (12, 10)]
    assert found[0].snr == pytest.approx(9.0)


def test_no_detection_in_noise(make_adi_cube):
    syn = make_adi_cube(n_frames=24, size=41, noise=1.0)
    final = pca_full_frame(syn.cube, syn.angles, ncomp=3).final
    assert detect_sources(snr_map(final, fwhm=syn.fwhm), fwhm=syn.fwhm, threshold=5.0) == ()


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_negfc_recovers_random_companions(make_adi_cube, seed):
    rng = np.random.default_rng(seed)
    sep = float(rng.uniform(8.0, 14.0))
    pa = float(rng.uniform(0.0, 360.0))
    flux = float(rng.uniform(100.0, 400.0))
    syn = make_adi_cube(n_frames=24, size=41, noise=1.0, companions=[(sep, pa, flux)], seed=seed)
    x_true, y_true = xy_from_polar((41, 41), sep, pa)
    # First guess: a pixel next to the true position, as an S/N-map peak would give.
    x0 = round(x_true + rng.uniform(-0.7, 0.7))
    y0 = round(y_true + rng.uniform(-0.7, 0.7))
    result = negfc(syn.cube, syn.angles, syn.psf, x=x0, y=y0, fwhm=syn.fwhm, ncomp=3)
    assert np.hypot(result.x - x_true, result.y - y_true) < 0.5
    assert result.flux == pytest.approx(flux, rel=0.15)
    assert 0 < result.flux_err < 0.5 * flux
    assert 0 < result.sep_err < 1.0
    assert result.snr > 5


def test_negfc_injection_uncertainties(make_adi_cube):
    syn = make_adi_cube(n_frames=16, size=33, noise=2.0, companions=[(10.0, 130.0, 120.0)])
    x, y = xy_from_polar((33, 33), 10.0, 130.0)
    result = negfc(
        syn.cube,
        syn.angles,
        syn.psf,
        x=round(x),
        y=round(y),
        fwhm=syn.fwhm,
        ncomp=2,
        uncertainty="injection",
        n_injections=4,
    )
    assert result.uncertainty == "injection"
    assert np.isfinite([result.sep_err, result.pa_err, result.flux_err]).all()
    assert abs(result.flux - 120.0) < 3 * result.flux_err + 0.15 * 120.0


def test_negfc_bad_inputs(make_adi_cube):
    syn = make_adi_cube(n_frames=8, size=31)
    with pytest.raises(ValueError, match="angles"):
        negfc(syn.cube, syn.angles[:-1], syn.psf, x=20, y=20, fwhm=4.0)
    with pytest.raises(ValueError, match="closer"):
        negfc(syn.cube, syn.angles, syn.psf, x=15, y=16, fwhm=4.0)


def test_merge_sources_keeps_the_brightest_of_close_sources():
    from hcdc_kernel.hci.characterization import merge_sources

    kept = merge_sources(
        [61.77, 61.74, 40.2], [61.72, 61.79, 52.8], [8.6, 8.8, 5.7], min_distance=4.6
    )
    assert kept == (1, 2)
    assert merge_sources([], [], [], min_distance=4.0) == ()
