"""Products that describe themselves: observation, recipe, units, geometry and a preview."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS
from PIL import Image

from hcdc_kernel.products import ProductDescription
from hcdc_kernel.products.contrast_curve import ContrastCurve
from hcdc_kernel.recipes.hci import run_hci_recipe

PIXSCALE = 0.0272
OBSERVATION = {
    "INSTRUME": "NACO",
    "OBJECT": "HD 4242",
    "DATE-OBS": "2013-02-01T03:00:00.000",
    "RA": 86.82,
    "DEC": -51.07,
}


def _raw(tmp_path, syn):
    """A NACO-like cube (angles in a PARANG table) and flux frame, 0.2 s each."""
    header = fits.Header()
    for key, value in OBSERVATION.items():
        header[key] = value
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["HIERARCH ESO OBS PROG ID"] = "090.C-0424(A)"
    header["HIERARCH ESO DET DIT"] = 0.2
    header["HIERARCH HCDC PIXSCALE"] = PIXSCALE
    cube = tmp_path / "cube.fits"
    angles = fits.BinTableHDU(QTable({"PARANG": syn.angles}), name="ANGLES")
    fits.HDUList([fits.PrimaryHDU(syn.cube.astype(np.float32), header), angles]).writeto(cube)
    psf_header = header.copy()
    psf_header["HIERARCH ESO DPR TYPE"] = "OBJECT,FLUX"
    psf = tmp_path / "psf.fits"
    fits.PrimaryHDU((1000.0 * syn.psf).astype(np.float32), psf_header).writeto(psf)
    return cube, psf


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from tests.science.conftest import _make_adi_cube

    tmp_path = tmp_path_factory.mktemp("described")
    syn = _make_adi_cube(n_frames=12, size=31, noise=1.0, companions=[(9.0, 60.0, 300.0)])
    cube, psf = _raw(tmp_path, syn)
    centre = run_hci_recipe(
        "hci_star_center", inputs=[cube, psf], params={}, output_dir=tmp_path / "centre"
    )
    assert centre.ok, centre.error
    centred = {
        "SCIENCE": [centre.product("HCI_CENTERED_CUBE").path],
        "PSF": [centre.product("HCI_PSF").path],
    }
    adi = run_hci_recipe(
        "hci_adi_pca",
        inputs={"SCIENCE": centred["SCIENCE"]},
        params={"ncomp": 2},
        output_dir=tmp_path / "adi",
    )
    assert adi.ok, adi.error
    snr = run_hci_recipe(
        "hci_snr_map",
        inputs=[adi.product("HCI_FINAL_IMAGE").path],
        params={},
        output_dir=tmp_path / "snr",
    )
    assert snr.ok, snr.error
    curve = run_hci_recipe(
        "hci_contrast_curve", inputs=centred, params={"ncomp": 2}, output_dir=tmp_path / "curve"
    )
    assert curve.ok, curve.error
    return {"centre": centre, "adi": adi, "snr": snr, "curve": curve}


def test_final_image_header_describes_the_product(chain):
    header = fits.getheader(chain["adi"].product("HCI_FINAL_IMAGE").path)
    for key, value in OBSERVATION.items():
        assert header[key] == value, key
    assert header["ESO OBS PROG ID"] == "090.C-0424(A)"
    assert header["BUNIT"] == "adu"
    assert header["HCDC PRO REC1 ID"] == "hci_adi_pca"
    assert header["HCDC PRO REC1 RAW1 NAME"] == "centered_cube.fits"
    params = {
        header[f"HCDC PRO REC1 PARAM{i} NAME"]: header[f"HCDC PRO REC1 PARAM{i} VALUE"]
        for i in range(1, 20)
        if f"HCDC PRO REC1 PARAM{i} NAME" in header
    }
    assert params["ncomp"] == 2 and params["mode"] == "full"
    # The star sits on the frame centre; north up, east left, at the pixel scale.
    assert (header["HCDC STAR X"], header["HCDC STAR Y"]) == (15.0, 15.0)
    assert header["HCDC CENTRED"] is True
    wcs = WCS(header)
    star = wcs.pixel_to_world(15.0, 15.0)
    assert star.ra.deg == pytest.approx(86.82) and star.dec.deg == pytest.approx(-51.07)
    north = wcs.pixel_to_world(15.0, 25.0)
    east = wcs.pixel_to_world(5.0, 15.0)
    assert star.position_angle(north).deg == pytest.approx(0.0, abs=1e-6)
    assert star.position_angle(east).deg == pytest.approx(90.0, abs=1e-6)
    assert star.separation(north).arcsec == pytest.approx(10 * PIXSCALE, rel=1e-4)
    # The FWHM fitted on the PSF travels with the image, for the S/N map.
    assert header["HCDC FWHM"] == pytest.approx(chain["adi"].qc["fwhm_px"])
    assert chain["snr"].qc["snr_max"] > 5


def test_every_image_product_has_a_png_preview(chain):
    for name in ("centre", "adi", "snr"):
        manifest = chain[name]
        previews = {p.path for p in manifest.products if p.category == "HCI_PREVIEW"}
        images = [
            p for p in manifest.products if p.path.endswith(".fits") and fits.getdata(p.path).ndim >= 2
        ]
        assert images
        for product in images:
            header = fits.getheader(product.path)
            png = product.path.rsplit("/", 1)[0] + "/" + header["HCDC PREVIEW"]
            assert png in previews, product.path
            with Image.open(png) as image:
                assert image.format == "PNG"
                assert image.size == (header["NAXIS1"], header["NAXIS2"])
    snr_header = fits.getheader(chain["snr"].product("HCI_SNR_MAP").path)
    assert "BUNIT" in snr_header and snr_header["BUNIT"] == ""  # S/N: dimensionless


def test_every_table_column_has_a_unit(chain):
    curve_fits = chain["curve"].product("HCI_CONTRAST_CURVE").path
    ecsv = [p.path for p in chain["curve"].products if p.path.endswith(".ecsv")]
    assert ecsv
    table = QTable.read(ecsv[0], format="ascii.ecsv")
    for name in table.colnames:
        assert isinstance(table[name], u.Quantity), name
    assert table["noise"].unit == u.adu
    assert table["contrast"].unit == u.dimensionless_unscaled
    for path in (curve_fits, chain["centre"].product("HCI_STAR_CENTERS").path):
        with fits.open(path) as hdul:
            header = hdul[1].header  # TUNITn, empty for a dimensionless column
            missing = [header[f"TTYPE{i}"] for i in range(1, header["TFIELDS"] + 1)
                       if f"TUNIT{i}" not in header]
            assert not missing, path
    curve = ContrastCurve.read(curve_fits)
    assert curve.flux_unit == "adu"
    primary = fits.getheader(curve_fits)
    assert primary["OBJECT"] == OBSERVATION["OBJECT"]
    assert primary["HCDC PRO REC1 ID"] == "hci_contrast_curve"


def test_description_without_a_pointing_uses_offsets_from_the_star():
    description = ProductDescription(pixscale=0.01225, star_xy=(10.0, 12.0), north_up=True)
    header = description.cards(naxis=2)
    assert (header["CTYPE1"], header["CTYPE2"]) == ("XOFFSET", "YOFFSET")
    assert header["CDELT1"] == pytest.approx(-0.01225)  # east to the left
    assert (header["CRPIX1"], header["CRPIX2"]) == (11.0, 13.0)
    cube = ProductDescription(pixscale=0.01225, star_xy=(10.0, 12.0)).cards(naxis=3)
    assert cube["CDELT1"] == pytest.approx(0.01225)  # detector axes: not derotated
