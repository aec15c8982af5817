"""Frame times, parallactic and derotation angles against the demo generator's ephemeris."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.demo.ephemeris import irdis_derotation_angle, sky_position
from hcdc_kernel.sphere import (
    KeywordError,
    derotation_angles,
    frame_times,
    parallactic_angle,
    parallactic_angles,
)
from tests.sphere.conftest import IrdisDemo

PARANG_START = "HIERARCH ESO TEL PARANG START"
PARANG_END = "HIERARCH ESO TEL PARANG END"


def science_files(irdis_demo: IrdisDemo, index: int) -> list[Path]:
    night = irdis_demo.nights[index]
    return night.files[("IRD_SCIENCE_DBI_RAW", night.truth["science_dit_s"])]


@pytest.mark.parametrize("index", [0, 1])
def test_parallactic_angles_per_dit_match_the_ephemeris(irdis_demo: IrdisDemo, index: int) -> None:
    truth = irdis_demo.nights[index].truth
    worst_header = worst_pointing = 0.0
    for path in science_files(irdis_demo, index):
        header = fits.getheader(path)
        angles = parallactic_angles(header, path=path)
        pointing = parallactic_angles(header, path=path, source="ephemeris")
        reference = sky_position(
            angles.times, ra_deg=truth["ra_deg"], dec_deg=truth["dec_deg"]
        ).parallactic_angle
        assert angles.source == "header" and pointing.source == "ephemeris"
        assert angles.degrees.shape == (header["HIERARCH ESO DET NDIT"],)
        worst_header = max(worst_header, float(np.max(np.abs(angles.degrees - reference))))
        worst_pointing = max(worst_pointing, float(np.max(np.abs(pointing.degrees - reference))))
        assert angles.ephemeris_difference_deg is not None
        assert angles.ephemeris_difference_deg < 0.01
    # Measured: 0.0016 deg (PARANG rounded to 0.001 deg in the header), 7e-6 deg.
    assert worst_header < 0.01
    assert worst_pointing < 0.001


def test_frame_times_are_the_dit_midpoints(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    start = Time(header["DATE-OBS"], scale="utc")
    dit = header["HIERARCH ESO DET SEQ1 DIT"]
    times = frame_times(header)
    # The generator reads out for 0.1 s after each DIT.
    expected = start.unix + np.arange(header["HIERARCH ESO DET NDIT"]) * (dit + 0.1) + dit / 2
    np.testing.assert_allclose(times.unix, expected, atol=1e-3)
    collapsed = frame_times(header, collapse=True)
    assert collapsed.shape == (1,)
    assert collapsed.unix[0] == pytest.approx((times.unix[0] + times.unix[-1]) / 2, abs=1e-3)


def test_derotation_angles_follow_the_generator_convention(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 1)[0]
    header = fits.getheader(path)
    parang = parallactic_angles(header, path=path).degrees
    mode = header["HIERARCH ESO INS4 DROT2 MODE"]
    np.testing.assert_allclose(
        derotation_angles(parang, derotator_mode=mode), irdis_derotation_angle(parang)
    )
    np.testing.assert_allclose(
        derotation_angles([10.0], derotator_mode="SKY", posang_deg=5.0), [10.0 - 100.48 + 5 - 1.75]
    )
    np.testing.assert_allclose(
        derotation_angles([10.0], derotator_mode="ELEV", arm="IFS"),
        [10.0 + 135.99 - 100.48 - 1.75],
    )
    # A sequence crossing +-180 deg stays continuous.
    np.testing.assert_allclose(
        np.diff(derotation_angles([178.0, -179.0, -176.0], derotator_mode="ELEV")), [3.0, 3.0]
    )


def test_interpolation_crosses_the_wrap_at_180(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    header[PARANG_START] = 179.0
    header[PARANG_END] = -179.0
    angles = parallactic_angles(header, path=path, tolerance_deg=None).degrees
    assert np.all(np.abs(angles) > 179.0)
    steps = np.diff(np.unwrap(angles, period=360.0))
    assert np.all(steps > 0) and np.all(steps < 2.0)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        (PARANG_START, None, "absent from the header"),
        (PARANG_END, "n/a", "expected a number, found 'n/a'"),
        (PARANG_START, 512.0, "outside [-180, 180]"),
    ],
)
def test_missing_or_corrupt_parang_names_file_and_keyword(
    irdis_demo: IrdisDemo, keyword: str, value: object, message: str
) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    if value is None:
        del header[keyword]
    else:
        header[keyword] = value
    with pytest.raises(KeywordError) as error:
        parallactic_angles(header, path=path)
    assert error.value.path == path and error.value.keyword == keyword
    assert path.name in str(error.value) and message in str(error.value)
    # The pointing is the fallback.
    fallback = parallactic_angles(header, path=path, source="auto")
    assert fallback.source == "ephemeris" and fallback.ephemeris_difference_deg is None


def test_parang_disagreeing_with_the_pointing_is_refused(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    header[PARANG_START] += 5.0
    header[PARANG_END] += 5.0
    with pytest.raises(KeywordError, match=r"disagree with RA/DEC/LST by (4\.99|5\.00)\d deg"):
        parallactic_angles(header, path=path)


def test_without_pointing_or_parang_the_error_names_ra(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    del header["RA"]
    angles = parallactic_angles(header, path=path)
    assert angles.ephemeris_difference_deg is None
    with pytest.raises(KeywordError) as error:
        parallactic_angles(header, path=path, source="ephemeris")
    assert error.value.keyword == "RA"


def test_derotator_drift_is_corrected_before_july_2016(irdis_demo: IrdisDemo) -> None:
    path = science_files(irdis_demo, 0)[0]
    header = fits.getheader(path)
    header["HIERARCH ESO INS4 DROT2 BEGIN"] = 10.0
    recent = parallactic_angles(header, path=path, source="ephemeris").degrees
    del header["HIERARCH ESO INS4 DROT2 BEGIN"]
    assert np.array_equal(parallactic_angles(header, path=path, source="ephemeris").degrees, recent)

    for key in ("DATE-OBS", "HIERARCH ESO DET FRAM UTC"):
        header[key] = header[key].replace("2019-05-28", "2015-05-28")
    del header["LST"]  # computed by astropy for the new date
    plain = parallactic_angles(header, path=path, source="ephemeris").degrees
    header["HIERARCH ESO INS4 DROT2 BEGIN"] = 10.0
    corrected = parallactic_angles(header, path=path, source="ephemeris").degrees
    alt = header["HIERARCH ESO TEL ALT"]
    expected = np.degrees(np.arctan(np.tan(np.radians(alt - 20.0))))
    np.testing.assert_allclose(corrected - plain, expected, atol=1e-9)


def test_parallactic_angle_is_zero_at_transit_and_positive_after() -> None:
    np.testing.assert_allclose(parallactic_angle([0.0], dec_deg=-41.4), [0.0], atol=1e-12)
    assert parallactic_angle(15.0, dec_deg=-41.4) > 0 > parallactic_angle(-15.0, dec_deg=-41.4)
    # North of the zenith the star transits at 180 deg.
    assert abs(float(parallactic_angle(0.0, dec_deg=-10.0))) == pytest.approx(180.0)
