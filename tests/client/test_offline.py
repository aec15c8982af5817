"""Client pieces that need no server: filters, tables, products."""

from __future__ import annotations

import datetime as dt

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.client.filters import Range, browse_filters
from hcdc_kernel.client.products import ContrastCurveProduct, load_product
from hcdc_kernel.client.tables import items_table
from hcdc_kernel.products import ContrastCurve


def test_browse_filters_convert_names_and_values():
    filters = browse_filters(
        {
            "obs_night_date": (dt.date(2019, 5, 1), None),
            "Coord_Ra": Range(1 * u.arcmin, 2 * u.deg),
            "data_frame_type": ["A", "B"],
            "observation_date": Time("2020-03-20T04:14:09", scale="utc"),
            "exp_time": np.float32(2.0),
            "filter_process_need_validation": True,
        }
    )
    assert filters == {
        "OBS_NIGHT_DATE": {"min": "2019-05-01"},
        "COORD_RA": {"min": pytest.approx(1 / 60), "max": 2.0},
        "DATA_FRAME_TYPE": ["A", "B"],
        "OBSERVATION_DATE": "2020-03-20T04:14:09.000",
        "EXP_TIME": 2.0,
        "FILTER_PROCESS_NEED_VALIDATION": True,
    }
    with pytest.raises(ValueError, match="twice"):
        browse_filters({"object": "a", "OBJECT": "b"})


def test_items_table_masks_missing_values():
    table = items_table(
        [
            {"id": 2, "coord_ra": None, "observation_date": None, "raw": True},
            {"id": 1, "coord_ra": 10.5, "observation_date": "2020-01-01T00:00:00", "raw": False},
        ],
        first=("id", "raw"),
    )
    assert table.colnames == ["id", "raw", "coord_ra", "observation_date"]
    assert table["coord_ra"].mask.tolist() == [True, False]
    assert table["observation_date"].mask.tolist() == [True, False]
    assert table["observation_date"][1].isot == "2020-01-01T00:00:00.000"
    assert items_table([], first=("id",)).colnames == ["id"]


def test_products_load_by_category(tmp_path):
    curve = ContrastCurve(
        separation_px=np.array([5.0, 10.0]) * u.pix,
        separation_arcsec=np.array([0.1, 0.2]) * u.arcsec,
        contrast=np.array([1e-3, 1e-4]),
        throughput=np.array([0.5, 0.7]),
        noise=np.array([1.0, 0.5]),
        sigma=np.array([5.0, 5.0]),
        sigma_level=5.0,
        algorithm="pca",
    )
    loaded = load_product(curve.write_fits(tmp_path / "cc.fits"))
    assert isinstance(loaded, ContrastCurveProduct)
    assert list(loaded.table["contrast"]) == [1e-3, 1e-4]
    image = tmp_path / "img.fits"
    fits.PrimaryHDU(np.ones((3, 3))).writeto(image)
    assert load_product(image).data.shape == (3, 3)


def test_companion_tables_load_from_fits_and_ecsv(tmp_path):
    from hcdc_kernel.products import CompanionTable

    row = {
        "x": 61.2, "y": 70.4, "sep_px": 16.6, "sep_arcsec": 0.452, "pa_deg": 314.9,
        "flux": 660.0, "flux_err": 32.0, "contrast": 5.5e-4, "delta_mag": 8.15, "snr": 11.0,
    }  # fmt: skip
    table = CompanionTable.from_rows([row], meta={"algorithm": "negfc"})
    for path in (table.write(tmp_path / "c.ecsv"), table.write_fits(tmp_path / "c.fits")):
        loaded = load_product(path)
        assert isinstance(loaded, CompanionTable), path
        assert loaded.table["pa_deg"][0].to_value(u.deg) == 314.9
        assert loaded.meta["algorithm"] == "negfc"
