"""Master darks, backgrounds and detector flats against the demo generator's detector truth."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from hcdc_kernel.demo.detector import DetectorModel
from hcdc_kernel.sphere import (
    CalibrationMismatchError,
    combine_bad_pixels,
    detector_flat,
    detector_flat_from_files,
    master_dark,
    master_dark_from_files,
)
from tests.sphere.conftest import Calibrations, IrdisDemo

#: Hot pixels of the generator have a dark current of 20-400 ADU/s; normal ones below 1.
HOT_RATE_ADU_S = 10.0
#: Dead pixels of the generator respond at less than 10 %.
DEAD_RESPONSE = 0.1


def field_normalised(flat: np.ndarray) -> np.ndarray:
    """A flat divided by its median in each field, as hcdc normalises it."""
    half = flat.shape[1] // 2
    out = flat.copy()
    out[:, :half] /= np.median(flat[:, :half])
    out[:, half:] /= np.median(flat[:, half:])
    return out


@pytest.mark.parametrize("dit", [48.0, 2.0])
def test_master_dark_level_and_hot_pixels_match_the_detector(
    irdis_demo: IrdisDemo, dit: float
) -> None:
    night = irdis_demo.nights[0]
    detector = irdis_demo.detector
    dark = master_dark_from_files(night.files[("IRD_DARK_RAW", dit)])
    truth = detector.offset_adu + detector.dark_rate * dit
    hot = detector.dark_rate > HOT_RATE_ADU_S

    assert dark.kind == "dark" and dark.dit == dit and dark.n_frames == 1
    # One frame: the level is the median offset + dark current to within the read noise / sqrt(N).
    assert dark.level == pytest.approx(float(np.median(truth)), abs=0.5)
    assert dark.noise == pytest.approx(detector.read_noise_adu, rel=0.25)
    residual = (dark.image - truth)[~hot]
    assert abs(float(np.mean(residual))) < 0.1
    assert float(np.std(residual)) < 1.2 * detector.read_noise_adu
    # Hot pixels: all recovered (measured 100 %), false alarms below 0.05 % of the pixels.
    recovered = np.count_nonzero(dark.bad_pixels & hot) / np.count_nonzero(hot)
    false = np.count_nonzero(dark.bad_pixels & ~hot) / hot.size
    assert recovered >= 0.98
    assert false < 5e-4
    assert dark.hot_pixel_count == np.count_nonzero(dark.bad_pixels)


def test_background_and_sky_carry_their_kind_dit_and_filter(
    calibrations: tuple[Calibrations, ...], irdis_demo: IrdisDemo
) -> None:
    darks = calibrations[0].darks
    truth = irdis_demo.nights[0].truth
    kinds = {(d.kind, d.dit) for d in darks}
    assert kinds == {
        ("dark", 48.0),
        ("dark", 2.0),
        ("background", 48.0),
        ("background", 2.0),
        ("sky", truth["science_dit_s"]),
    }
    background = next(d for d in darks if d.kind == "background" and d.dit == 48.0)
    dark = next(d for d in darks if d.kind == "dark" and d.dit == 48.0)
    assert background.filter_combination == "DB_H23"
    # The instrument background adds 0.8 ADU/s through the flat: about 38 ADU in 48 s.
    assert background.level - dark.level == pytest.approx(0.8 * 48.0 * 0.96, rel=0.1)


def test_single_dit_flat_matches_the_detector_flat_and_finds_dead_pixels(
    calibrations: tuple[Calibrations, ...], irdis_demo: IrdisDemo
) -> None:
    flat = calibrations[0].flat
    truth = field_normalised(irdis_demo.detector.flat)
    dead = irdis_demo.detector.flat < DEAD_RESPONSE

    assert flat.dits == (2.0,) and flat.filter_combination == "DB_H23"
    good = ~flat.bad_pixels
    # One lamp frame of ~6000 ADU: photon noise 1 % per pixel (measured RMS of the ratio 1.0 %).
    ratio = flat.flat[good] / truth[good]
    assert float(np.std(ratio)) < 0.013
    assert float(np.median(ratio)) == pytest.approx(1.0, abs=2e-3)
    # The flat's own RMS is the pixel response and vignetting (3.0 % in the truth).
    assert flat.rms == pytest.approx(float(np.std(truth[~dead])), rel=0.15)
    assert np.all(flat.bad_pixels[dead])
    assert flat.dead_count == np.count_nonzero(dead)
    # Lamp rate 3000 ADU/s times the median response of each field.
    assert flat.rate[0] == pytest.approx(
        3000.0 * np.median(irdis_demo.detector.flat[:, :128]), rel=0.01
    )


def test_flat_from_several_dits_fits_the_slope_and_flags_nonlinear_pixels() -> None:
    rng = np.random.default_rng(3)
    detector = DetectorModel.random(rng, shape=(64, 128))
    dits = np.array([1.0, 2.0, 4.0, 8.0])
    lamp = np.full(detector.shape, 2000.0)
    frames = np.stack(
        [detector.read_out(rng, flux=lamp, dit=float(d), ndit=2).mean(axis=0) for d in dits]
    )
    # A few pixels saturate softly: counts fall below the line at long DITs.
    nonlinear = np.zeros(detector.shape, dtype=bool)
    nonlinear[rng.integers(0, 64, 12), rng.integers(0, 128, 12)] = True
    frames[:, nonlinear] -= 2e-5 * frames[:, nonlinear] ** 2

    flat = detector_flat(frames, dits, filter_combination="DB_K12")

    truth = field_normalised(detector.flat)
    good = ~flat.bad_pixels
    assert flat.dits == (1.0, 2.0, 4.0, 8.0)
    assert float(np.std(flat.flat[good] / truth[good])) < 0.01
    assert np.all(flat.bad_pixels[nonlinear])
    assert flat.nonlinear_count >= np.count_nonzero(nonlinear)
    assert np.all(flat.bad_pixels[detector.flat < DEAD_RESPONSE])
    # No offset or dark subtraction was needed: the intercept absorbed them.
    assert flat.rate[0] == pytest.approx(2000.0 * np.median(detector.flat[:, :64]), rel=0.01)


def test_flat_at_one_dit_needs_a_dark_of_that_dit(
    irdis_demo: IrdisDemo, calibrations: tuple[Calibrations, ...]
) -> None:
    night = irdis_demo.nights[0]
    paths = night.files[("IRD_FLAT_FIELD_RAW", 2.0)]
    with pytest.raises(ValueError, match="master dark of that DIT"):
        detector_flat_from_files(paths)
    dark_48 = next(d for d in calibrations[0].darks if d.kind == "dark" and d.dit == 48.0)
    with pytest.raises(CalibrationMismatchError) as error:
        detector_flat_from_files(paths, dark=dark_48)
    assert error.value.path == paths[0]
    assert error.value.keyword == "HIERARCH ESO DET SEQ1 DIT"
    assert paths[0].name in str(error.value) and "48" in str(error.value)


def test_darks_of_another_dit_are_refused_naming_the_file(irdis_demo: IrdisDemo) -> None:
    night = irdis_demo.nights[0]
    mixed = night.files[("IRD_DARK_RAW", 48.0)] + night.files[("IRD_DARK_RAW", 2.0)]
    with pytest.raises(CalibrationMismatchError) as error:
        master_dark_from_files(mixed)
    assert error.value.path == night.files[("IRD_DARK_RAW", 2.0)][0]
    assert error.value.keyword == "HIERARCH ESO DET SEQ1 DIT"
    assert "DIT 2.0 s differs from 48.0 s" in str(error.value)


def test_master_dark_clips_an_outlying_frame() -> None:
    rng = np.random.default_rng(1)
    frames = rng.normal(100.0, 3.0, size=(7, 32, 32))
    frames[3, 10, 10] = 5000.0  # a cosmic ray in one frame
    dark = master_dark(frames, dit=1.0)
    assert dark.image[10, 10] == pytest.approx(100.0, abs=6.0)
    assert not dark.bad_pixels[10, 10]
    assert dark.n_frames == 7


def test_bad_pixel_maps_combine_by_union() -> None:
    a = np.zeros((4, 4), dtype=bool)
    b = np.zeros((4, 4), dtype=bool)
    a[0, 0] = b[1, 1] = True
    assert np.count_nonzero(combine_bad_pixels(a, b)) == 2
    with pytest.raises(CalibrationMismatchError):
        combine_bad_pixels(a, np.zeros((3, 3), dtype=bool))


def test_demo_flats_all_share_one_dit(irdis_demo: IrdisDemo) -> None:
    """The generator writes lamp flats at one DIT: the dark-subtracted path is the one used."""
    for night in irdis_demo.nights:
        flats = [key for key in night.files if key[0] == "IRD_FLAT_FIELD_RAW"]
        assert len(flats) == 1
        assert fits.getval(night.files[flats[0]][0], "HIERARCH ESO INS COMB IFLT") == "DB_H23"
