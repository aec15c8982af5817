"""Fake companions and contrast curves."""

import numpy as np
import pytest

from hcdc_kernel.hci.adi import pca_full_frame
from hcdc_kernel.hci.contrast import contrast_curve, noise_per_annulus, student_sigma
from hcdc_kernel.hci.fakes import (
    companion_xy,
    inject_companions,
    normalize_psf,
    psf_aperture_flux,
)
from hcdc_kernel.hci.rotation import derotate_cube
from hcdc_kernel.hci.snr import aperture_sums

from .conftest import gaussian_psf

# vip-hci warns at import about optional bindings (OpenCV, torch) it does not need here.
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning")


def test_normalize_psf_centres_and_normalises():
    raw = 37.0 * gaussian_psf(21, 4.0, x0=0.3, y0=-0.2)
    psf = normalize_psf(raw, fwhm=4.0, size=15)
    assert psf.shape == (15, 15)
    assert psf_aperture_flux(psf, fwhm=4.0) == pytest.approx(1.0)
    yy, xx = np.mgrid[:15, :15]
    assert (psf * xx).sum() / psf.sum() == pytest.approx(7.0, abs=0.02)
    assert (psf * yy).sum() / psf.sum() == pytest.approx(7.0, abs=0.02)


def test_normalize_psf_matches_vip():
    from vip_hci.fm import normalize_psf as vip_normalize_psf

    raw = 5.0 * gaussian_psf(25, 4.0, x0=0.4, y0=0.25)
    ours = normalize_psf(raw, fwhm=4.0, size=15)
    theirs = vip_normalize_psf(raw, fwhm=4.0, size=15, verbose=False)
    np.testing.assert_allclose(ours, theirs, atol=2e-3 * theirs.max())


def test_injection_matches_vip():
    from vip_hci.fm import cube_inject_companions

    psf = normalize_psf(gaussian_psf(17, 4.0), fwhm=4.0)
    angles = np.linspace(-30, 50, 9)
    cube = np.zeros((9, 41, 41))
    ours = inject_companions(cube, psf, angles, flux=50.0, sep_px=11.3, pa_deg=20.0)
    theirs = cube_inject_companions(cube, psf, angles, 50.0, rad_dists=[11.3], theta=110.0)
    np.testing.assert_allclose(ours, theirs, atol=0.01 * theirs.max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_companions_are_recovered_at_position_and_flux(seed):
    rng = np.random.default_rng(seed)
    fwhm = 4.0
    psf = normalize_psf(gaussian_psf(21, fwhm), fwhm=fwhm)
    angles = np.sort(rng.uniform(-40, 40, 12))
    sep, pa, flux = rng.uniform(6, 16), rng.uniform(0, 360), rng.uniform(10, 200)
    cube = inject_companions(np.zeros((12, 41, 41)), psf, angles, flux=flux, sep_px=sep, pa_deg=pa)
    final = derotate_cube(cube, angles).mean(axis=0)
    x, y = companion_xy(final.shape, sep_px=sep, pa_deg=pa)
    measured = aperture_sums(final, x=x, y=y, radius=fwhm / 2)
    assert measured == pytest.approx(flux, rel=0.05)
    yy, xx = np.mgrid[:41, :41]
    box = np.hypot(xx - x, yy - y) < fwhm
    cx = (final[box] * xx[box]).sum() / final[box].sum()
    cy = (final[box] * yy[box]).sum() / final[box].sum()
    assert np.hypot(cx - x, cy - y) < 0.5


def test_noise_per_annulus_matches_vip():
    from vip_hci.metrics.contrcurve import noise_per_annulus as vip_noise

    rng = np.random.default_rng(7)
    image = rng.normal(size=(51, 51))
    ours = noise_per_annulus(image, separation=1.0, fwhm=4.0)
    noise, mean, radii = vip_noise(image, 1.0, 4.0)
    np.testing.assert_allclose(ours.separation_px, radii)
    np.testing.assert_allclose(ours.noise, noise, rtol=1e-9)
    np.testing.assert_allclose(ours.mean, mean, rtol=1e-9, atol=1e-12)


def test_student_sigma_exceeds_gaussian_and_converges():
    s = student_sigma(5.0, np.array([4.0, 8.0, 40.0, 4000.0]), 4.0)
    assert np.all(np.diff(s) < 0)
    assert s[-1] == pytest.approx(5.0, rel=2e-3)


def _planet_free(make_adi_cube):
    return make_adi_cube(n_frames=30, size=51, fwhm=4.0, variable_speckles=3.0, noise=1.0, seed=3)


def test_contrast_curve_recovers_its_own_throughput(make_adi_cube):
    data = _planet_free(make_adi_cube)
    raw_psf = 1000.0 * gaussian_psf(21, data.fwhm)
    result = contrast_curve(
        data.cube, data.angles, raw_psf, fwhm=data.fwhm, pxscale=0.01225,
        algorithm="pca_full_frame", algo_params={"ncomp": 2}, exposure_ratio=2.0,
    )
    star = 2.0 * psf_aperture_flux(raw_psf, fwhm=data.fwhm)
    assert result.star_flux == pytest.approx(star)
    assert np.all((result.throughput > 0) & (result.throughput < 1.2))
    expected = result.sigma_effective * result.noise / result.throughput / star
    inside = result.contrast < 1
    np.testing.assert_allclose(result.contrast[inside], expected[inside])
    np.testing.assert_allclose(result.separation_arcsec, result.separation_px * 0.01225)
    # A companion injected at the 5-sigma contrast is detected at S/N of order 5.
    k = np.argmin(np.abs(result.separation_px - 14))
    flux = result.contrast[k] * star
    cube = inject_companions(data.cube, normalize_psf(raw_psf, fwhm=4.0, size=13), data.angles,
                             flux=flux, sep_px=result.separation_px[k], pa_deg=30.0)
    final = pca_full_frame(cube, data.angles, ncomp=2).final
    from hcdc_kernel.hci.snr import snr_at

    x, y = companion_xy(final.shape, sep_px=result.separation_px[k], pa_deg=30.0)
    assert 2.0 < snr_at(final, x=float(x), y=float(y), fwhm=4.0).snr < 12.0


def test_contrast_curve_agrees_with_vip(make_adi_cube):
    from vip_hci.metrics import contrast_curve as vip_contrast_curve
    from vip_hci.psfsub import pca

    data = _planet_free(make_adi_cube)
    raw_psf = 1000.0 * gaussian_psf(21, data.fwhm)
    # vip-hci's contrast_curve rotates with its Fourier method: use hcdc's.
    ours = contrast_curve(
        data.cube, data.angles, raw_psf, fwhm=data.fwhm, pxscale=0.01225, starphot=1e5,
        algorithm="pca_full_frame", algo_params={"ncomp": 2, "interpolation": "fft"},
    )
    theirs = vip_contrast_curve(
        data.cube, data.angles, raw_psf, data.fwhm, 0.01225, 1e5, pca, ncomp=2, plot=False,
        verbose=False,
    )
    np.testing.assert_allclose(ours.separation_px, theirs["distance"].to_numpy())
    ratio = ours.contrast / theirs["sensitivity_student"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.10), ratio


def test_bad_contrast_inputs(make_adi_cube):
    data = make_adi_cube(n_frames=6)
    with pytest.raises(ValueError, match="unknown algorithm"):
        contrast_curve(data.cube, data.angles, data.psf, fwhm=4.0, pxscale=0.01,
                       algorithm="loci", algo_params={})
    with pytest.raises(ValueError, match="angles"):
        contrast_curve(data.cube, data.angles[:3], data.psf, fwhm=4.0, pxscale=0.01,
                       algorithm="adi_median", algo_params={})
