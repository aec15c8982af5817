"""SPARTA and site-monitor files with known values: every parameter recovered; bad input
named, partial data kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from hcdc_kernel.conditions import (
    ConditionParameter as P,
)
from hcdc_kernel.conditions import (
    ConditionSource,
    parse_site_monitor,
    read_conditions_file,
    read_site_monitor,
    read_sparta,
    write_conditions_file,
)
from hcdc_kernel.demo.conditions import write_sparta_file
from hcdc_kernel.frames import SPARTA
from hcdc_kernel.frames.info import read_frame_info
from tests.conditions.files import START, at, linear_track, site_csv, unix


def _by_parameter(result):
    return {s.parameter: s for s in result.series}


def test_sparta_every_parameter_recovered(tmp_path: Path) -> None:
    track = linear_track(11)
    path = write_sparta_file(tmp_path / "sparta.fits", track)
    assert read_frame_info(path).frame_type == SPARTA
    result = read_sparta(path)
    assert result.messages == ()
    series = _by_parameter(result)
    assert set(series) == set(P) - {P.HUMIDITY}
    assert all(s.source == ConditionSource.SPARTA for s in series.values())
    np.testing.assert_allclose(series[P.R0].times, track.times)
    np.testing.assert_allclose(series[P.R0].values, track.r0, rtol=1e-6)
    np.testing.assert_allclose(series[P.WIND_SPEED].values, track.wind, rtol=1e-6)
    np.testing.assert_allclose(series[P.STREHL].values, track.strehl, rtol=1e-6)
    # seeing = lambda / r0 at 500 nm; tau0 = 0.314 r0 / v
    np.testing.assert_allclose(series[P.SEEING].values, 0.10313 / track.r0, rtol=1e-4)
    np.testing.assert_allclose(series[P.TAU0].values, 0.314 * track.r0 / 10.0, rtol=1e-6)
    np.testing.assert_allclose(series[P.WFS_FLUX].values, track.wfs_flux, rtol=1e-6)
    np.testing.assert_allclose(series[P.DTTS_FLUX].values, track.dtts_flux, rtol=1e-6)
    np.testing.assert_allclose(series[P.DTTS_X].values, 15.5, atol=0.01)
    np.testing.assert_allclose(series[P.DTTS_Y].values, 15.5, atol=0.01)


def test_sparta_out_of_range_values_are_dropped_not_the_file(tmp_path: Path) -> None:
    track = linear_track(5)
    track.strehl[2] = 0.01  # below SPARTA's meaningful range
    track.r0[3] = -1.0
    series = _by_parameter(read_sparta(write_sparta_file(tmp_path / "s.fits", track)))
    assert series[P.STREHL].times.size == 4
    assert unix(at(60)) not in series[P.STREHL].times
    assert series[P.R0].times.size == 4
    assert series[P.TAU0].times.size == 4  # derived from the dropped r0: dropped too
    assert series[P.WIND_SPEED].times.size == 5


@pytest.mark.parametrize(
    "missing",
    ["AtmPerfParams", "VisLoopParams", "IRLoopParams", "IRPixelAvgFrame"],
)
def test_sparta_missing_extension_named_rest_kept(tmp_path: Path, missing: str) -> None:
    path = write_sparta_file(tmp_path / "s.fits", linear_track(5), omit=(missing,))
    result = read_sparta(path)
    assert len(result.messages) == 1
    assert missing in result.messages[0] and "s.fits" in result.messages[0]
    lost = {
        "AtmPerfParams": {P.R0, P.WIND_SPEED, P.STREHL, P.SEEING, P.TAU0},
        "VisLoopParams": {P.WFS_FLUX},
        "IRLoopParams": {P.DTTS_FLUX},
        "IRPixelAvgFrame": {P.DTTS_X, P.DTTS_Y},
    }[missing]
    assert set(_by_parameter(result)) == set(P) - {P.HUMIDITY} - lost


def test_sparta_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    path = write_sparta_file(tmp_path / "s.fits", linear_track(5))
    with fits.open(path) as hdul:
        table = hdul["AtmPerfParams"]
        columns = [c for c in table.columns if c.name != "StrehlRatio"]
        replaced = fits.BinTableHDU.from_columns(columns, name="AtmPerfParams")
        hdus = [h.copy() for h in hdul]
    hdus[1] = replaced
    fits.HDUList(hdus).writeto(tmp_path / "cut.fits")
    result = read_sparta(tmp_path / "cut.fits")
    assert any("lacks column(s) StrehlRatio" in m for m in result.messages)
    assert P.WFS_FLUX in _by_parameter(result)
    (tmp_path / "junk.fits").write_bytes(b"not a fits file at all")
    junk = read_sparta(tmp_path / "junk.fits")
    assert junk.series == () and "not a readable FITS file" in junk.messages[0]


def test_sparta_with_gaps_keeps_the_samples_it_has(tmp_path: Path) -> None:
    track = linear_track(20)
    track.r0[5:12] = np.nan  # the AO lost the turbulence estimate for 3.5 minutes
    result = read_sparta(write_sparta_file(tmp_path / "g.fits", track))
    series = _by_parameter(result)
    assert series[P.R0].times.size == 13
    assert series[P.STREHL].times.size == 20
    assert result.messages == (
        "g.fits: 1 gap(s) longer than 120 s in r0, seeing, tau0: "
        "03:02:00 to 03:06:00 (240 s) (no value for frames inside)",
    )


def test_site_monitor_gaps_are_named() -> None:
    rows = [(at(t), 0.6, 0.004, 8.0, 10.0) for t in (0, 60, 120, 1320, 1380)]
    result = parse_site_monitor(site_csv(rows), name="dome.csv")
    assert len(result.messages) == 1
    assert result.messages[0].startswith("dome.csv: 1 gap(s) longer than 120 s in seeing, tau0")
    assert "03:02:00 to 03:22:00 (1200 s)" in result.messages[0]
    assert len(_by_parameter(result)[P.SEEING]) == 5


def test_site_monitor_known_values() -> None:
    text = site_csv([(at(0), 0.61, 0.0042, 7.5, 10.0), (at(60), 0.72, 0.0035, 8.0, 11.0)])
    result = parse_site_monitor(text, name="ambient.csv")
    assert result.messages == ()
    series = _by_parameter(result)
    assert set(series) == {P.SEEING, P.TAU0, P.WIND_SPEED, P.HUMIDITY}
    assert all(s.source == ConditionSource.SITE for s in series.values())
    np.testing.assert_allclose(series[P.SEEING].times, [unix(at(0)), unix(at(60))])
    np.testing.assert_allclose(series[P.SEEING].values, [0.61, 0.72])
    np.testing.assert_allclose(series[P.TAU0].values, [0.0042, 0.0035])
    np.testing.assert_allclose(series[P.WIND_SPEED].values, [7.5, 8.0])
    np.testing.assert_allclose(series[P.HUMIDITY].values, [10.0, 11.0])


def test_site_monitor_other_order_and_units() -> None:
    text = "\n".join(
        [
            "# exported by hand",
            "Tau0 [ms],Wind speed [km/h],Date,Seeing [arcsec]",
            f"4.2,36,{at(0).isoformat(sep=' ')},0.61",
            f"3.5,18,{at(60).isoformat(sep=' ')},0.72",
        ]
    )
    series = _by_parameter(parse_site_monitor(text, name="other.csv"))
    np.testing.assert_allclose(series[P.TAU0].values, [0.0042, 0.0035])
    np.testing.assert_allclose(series[P.WIND_SPEED].values, [10.0, 5.0])
    np.testing.assert_allclose(series[P.SEEING].values, [0.61, 0.72])
    np.testing.assert_allclose(series[P.SEEING].times, [unix(at(0)), unix(at(60))])


def test_site_monitor_unknown_unit_named_other_columns_kept() -> None:
    text = "\n".join(
        [
            'Date time,MASS-DIMM Seeing ["],MASS-DIMM Tau0 [fortnights],Wind Speed [m/s]',
            f"{at(0).isoformat()},0.6,1,8.0",
            "not a time,0.7,1,9.0",
            f"{at(60).isoformat()},,1,9.5",
        ]
    )
    result = parse_site_monitor(text, name="odd.csv")
    assert any(
        "MASS-DIMM Tau0 [fortnights]" in m and "'fortnights' not understood" in m
        for m in result.messages
    )
    assert any("1 row(s) with an unreadable 'Date time'" in m for m in result.messages)
    series = _by_parameter(result)
    assert P.TAU0 not in series
    np.testing.assert_allclose(series[P.SEEING].values, [0.6])  # the empty cell is a gap
    np.testing.assert_allclose(series[P.WIND_SPEED].values, [8.0, 9.5])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only comments\n", "no header line"),
        ('Seeing ["],Tau0 [s]\n0.6,0.004\n', "no time column"),
        (f"Date time,Pressure [hPa]\n{START.isoformat()},743\n", "no seeing, tau0"),
    ],
)
def test_site_monitor_unusable_tables_say_why(text: str, message: str) -> None:
    result = parse_site_monitor(text, name="bad.csv")
    assert result.series == ()
    assert any(message in m and m.startswith("bad.csv") for m in result.messages)


def test_site_monitor_binary_file(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"\xff\xfe\x00binary")
    assert "not a text (CSV) file" in read_site_monitor(tmp_path / "x.csv").messages[0]


def test_conditions_file_round_trip(tmp_path: Path) -> None:
    series = read_sparta(write_sparta_file(tmp_path / "s.fits", linear_track(7))).series
    back = read_conditions_file(write_conditions_file(tmp_path / "c.fits", series))
    assert {(s.parameter, s.source) for s in back} == {(s.parameter, s.source) for s in series}
    for original, copy in zip(series, back, strict=True):
        np.testing.assert_array_equal(original.times, copy.times)
        np.testing.assert_array_equal(original.values, copy.values)


def test_truncated_sparta_file_keeps_the_tables_before_the_cut(tmp_path: Path) -> None:
    whole = write_sparta_file(tmp_path / "whole.fits", linear_track(30))
    data = whole.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: len(data) - 20 * 2880])  # the DTTS images' table loses its end
    result = read_sparta(cut)
    assert any("IRPixelAvgFrame" in m and "not available" in m for m in result.messages)
    assert P.STREHL in _by_parameter(result)
