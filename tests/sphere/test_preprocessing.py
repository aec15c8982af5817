"""Pre-processing of demo science, star-centre and flux exposures."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.convolution import Gaussian2DKernel, interpolate_replace_nans
from astropy.io import fits
from scipy.ndimage import median_filter

from hcdc_kernel.sphere import (
    CalibrationMismatchError,
    DetectorFlat,
    KeywordError,
    RawExposure,
    correct_bad_pixels,
    preprocess_exposure,
    read_exposure,
    select_background,
    split_fields,
)
from hcdc_kernel.sphere.preprocessing import dead_regions, field_centre_guess
from tests.sphere.conftest import Calibrations, IrdisDemo


def test_science_cube_keeps_one_frame_per_dit_split_into_two_fields(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night, calib = irdis_demo.nights[0], calibrations[0]
    dit = night.truth["science_dit_s"]
    exposure = read_exposure(night.first("IRD_SCIENCE_DBI_RAW", dit))
    background = select_background(
        calib.darks, dit=dit, filter_combination=exposure.filter_combination
    )
    assert background.kind == "sky"
    cube = preprocess_exposure(exposure, background=background, flat=calib.flat)
    size = irdis_demo.size
    assert cube.data.shape == (exposure.ndit, 2, size, size)
    assert cube.data.dtype == np.float32 and np.isfinite(cube.data).all()
    assert cube.wavelengths_um == (1.5888, 1.6671)
    assert [c.name for c in cube.channels] == ["H2", "H3"]
    assert cube.times.shape == (exposure.ndit,) and not cube.collapsed
    assert cube.background_kind == "sky"
    assert cube.bad_pixel_count == np.count_nonzero(background.bad_pixels | calib.flat.bad_pixels)
    # Sky-subtracted: far from the star the fields are at zero (within the noise).
    corner = cube.data[:, :, :12, :12]
    assert abs(float(np.median(corner))) < 3.0

    mean = preprocess_exposure(exposure, background=background, flat=calib.flat, collapse=True)
    assert mean.data.shape == (1, 2, size, size) and mean.collapsed
    np.testing.assert_allclose(mean.data[0], cube.data.mean(axis=0), rtol=1e-4, atol=1e-2)


def test_hot_pixels_are_interpolated_from_their_neighbours(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night, calib = irdis_demo.nights[0], calibrations[0]
    dit = night.truth["science_dit_s"]
    exposure = read_exposure(night.first("IRD_SCIENCE_DBI_RAW", dit))
    background = select_background(calib.darks, dit=dit, filter_combination="DB_H23")
    hot = irdis_demo.detector.dark_rate > 10.0
    raw = preprocess_exposure(exposure, background=None, flat=None)
    cleaned = preprocess_exposure(exposure, background=background, flat=calib.flat)
    hot_fields = split_fields(hot[None].astype(np.float32))[0] > 0
    # A hot pixel collects >= 960 ADU in 48 s; corrected it looks like its neighbours.
    assert np.all(raw.data[0][hot_fields] - np.median(raw.data[0]) > 500.0)
    frames = cleaned.data[0]
    local = np.stack([median_filter(field, size=5) for field in frames])
    # Measured: median 1.8 ADU from the local 5x5 median (pixel noise 7 ADU); the largest
    # departure, 103 ADU, is beside the star's bright speckles.
    assert np.all(np.abs(frames[hot_fields] - local[hot_fields]) < 50.0 + 0.2 * local[hot_fields])


def test_correct_bad_pixels_interpolates_a_smooth_image() -> None:
    y, x = np.mgrid[:40, :40]
    image = (100.0 + 2.0 * x + 0.5 * y).astype(np.float32)
    bad = np.zeros(image.shape, dtype=bool)
    bad[10, 10] = bad[20, 21] = bad[20, 22] = True
    damaged = image.copy()
    damaged[bad] = 1e6
    fixed = correct_bad_pixels(damaged, bad)
    # Isolated pixels exactly (symmetric weights); a pair along the gradient within 0.3 ADU.
    np.testing.assert_allclose(fixed[bad], image[bad], atol=0.3)
    assert fixed[10, 10] == pytest.approx(image[10, 10], abs=1e-3)
    assert np.array_equal(fixed[~bad], image[~bad])


def test_bad_pixel_correction_equals_astropy_interpolate_replace_nans() -> None:
    rng = np.random.default_rng(2)
    image = rng.normal(100.0, 5.0, size=(60, 80)).astype(np.float32)
    bad = rng.random(image.shape) < 0.01
    bad[30:33, 40:44] = True  # a cluster
    reference = interpolate_replace_nans(np.where(bad, np.nan, image), Gaussian2DKernel(1.0))
    ours = correct_bad_pixels(image, bad)
    inner = (slice(5, -5), slice(5, -5))  # astropy pads the edges with zeros, hcdc ignores them
    np.testing.assert_allclose(ours[inner], reference[inner], rtol=1e-5)


def test_background_of_another_dit_is_refused_naming_file_and_keyword(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night, calib = irdis_demo.nights[0], calibrations[0]
    path = night.first("IRD_FLUX_RAW", night.truth["flux_dit_s"])
    exposure = read_exposure(path)
    dark_48 = next(d for d in calib.darks if d.kind == "dark" and d.dit == 48.0)
    with pytest.raises(CalibrationMismatchError) as error:
        preprocess_exposure(exposure, background=dark_48, flat=calib.flat)
    assert error.value.path == path
    assert error.value.keyword == "HIERARCH ESO DET SEQ1 DIT"
    assert "DIT 2 s but the dark has DIT 48 s" in str(error.value)

    only_48 = [d for d in calib.darks if d.dit == 48.0]
    with pytest.raises(CalibrationMismatchError, match=r"no sky, background or dark with DIT 2 s"):
        select_background(only_48, dit=2.0, filter_combination="DB_H23", path=path)


def test_flat_of_another_filter_is_refused(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night, calib = irdis_demo.nights[0], calibrations[0]
    exposure = read_exposure(night.first("IRD_FLUX_RAW", 2.0))
    k_flat = DetectorFlat(**{**calib.flat.__dict__, "filter_combination": "DB_K12"})
    with pytest.raises(CalibrationMismatchError) as error:
        preprocess_exposure(exposure, background=None, flat=k_flat)
    assert error.value.keyword == "HIERARCH ESO INS COMB IFLT"


def test_an_unknown_filter_combination_names_file_and_keyword(irdis_demo: IrdisDemo) -> None:
    path = irdis_demo.nights[0].first("IRD_FLUX_RAW", 2.0)
    exposure = read_exposure(path)
    header = exposure.header.copy()
    header["HIERARCH ESO INS COMB IFLT"] = "DB_Q99"
    odd = RawExposure.from_array(exposure.data, header, path=path)
    with pytest.raises(KeywordError) as error:
        preprocess_exposure(odd, background=None, flat=None)
    assert error.value.keyword == "HIERARCH ESO INS COMB IFLT" and "DB_Q99" in str(error.value)


def test_a_corrupt_dit_is_named(irdis_demo: IrdisDemo) -> None:
    path = irdis_demo.nights[0].first("IRD_FLUX_RAW", 2.0)
    header = fits.getheader(path)
    header["HIERARCH ESO DET SEQ1 DIT"] = "fast"
    with pytest.raises(KeywordError) as error:
        RawExposure.from_array(np.zeros((2, 8, 16)), header, path=path)
    assert error.value.keyword == "HIERARCH ESO DET SEQ1 DIT" and path.name in str(error.value)


def test_full_irdis_frames_split_into_1024_fields_with_dead_borders() -> None:
    shape = (1024, 2048)
    dead = dead_regions(shape)
    assert dead[:, 941:1078].all() and not dead[500, 500] and not dead[500, 1500]
    assert not dead_regions((128, 256)).any()
    assert field_centre_guess(shape) == ((485.0, 520.0), (486.0, 508.0))
    assert field_centre_guess((128, 256)) == ((64.0, 64.0), (64.0, 64.0))
    assert split_fields(np.zeros((3, 1024, 2048))).shape == (3, 2, 1024, 1024)
