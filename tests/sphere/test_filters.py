"""IRDIS filter combinations and neutral densities."""

from __future__ import annotations

import pytest

from hcdc_kernel.sphere import filter_channels, lambda_over_d_px, nd_transmission


def test_dual_band_filters_give_one_wavelength_per_field() -> None:
    h2, h3 = filter_channels("DB_H23")
    assert (h2.name, h2.wavelength_um) == ("H2", 1.5888)
    assert (h3.name, h3.wavelength_um) == ("H3", 1.6671)
    k1, k2 = filter_channels("DB_K12")
    assert (k1.wavelength_um, k2.wavelength_um) == (2.1025, 2.2550)


def test_classical_imaging_filters_are_the_same_in_both_fields() -> None:
    left, right = filter_channels("BB_H")
    assert left == right
    assert left.wavelength_um == pytest.approx(1.625)


def test_unknown_filter_combination_is_named() -> None:
    with pytest.raises(ValueError, match="unknown IRDIS filter combination 'DB_X99'"):
        filter_channels("DB_X99")


def test_neutral_density_nominal_and_measured() -> None:
    assert nd_transmission("OPEN", "DB_H23") == (1.0, 1.0)
    assert nd_transmission("ND_2.0", "DB_H23", model="nominal") == pytest.approx((0.01, 0.01))
    # The measured curve of ND_1.0 transmits more than 10 % in H, more in H3 than in H2.
    h2, h3 = nd_transmission("ND_1.0", "DB_H23")
    assert 0.10 < h2 < h3 < 0.15
    with pytest.raises(ValueError, match="unknown neutral density 'ND_9'"):
        nd_transmission("ND_9", "DB_H23")


def test_lambda_over_d_matches_the_demo_optics() -> None:
    # 1.5888 µm / 8.2 m at 12.25 mas/px (the generator's value).
    assert lambda_over_d_px(1.5888) == pytest.approx(3.26245, rel=1e-4)
