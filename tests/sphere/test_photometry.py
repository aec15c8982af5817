"""Off-axis PSF and star flux of the demo flux frames against the generator's stellar flux.

The generator's ``star_flux_adu_per_s`` is the star's count rate before the detector flat.
hcdc's flat has a median of 1 in each field, so fluxes measured on flat-fielded frames are in
units of a median pixel's response: the expected flux is the true rate times the median of
the true flat in that field, times the fraction of the PSF inside the aperture (computed on a
noiseless, aberration-free PSF of the generator's optics).
"""

from __future__ import annotations

import numpy as np
import pytest
from photutils.aperture import CircularAperture, aperture_photometry

from hcdc_kernel.demo.nights import HALO_FRACTION
from hcdc_kernel.demo.optics import ChannelOptics, PupilAberrations
from hcdc_kernel.sphere import (
    exposure_off_axis_psf,
    nd_transmission,
    preprocess_exposure,
    read_exposure,
    select_background,
)
from tests.sphere.conftest import Calibrations, IrdisDemo


def flux_exposure(irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...], index: int):
    night, calib = irdis_demo.nights[index], calibrations[index]
    exposure = read_exposure(night.first("IRD_FLUX_RAW", night.truth["flux_dit_s"]))
    background = select_background(
        calib.darks, dit=exposure.dit, filter_combination=exposure.filter_combination
    )
    return preprocess_exposure(exposure, background=background, flat=calib.flat, collapse=True)


def aperture_sum(image: np.ndarray, x: float, y: float, radius: float) -> float:
    table = aperture_photometry(image, CircularAperture((x, y), r=radius), method="exact")
    return float(table["aperture_sum"][0])


def ideal_psf(size: int, field: dict) -> np.ndarray:
    none = PupilAberrations(
        fx=np.zeros(0), fy=np.zeros(0), amplitude_nm=np.zeros(0), phase=np.zeros(0)
    )
    x, y = field["star_center_px"]
    optics = ChannelOptics(
        size=size,
        wavelength_um=field["wavelength_um"],
        aberrations=none,
        star_offset_px=(x - size / 2, y - size / 2),
    )
    return optics.offaxis_psf() + optics.smooth_halo(fraction=HALO_FRACTION)


@pytest.mark.parametrize("index", [0, 1])
def test_star_flux_matches_the_true_stellar_flux(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...], index: int
) -> None:
    night = irdis_demo.nights[index]
    size = irdis_demo.size
    psf = exposure_off_axis_psf(flux_exposure(irdis_demo, calibrations, index))
    assert psf.nd_filter == night.truth["flux_nd_filter"]
    for i, (channel, field) in enumerate(zip(psf.channels, night.truth["fields"], strict=True)):
        # The generator passes the measured ND curves of each filter, as the instrument does.
        assert channel.nd_transmission == pytest.approx(field["nd_transmission"])
        true_x, true_y = field["star_center_px"]
        assert abs(channel.x - true_x) < 0.05 and abs(channel.y - true_y) < 0.05
        median_flat = float(np.median(irdis_demo.detector.flat[:, i * size : (i + 1) * size]))
        rate = field["star_flux_adu_per_s"] * median_flat
        ideal = ideal_psf(size, field)
        total = rate * aperture_sum(ideal, true_x, true_y, channel.total_radius_px)
        core = rate * aperture_sum(ideal, true_x, true_y, channel.fwhm_px / 2)
        # Measured: total within 0.8 %, 1xFWHM aperture 0.6-1.4 % low (30 nm of static
        # aberrations scatter light out of the core).
        assert channel.total_flux_adu_s == pytest.approx(total, rel=0.02)
        assert channel.aperture_flux_adu_s == pytest.approx(core, rel=0.03)
        # Jitter (0.8 px RMS) widens the diffraction core of about 1.03 lambda/D.
        assert channel.fwhm_px == pytest.approx(field["lambda_over_d_px"] * 1.07, rel=0.05)
        assert channel.psf.shape[0] % 2 == 1
        peak = np.unravel_index(int(np.argmax(channel.psf)), channel.psf.shape)
        assert peak == (channel.psf.shape[0] // 2, channel.psf.shape[1] // 2)
    np.testing.assert_allclose(
        psf.star_flux(48.0), [c.aperture_flux_adu_s * 48.0 for c in psf.channels]
    )


def test_measured_nd_curves_scale_the_flux_by_their_transmission(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    exposure = flux_exposure(irdis_demo, calibrations, 0)
    nominal = exposure_off_axis_psf(exposure, nd_model="nominal")
    measured = exposure_off_axis_psf(exposure, nd_model="measured")
    curves = nd_transmission(exposure.nd_filter, exposure.filter_combination)
    for a, b, transmission in zip(nominal.channels, measured.channels, curves, strict=True):
        assert b.aperture_flux_adu_s == pytest.approx(
            a.aperture_flux_adu_s * 0.1 / transmission, rel=1e-9
        )


def test_only_flux_exposures_give_a_psf(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night, calib = irdis_demo.nights[0], calibrations[0]
    exposure = read_exposure(night.first("IRD_STAR_CENTER_RAW", 48.0))
    centre = preprocess_exposure(exposure, background=None, flat=calib.flat, collapse=True)
    with pytest.raises(ValueError, match="not a flux exposure"):
        exposure_off_axis_psf(centre)


def test_an_annulus_outside_the_field_is_refused(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    exposure = flux_exposure(irdis_demo, calibrations, 0)
    with pytest.raises(ValueError, match="background annulus"):
        exposure_off_axis_psf(exposure, background_annulus_lambda_d=(20.0, 30.0))
