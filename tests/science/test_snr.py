"""S/N (Mawet et al. 2014): exact apertures, vip-hci parity, analytic cases."""

import numpy as np
import pytest
from scipy import stats

from hcdc_kernel.hci.snr import aperture_sums, snr_at, snr_map, student_fpf

# vip-hci warns at import about optional bindings (OpenCV, torch) it does not need here.
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning")


def test_aperture_sum_of_a_flat_image_is_the_disc_area():
    image = np.ones((40, 40))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(10, 30, 50), rng.uniform(10, 30, 50)
    for radius in (0.4, 1.0, 2.3, 5.5):
        np.testing.assert_allclose(aperture_sums(image, x=x, y=y, radius=radius), np.pi * radius**2)


def test_aperture_sums_match_photutils_exact():
    from photutils.aperture import CircularAperture, aperture_photometry

    rng = np.random.default_rng(1)
    image = rng.normal(size=(50, 50))
    x, y = rng.uniform(4, 46, 300), rng.uniform(4, 46, 300)
    ours = aperture_sums(image, x=x, y=y, radius=2.3)
    theirs = aperture_photometry(image, CircularAperture(np.c_[x, y], 2.3), method="exact")
    np.testing.assert_allclose(ours, np.asarray(theirs["aperture_sum"]), atol=1e-10)


@pytest.mark.parametrize(("shape", "fwhm", "lobes"), [((41, 41), 4.0, False), ((40, 40), 3.3, True)])
def test_snr_map_matches_vip(shape, fwhm, lobes):
    from vip_hci.metrics import snrmap

    rng = np.random.default_rng(2)
    image = rng.normal(size=shape)
    ours = snr_map(image, fwhm=fwhm, exclude_negative_lobes=lobes)
    theirs = snrmap(image, fwhm, nproc=1, verbose=False, exclude_negative_lobes=lobes)
    defined = theirs != 0
    assert defined.sum() > 100
    np.testing.assert_array_equal(ours != 0, defined)
    np.testing.assert_allclose(ours[defined], theirs[defined], rtol=1e-6, atol=1e-9)


def test_snr_at_matches_vip_snr_on_a_gaussian_source():
    from vip_hci.metrics import snr

    from .conftest import gaussian_psf

    rng = np.random.default_rng(4)
    image = rng.normal(size=(61, 61))
    image += 30 * np.roll(np.roll(gaussian_psf(61, 4.0), 14, axis=1), -6, axis=0)
    x, y = 30 + 14, 30 - 6
    ours = snr_at(image, x=x, y=y, fwhm=4.0)
    assert ours.snr == pytest.approx(snr(image, (x, y), 4.0), rel=1e-9)
    assert ours.snr > 10


def test_snr_of_a_known_source_on_a_known_background():
    # Background apertures alternate +b/-b exactly: mean 0, std known; a source of
    # known aperture flux F then has S/N = F / (std * sqrt(1 + 1/n)).
    fwhm = 4.0
    size = 61
    c = size // 2
    sep = 16.0
    image = np.zeros((size, size))
    measure = snr_at(np.ones((size, size)), x=c + sep, y=c, fwhm=fwhm)
    n_bg = measure.n_apertures
    step = 2 * np.arcsin(fwhm / 2 / sep)
    area = np.pi * (fwhm / 2) ** 2
    yy, xx = np.mgrid[:size, :size]
    values = []
    for k in range(n_bg + 1):
        ang = -k * step
        px, py = c + sep * np.cos(ang), c + sep * np.sin(ang)
        disc = np.hypot(xx - px, yy - py) < 1.2
        level = 5.0 if k == 0 else (1.0 if k % 2 else -1.0)
        image[disc] = level / disc.sum()
        values.append(level)
    flux = aperture_sums(image, x=[c + sep], y=[c], radius=fwhm / 2)[0]
    assert flux == pytest.approx(5.0)
    background = np.array(values[1:])
    expected = (5.0 - background.mean()) / (background.std(ddof=1) * np.sqrt(1 + 1 / n_bg))
    result = snr_at(image, x=c + sep, y=c, fwhm=fwhm)
    assert result.snr == pytest.approx(expected, rel=1e-9)
    assert result.fpf == pytest.approx(stats.t.sf(expected, n_bg - 1))
    assert area > 0


def test_student_fpf_decreases_with_snr():
    fpf = student_fpf(np.array([1.0, 3.0, 5.0]), 10)
    assert np.all(np.diff(fpf) < 0)


def test_too_close_to_the_star():
    with pytest.raises(ValueError, match="too close"):
        snr_at(np.ones((21, 21)), x=11.0, y=10.0, fwhm=4.0)
