"""Star centre from waffle spots against the demo generator's true star positions."""

from __future__ import annotations

import numpy as np
import pytest

from hcdc_kernel.sphere import (
    exposure_star_centres,
    preprocess_exposure,
    read_exposure,
    recentre_fields,
    select_background,
    waffle_star_centres,
)
from tests.sphere.conftest import Calibrations, IrdisDemo


def centre_exposure(irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...], index: int):
    night, calib = irdis_demo.nights[index], calibrations[index]
    exposure = read_exposure(night.first("IRD_STAR_CENTER_RAW", night.truth["science_dit_s"]))
    background = select_background(
        calib.darks, dit=exposure.dit, filter_combination=exposure.filter_combination
    )
    return preprocess_exposure(exposure, background=background, flat=calib.flat, collapse=True)


@pytest.mark.parametrize("index", [0, 1])
def test_waffle_centre_matches_the_true_star_position(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...], index: int
) -> None:
    night = irdis_demo.nights[index]
    centres = exposure_star_centres(
        centre_exposure(irdis_demo, calibrations, index),
        spot_separation_lambda_d=night.truth["waffle_separation_lambda_d"],
    )
    for channel, field in zip(centres.channels, night.truth["fields"], strict=True):
        true_x, true_y = field["star_center_px"]
        # Measured: within 0.05 px in both nights and fields.
        assert abs(channel.x - true_x) < 0.1
        assert abs(channel.y - true_y) < 0.1
        lod = field["lambda_over_d_px"]
        assert channel.separation_px == pytest.approx(10.0 * lod, rel=0.02)
        assert channel.residual_px < 0.4
        assert channel.fwhm_px == pytest.approx(lod, rel=0.25)
    assert centres.path is not None and centres.xy.shape == (2, 2)


def test_recentred_fields_put_the_star_on_the_centre_pixel(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    exposure = centre_exposure(irdis_demo, calibrations, 0)
    centres = exposure_star_centres(exposure, spot_separation_lambda_d=10.0)
    moved = recentre_fields(exposure.data, centres)
    again = waffle_star_centres(moved, channels=exposure.channels, spot_separation_lambda_d=10.0)
    centre = irdis_demo.size // 2
    np.testing.assert_allclose(again.xy, np.full((2, 2), float(centre)), atol=0.03)


def test_spots_not_found_name_the_field(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    exposure = centre_exposure(irdis_demo, calibrations, 0)
    blank = np.zeros_like(exposure.data)
    with pytest.raises(ValueError, match=r"field 0 \(H2\)"):
        waffle_star_centres(blank, channels=exposure.channels, spot_separation_lambda_d=10.0)
