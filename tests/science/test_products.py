"""Products: round trips and categories."""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits

from hcdc_kernel.hci.contrast import contrast_curve
from hcdc_kernel.products import (
    CATEGORY_KEY,
    CompanionTable,
    ContrastCurve,
    FinalImageProduct,
    SnrMapProduct,
    read_image_product,
    software_versions,
)

from .conftest import gaussian_psf


@pytest.fixture(scope="module")
def curve():
    from .conftest import _make_adi_cube

    data = _make_adi_cube(n_frames=12, size=41, variable_speckles=3.0, seed=2)
    result = contrast_curve(
        data.cube, data.angles, 500 * gaussian_psf(17, 4.0), fwhm=4.0, pxscale=0.01225,
        algorithm="pca_full_frame", algo_params={"ncomp": 2}, nbranch=2,
    )
    return ContrastCurve.from_result(result, extra={"inputs": ["cube.fits", "psf.fits"]})


def _same_curve(a: ContrastCurve, b: ContrastCurve) -> None:
    assert a.separation_px.unit == u.pix
    assert b.separation_arcsec.unit == u.arcsec
    np.testing.assert_allclose(a.separation_px.value, b.separation_px.value)
    np.testing.assert_allclose(a.separation_arcsec.value, b.separation_arcsec.value)
    for name in ("contrast", "throughput", "noise", "sigma"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)
    assert a.sigma_level == b.sigma_level
    assert a.algorithm == b.algorithm
    assert dict(a.params) == dict(b.params)
    assert dict(a.injection) == dict(b.injection)
    assert dict(a.software) == dict(b.software)
    assert dict(a.extra) == dict(b.extra)


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_contrast_curve_round_trip(curve, tmp_path, suffix):
    path = tmp_path / f"cc{suffix}"
    if suffix == ".ecsv":
        curve.write_ecsv(path)
    else:
        curve.write_fits(path)
        assert fits.getheader(path)[CATEGORY_KEY] == "HCI_CONTRAST_CURVE"
        assert fits.getheader(path, 1)[CATEGORY_KEY] == "HCI_CONTRAST_CURVE"
    _same_curve(curve, ContrastCurve.read(path))


def test_contrast_curve_metadata(curve):
    table = curve.to_table()
    assert table["separation_arcsec"].unit == u.arcsec
    assert table.meta["algorithm"] == "pca_full_frame"
    assert table.meta["injection"]["nbranch"] == 2
    assert "numpy" in table.meta["software"]
    assert table.meta["extra"]["inputs"] == ["cube.fits", "psf.fits"]


def test_contrast_curve_plot(curve):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = curve.plot()
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), curve.separation_arcsec.value)
    plt.close(ax.figure)


@pytest.mark.parametrize("product_class", [SnrMapProduct, FinalImageProduct])
def test_image_products_round_trip(tmp_path, product_class):
    data = np.random.default_rng(0).normal(size=(21, 21))
    product = product_class.create(data, meta={"algorithm": "pca_full_frame", "params": {"ncomp": 3}})
    path = product.write(tmp_path / "image.fits")
    assert fits.getheader(path)[CATEGORY_KEY] == product_class.category
    back = read_image_product(path)
    assert type(back) is product_class
    np.testing.assert_array_equal(back.data, data)
    assert back.meta["params"] == {"ncomp": 3}
    assert back.meta["software"] == software_versions()


@pytest.mark.parametrize("suffix", ["ecsv", "fits"])
def test_companion_table_round_trip(tmp_path, suffix):
    row = {
        "x": 61.2, "y": 70.4, "sep_px": 16.5, "sep_arcsec": 0.4486, "pa_deg": 211.3,
        "flux": 420.0, "flux_err": 12.0, "contrast": 5.5e-4, "delta_mag": 8.15, "snr": 9.3,
    }
    table = CompanionTable.from_rows([row], meta={"algorithm": "negfc"})
    target = tmp_path / f"companions.{suffix}"
    path = table.write(target) if suffix == "ecsv" else table.write_fits(target)
    back = CompanionTable.read(path)
    assert len(back) == 1
    assert back.table["sep_arcsec"].unit == u.arcsec
    assert back.table["pa_deg"][0].to_value(u.deg) == pytest.approx(211.3)
    assert back.meta["algorithm"] == "negfc"


def test_reading_the_wrong_product_fails(tmp_path):
    path = SnrMapProduct.create(np.zeros((5, 5))).write(tmp_path / "snr.fits")
    with pytest.raises(ValueError, match="not a contrast curve"):
        ContrastCurve.read(path)
