"""PACO maps through vip-hci."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.hci.characterization import xy_from_polar
from hcdc_kernel.hci.paco import paco_maps

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize("size", [31, 32])
def test_paco_peaks_on_the_companion(make_adi_cube, size):
    syn = make_adi_cube(
        n_frames=16, size=size, noise=2.0, speckle_amplitude=20.0, companions=[(9.0, 60.0, 800.0)]
    )
    result = paco_maps(syn.cube, syn.angles, syn.psf, fwhm=syn.fwhm)
    assert result.snr.shape == (size, size)
    snr = np.nan_to_num(result.snr)
    iy, ix = np.unravel_index(np.argmax(snr), snr.shape)
    x, y = xy_from_polar((size, size), 9.0, 60.0)
    assert np.hypot(ix - x, iy - y) <= 1.0
    # FastPACO learns the background with the companion in it, which caps its S/N here.
    assert snr[iy, ix] > 3.0
    assert snr[iy, ix] > 4.0 * np.nanstd(result.snr)


def test_paco_rejects_bad_input(make_adi_cube):
    syn = make_adi_cube(n_frames=6, size=21)
    with pytest.raises(ValueError, match="angles"):
        paco_maps(syn.cube, syn.angles[:3], syn.psf, fwhm=syn.fwhm)
