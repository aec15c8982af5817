"""The star's flux behind every contrast: given, or from the flux frames, never guessed."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.hci.fakes import psf_aperture_flux
from hcdc_kernel.products.companions import CompanionTable
from hcdc_kernel.products.contrast_curve import ContrastCurve
from hcdc_kernel.recipes.hci import run_hci_recipe
from hcdc_kernel.recipes.hci.base import RecipeError
from hcdc_kernel.recipes.hci.photometry import exposure_of

FWHM = 4.0


def _files(tmp_path, syn, *, science_cards=None, psf_cards=None):
    """A raw cube (angles in a PARANG table) and flux frame with the given header cards."""
    header = fits.Header()
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["HIERARCH HCDC PIXSCALE"] = 0.0272
    for key, value in (science_cards or {}).items():
        header[f"HIERARCH {key}"] = value
    cube = tmp_path / "cube.fits"
    angles = fits.BinTableHDU(Table({"PARANG": syn.angles}), name="ANGLES")
    fits.HDUList([fits.PrimaryHDU(syn.cube.astype(np.float32), header), angles]).writeto(cube)
    psf_header = fits.Header()
    psf_header["HIERARCH ESO DPR TYPE"] = "OBJECT,FLUX"
    for key, value in (psf_cards or {}).items():
        psf_header[f"HIERARCH {key}"] = value
    psf = tmp_path / "psf.fits"
    fits.PrimaryHDU((200.0 * syn.psf).astype(np.float32), psf_header).writeto(psf)
    return cube, psf


@pytest.fixture
def syn(make_adi_cube):
    return make_adi_cube(n_frames=10, size=31, noise=1.0, companions=[(9.0, 60.0, 300.0)])


@pytest.mark.parametrize("recipe", ["hci_contrast_curve", "hci_companion_characterization"])
def test_contrast_recipes_refuse_without_a_star_flux(tmp_path, syn, recipe):
    """A PSF with no integration time may be normalised: dividing by it is no contrast."""
    cube, psf = _files(tmp_path, syn)
    manifest = run_hci_recipe(
        recipe,
        inputs=[cube, psf],
        params={"ncomp": 2, "fwhm": FWHM},
        output_dir=tmp_path / "out",
    )
    assert manifest.status == "error"
    assert "star flux is unknown" in manifest.error
    assert "starphot" in manifest.error
    assert manifest.products == ()


def test_star_flux_from_dit_and_neutral_density(tmp_path, syn):
    """PSF taken 0.5 s through ND_1.0, science 2 s: the star is 4 x 10 times the PSF."""
    cube, psf = _files(
        tmp_path,
        syn,
        science_cards={"ESO DET SEQ1 DIT": 2.0, "ESO INS4 FILT2 NAME": "OPEN"},
        psf_cards={"ESO DET SEQ1 DIT": 0.5, "ESO INS4 FILT2 NAME": "ND_1.0"},
    )
    manifest = run_hci_recipe(
        "hci_contrast_curve",
        inputs=[cube, psf],
        params={"ncomp": 2, "fwhm": FWHM},
        output_dir=tmp_path / "out",
    )
    assert manifest.ok, manifest.error
    expected = psf_aperture_flux(fits.getdata(psf).astype(np.float64), fwhm=FWHM) * 40.0
    assert manifest.qc["star_flux"] == pytest.approx(expected, rel=1e-9)
    assert manifest.qc["star_flux_source"] == "flux_frames"
    curve = ContrastCurve.read(manifest.product("HCI_CONTRAST_CURVE").path)
    assert curve.extra["exposure_ratio"] == pytest.approx(40.0)
    assert 0 < float(np.min(curve.contrast)) < 1


def test_exposure_from_exptime_and_ndit():
    header = fits.Header()
    header["EXPTIME"] = 12.0
    header["HIERARCH ESO DET NDIT"] = 4
    assert exposure_of(header).dit == pytest.approx(3.0)
    header["HIERARCH ESO INS OPTI3 NAME"] = "ND_Long"
    with pytest.raises(RecipeError, match="ND_Long"):
        exposure_of(header)


def test_the_starphot_parameter_is_the_star_flux(tmp_path, make_adi_cube):
    syn = make_adi_cube(n_frames=12, size=41, noise=1.0, companions=[(10.0, 60.0, 400.0)])
    cube, psf = _files(tmp_path, syn)
    manifest = run_hci_recipe(
        "hci_companion_characterization",
        inputs=[cube, psf],
        params={"ncomp": 2, "negfc_ncomp": 2, "fwhm": FWHM, "starphot": 2.0e4},
        output_dir=tmp_path / "out",
    )
    assert manifest.ok, manifest.error
    table = CompanionTable.read(manifest.product("HCI_COMPANION_TABLE").path)
    assert len(table) == 1
    row = table.table[0]
    assert row["contrast"].value == pytest.approx(row["flux"].value / 2.0e4)
    assert table.meta["star_flux_source"] == "parameter"
