"""Validation on the real NACO beta Pictoris sequence (skipped without ../shared).

Chain: dark-hole centring -> PCA -> S/N map -> detection -> NEGFC. beta Pic b
must come out at S/N >= 5 near 0.45", alone above 5 sigma, and its NEGFC
separation and flux must agree with vip-hci's ``firstguess`` on the same cube.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.hci.adi import pca_full_frame
from hcdc_kernel.hci.centering import fit_star_core, recenter_cube
from hcdc_kernel.hci.characterization import detect_sources, negfc
from hcdc_kernel.hci.fakes import normalize_psf
from hcdc_kernel.hci.snr import snr_map
from hcdc_kernel.products.companions import CompanionTable
from hcdc_kernel.recipes.hci import run_hci_recipe

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.filterwarnings("ignore::ImportWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning:vip_hci.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:vip_hci.*"),
]

NCOMP = 20
NEGFC_NCOMP = 5
#: beta Pic's flux in a 1xFWHM aperture in the cube's units: VIP's published ``starphot`` for
#: this sequence (the non-coronagraphic PSF before normalisation, rescaled to the science
#: integration time; Absil et al. 2013, A&A 559, L12).
BETAPIC_STARPHOT = 764939.6


@pytest.fixture(scope="module")
def chain(naco_betapic):
    data = naco_betapic
    centers = fit_star_core(data.cube, fwhm=data.fwhm, xy=(51, 51), box=7, negative=True)
    cube = recenter_cube(data.cube, centers)
    final = pca_full_frame(cube, data.angles, ncomp=NCOMP, mask_center_px=data.fwhm).final
    snr = snr_map(final, fwhm=data.fwhm)
    detections = detect_sources(snr, fwhm=data.fwhm, threshold=5.0, min_separation_px=2 * data.fwhm)
    psf = normalize_psf(data.psf, fwhm=data.fwhm, size=19)
    return data, cube, detections, psf


def test_beta_pic_b_is_the_only_source_above_5_sigma(chain):
    data, _, detections, _ = chain
    assert len(detections) == 1
    planet = detections[0]
    assert planet.snr >= 5.0
    assert planet.sep_px * data.pxscale == pytest.approx(0.45, abs=0.05)


def test_negfc_of_beta_pic_b(chain):
    data, cube, detections, psf = chain
    fit = negfc(
        cube,
        data.angles,
        psf,
        x=detections[0].x,
        y=detections[0].y,
        fwhm=data.fwhm,
        ncomp=NEGFC_NCOMP,
    )
    assert fit.sep_px * data.pxscale == pytest.approx(0.45, abs=0.03)
    assert fit.snr > 5
    assert 0 < fit.flux_err < 0.2 * fit.flux


@pytest.mark.slow
def test_negfc_agrees_with_vip_firstguess(chain):
    from vip_hci.fm import firstguess

    data, cube, detections, psf = chain
    planet = detections[0]
    fit = negfc(cube, data.angles, psf, x=planet.x, y=planet.y, fwhm=data.fwhm, ncomp=NEGFC_NCOMP)
    r, theta, flux = firstguess(
        cube,
        data.angles,
        psf,
        planets_xy_coord=np.array([[planet.x, planet.y]]),
        ncomp=NEGFC_NCOMP,
        fwhm=data.fwhm,
        annulus_width=4 * data.fwhm,
        aperture_radius=2,
        imlib="skimage",
        interpolation="biquintic",
        f_range=np.geomspace(100, 3000, 8),
        simplex_options={"xatol": 1e-2, "fatol": 1e-3, "maxiter": 300, "maxfev": 600},
        verbose=False,
        plot=False,
    )
    assert abs(fit.sep_px - float(r[0])) <= max(fit.sep_err, 0.05)
    pa_vip = (float(theta[0]) - 90.0) % 360.0
    assert abs((fit.pa_deg - pa_vip + 180.0) % 360.0 - 180.0) <= max(fit.pa_err, 0.2)
    assert abs(fit.flux - float(flux[0])) <= fit.flux_err


def test_recipe_chain_on_beta_pic(tmp_path, naco_betapic):
    """The recipes on header-carrying copies of the header-less NACO files."""
    data = naco_betapic
    header = fits.Header()
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["OBJECT"] = "beta Pic"
    header["HIERARCH HCDC PIXSCALE"] = data.pxscale
    cube_path = tmp_path / "betapic_cube.fits"
    angles = fits.BinTableHDU(Table({"PARANG": data.angles}), name="ANGLES")
    fits.HDUList(
        [fits.PrimaryHDU(data=data.cube.astype(np.float32), header=header), angles]
    ).writeto(cube_path)
    psf_header = fits.Header()
    psf_header["HIERARCH ESO DPR TYPE"] = "OBJECT,FLUX"
    psf_path = tmp_path / "betapic_psf.fits"
    fits.PrimaryHDU(data=data.psf.astype(np.float32), header=psf_header).writeto(psf_path)

    centre = run_hci_recipe(
        "hci_star_center",
        inputs=[cube_path, psf_path],
        params={"method": "dark_hole", "fwhm": data.fwhm, "x": 51, "y": 51, "box": 7},
        output_dir=tmp_path / "center",
    )
    assert centre.status == "ok", centre.error
    char = run_hci_recipe(
        "hci_companion_characterization",
        inputs=[centre.product("HCI_CENTERED_CUBE").path, centre.product("HCI_PSF").path],
        params={
            "mode": "full",
            "ncomp": NCOMP,
            "mask_center_px": data.fwhm,
            "fwhm": data.fwhm,
            "negfc_ncomp": NEGFC_NCOMP,
            "starphot": BETAPIC_STARPHOT,
        },
        output_dir=tmp_path / "char",
    )
    assert char.status == "ok", char.error
    table = CompanionTable.read(char.product("HCI_COMPANION_TABLE").path).table
    assert len(table) == 1
    assert table["sep_arcsec"][0].value == pytest.approx(0.45, abs=0.03)
    assert table["snr"][0].value >= 5
    # The distributed PSF is normalised: the star's flux is the observers' photometry.
    assert table.meta["star_flux"] == BETAPIC_STARPHOT
    assert table["contrast"][0].value == pytest.approx(table["flux"][0].value / BETAPIC_STARPHOT)
    assert table["delta_mag"][0].value == pytest.approx(7.8, abs=0.4)


def test_star_center_defaults_on_the_naco_agpm_cube(tmp_path, naco_betapic):
    """With no parameter, centring finds the AGPM dark hole, as the tuned fit does."""
    from hcdc_kernel.demo.naco import write_naco_betapic

    cube, psf, angles = write_naco_betapic(naco_betapic.directory.parents[1], tmp_path)
    centre = run_hci_recipe(
        "hci_star_center",
        inputs={"SCIENCE": [cube], "ANGLES": [angles], "PSF": [psf]},
        params={},
        output_dir=tmp_path / "center",
    )
    assert centre.status == "ok", centre.error
    tuned = fit_star_core(naco_betapic.cube, fwhm=4.6, xy=(51, 51), box=7, negative=True)
    table = Table.read(centre.product("HCI_STAR_CENTERS").path, hdu=1)
    # The same dark hole in every frame; where the fit surface is flat (a frame or two, and
    # which ones depends on the CPU's floating-point paths) the optimum moves by a tenth of a
    # pixel, so: within 0.05 px for 95% of the frames, a quarter pixel for all.
    for found, expected in ((table["x"], tuned.x), (table["y"], tuned.y)):
        offset = np.abs(np.asarray(found) - expected)
        assert np.mean(offset <= 0.05) >= 0.95 and offset.max() <= 0.25, offset
    assert centre.qc["rms_center_x"] < 0.15 and centre.qc["n_fallback"] == 0
    assert centre.qc["fwhm_px"] == pytest.approx(4.6, abs=0.15)
