"""Frame classification (row by row), observation nights and header-derived fields."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from astropy.io import fits

from hcdc_kernel.frames import (
    FRAME_RULES,
    UNKNOWN,
    classify,
    frame_info_from_header,
    observation_night,
    read_frame_info,
)
from hcdc_kernel.frames.header_io import FitsFormatError, extract_keywords, parse_header


def sphere(arm: str, catg: str, dpr_type: str, tech: str = "IMAGE", **extra: str) -> dict:
    header = {
        "INSTRUME": "SPHERE",
        "ESO SEQ ARM": arm,
        "ESO DPR CATG": catg,
        "ESO DPR TYPE": dpr_type,
        "ESO DPR TECH": tech,
    }
    header.update({f"ESO {k.replace('_', ' ')}": v for k, v in extra.items()})
    return header


def naco(catg: str, dpr_type: str) -> dict:
    return {
        "INSTRUME": "NAOS+CONICA",
        "ESO DPR CATG": catg,
        "ESO DPR TYPE": dpr_type,
        "ESO DPR TECH": "IMAGE",
    }


CASES = [
    (sphere("IRDIS", "SCIENCE", "OBJECT", "IMAGE,DUAL,CORONOGRAPHY"), "IRD_SCIENCE_DBI_RAW"),
    (sphere("IRDIS", "SCIENCE", "OBJECT", "IMAGE,CORONOGRAPHY"), "IRD_SCIENCE_IMAGING_RAW"),
    (sphere("IRDIS", "SCIENCE", "OBJECT", "POLARIMETRY"), "IRD_SCIENCE_DPI_RAW"),
    (sphere("IRDIS", "SCIENCE", "OBJECT,CENTER", "IMAGE,DUAL"), "IRD_STAR_CENTER_RAW"),
    (sphere("IRDIS", "SCIENCE", "OBJECT,FLUX", "IMAGE,DUAL"), "IRD_FLUX_RAW"),
    (sphere("IRDIS", "SCIENCE", "SKY", "IMAGE,DUAL"), "IRD_SKY_RAW"),
    (sphere("IRDIS", "CALIB", "DARK", "IMAGE"), "IRD_DARK_RAW"),
    (sphere("IRDIS", "CALIB", "DARK,BACKGROUND", "IMAGE"), "IRD_BACKGROUND_RAW"),
    (sphere("IRDIS", "CALIB", "FLAT,LAMP", "IMAGE"), "IRD_FLAT_FIELD_RAW"),
    (sphere("IFS", "SCIENCE", "OBJECT", "IFU"), "IFS_SCIENCE_RAW"),
    (sphere("IFS", "SCIENCE", "OBJECT,CENTER", "IFU"), "IFS_STAR_CENTER_RAW"),
    (sphere("IFS", "SCIENCE", "OBJECT,FLUX", "IFU"), "IFS_FLUX_RAW"),
    (sphere("IFS", "SCIENCE", "SKY", "IFU"), "IFS_SKY_RAW"),
    (sphere("IFS", "CALIB", "DARK", "IFU"), "IFS_DARK_RAW"),
    (sphere("IFS", "CALIB", "DARK,BACKGROUND", "IFU"), "IFS_BACKGROUND_RAW"),
    (
        sphere("IFS", "CALIB", "FLAT,LAMP", "IFU", INS2_COMB_IFS="CAL_BB_2_YJ"),
        "IFS_DETECTOR_FLAT_RAW",
    ),
    (sphere("IFS", "CALIB", "FLAT,LAMP", "IFU", INS2_COMB_IFS="OBS_YJ"), "IFS_FLAT_FIELD_RAW"),
    (sphere("IFS", "CALIB", "SPECPOS,LAMP", "IFU"), "IFS_SPECPOS_RAW"),
    (sphere("IFS", "CALIB", "WAVE,LAMP", "IFU"), "IFS_WAVECALIB_RAW"),
    (
        sphere("ZIMPOL", "SCIENCE", "OBJECT", "POLARIMETRY", INS4_DROT2_MODE="STAT"),
        "ZPL_SCIENCE_P1_RAW",
    ),
    (
        sphere("ZIMPOL", "SCIENCE", "OBJECT", "POLARIMETRY", INS4_DROT2_MODE="SKY"),
        "ZPL_SCIENCE_P2_RAW",
    ),
    (sphere("ZIMPOL", "SCIENCE", "OBJECT", "IMAGE"), "ZPL_SCIENCE_IMAGING_RAW"),
    (sphere("ZIMPOL", "CALIB", "DARK", "POLARIMETRY"), "ZPL_DARK_RAW"),
    (sphere("ZIMPOL", "CALIB", "DARK", "IMAGE"), "ZPL_DARK_IMAGING_RAW"),
    (sphere("ZIMPOL", "CALIB", "BIAS", "POLARIMETRY"), "ZPL_BIAS_RAW"),
    (sphere("ZIMPOL", "CALIB", "BIAS", "IMAGE"), "ZPL_BIAS_IMAGING_RAW"),
    (sphere("ZIMPOL", "CALIB", "FLAT,LAMP", "POLARIMETRY"), "ZPL_INT_FLAT_FIELD_RAW"),
    (sphere("ZIMPOL", "CALIB", "FLAT,LAMP", "IMAGE"), "ZPL_INT_FLAT_FIELD_IMAGING_RAW"),
    (naco("SCIENCE", "OBJECT"), "NACO_IMG_OBJECT_RAW"),
    (naco("SCIENCE", "OBJECT,FLUX"), "NACO_IMG_FLUX_RAW"),
    (naco("SCIENCE", "SKY"), "NACO_IMG_SKY_RAW"),
    (naco("CALIB", "DARK"), "NACO_IMG_DARK_RAW"),
    (naco("CALIB", "FLAT,LAMP"), "NACO_IMG_LAMP_FLAT_RAW"),
    (naco("CALIB", "FLAT,SKY"), "NACO_IMG_TWILIGHT_FLAT_RAW"),
    (sphere("IRDIS", "ACQUISITION", "OBJECT"), "ACQUISITION"),
    (sphere("IRDIS", "TEST", "OBJECT,AO"), "SPH_SPARTA_RAW"),
    (naco("TEST", "OBJECT,AO"), "ACQUISITION"),
]


@pytest.mark.parametrize(
    ("header", "expected"), CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)]
)
def test_classify_each_row(header: dict, expected: str) -> None:
    frame_type, reason = classify(header)
    assert frame_type == expected
    assert reason is None


def test_every_rule_is_exercised() -> None:
    covered = {expected for _, expected in CASES}
    assert {rule.frame_type for rule in FRAME_RULES} <= covered


def test_classification_is_case_and_space_tolerant() -> None:
    header = sphere("irdis ", " science", "object", "image, dual")
    assert classify(header)[0] == "IRD_SCIENCE_DBI_RAW"


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (sphere("IRDIS", "CALIB", "LAMP,DISTORT"), "DPR TYPE=LAMP,DISTORT"),
        (
            {"INSTRUME": "SPHERE", "ESO SEQ ARM": "IRDIS"},
            "missing HIERARCH ESO DPR CATG and DPR TYPE",
        ),
        (
            {"INSTRUME": "MUSE", "ESO DPR CATG": "SCIENCE", "ESO DPR TYPE": "OBJECT"},
            "INSTRUME='MUSE'",
        ),
        (sphere("IFS", "CALIB", "FLAT,LAMP", "IFU", INS2_COMB_IFS="WEIRD"), "DPR TYPE=FLAT,LAMP"),
        (sphere("ZIMPOL", "SCIENCE", "OBJECT", "POLARIMETRY"), "arm=ZIMPOL"),
        ({}, "missing"),
    ],
)
def test_unknown_frames_carry_a_reason(header: dict, fragment: str) -> None:
    frame_type, reason = classify(header)
    assert frame_type == UNKNOWN
    assert reason is not None and fragment in reason


def test_products_are_typed_by_their_category() -> None:
    assert classify({"HCDC PRO CATG": "HCI_SNR_MAP"})[0] == "HCI_SNR_MAP"
    assert (
        classify({"ESO PRO CATG": "IRD_MASTER_DARK", **naco("CALIB", "DARK")})[0]
        == "IRD_MASTER_DARK"
    )


@pytest.mark.parametrize(
    ("utc", "night"),
    [
        ("2019-05-28T03:10:00", date(2019, 5, 27)),
        ("2019-05-27T23:59:00", date(2019, 5, 27)),
        (
            "2019-05-28T10:30:00",
            date(2019, 5, 27),
        ),  # morning calibrations belong to the night before
        ("2019-05-28T11:59:59.999", date(2019, 5, 27)),
        ("2019-05-28T12:00:00", date(2019, 5, 28)),  # 08:00 local at Paranal: the new day starts
        ("2019-05-28T16:00:00", date(2019, 5, 28)),  # local noon
        ("2020-03-20T04:14:09", date(2020, 3, 19)),
        ("2020-01-01T02:00:00", date(2019, 12, 31)),  # across a year boundary
    ],
)
def test_observation_night_boundaries(utc: str, night: date) -> None:
    assert observation_night(datetime.fromisoformat(utc)) == night


def test_frame_info_fields_from_header() -> None:
    header = sphere(
        "IRDIS",
        "SCIENCE",
        "OBJECT",
        "IMAGE,DUAL,CORONOGRAPHY",
        DET_SEQ1_DIT=16.0,
        DET_NDIT=4,
        OBS_PROG_ID="0103.C-0123(A)",
        INS_COMB_IFLT="DB_H23",
        INS4_DROT2_MODE="ELEV",
        DET_READ_CURNAME="Nondest",
        INS_COMB_ICOR="N_ALC_YJH_S",
    )
    header.update(
        {
            "OBJECT": "HD 95086",
            "DATE-OBS": "2019-05-28T03:10:11.123",
            "RA": 164.59,
            "DEC": -68.67,
            "EXPTIME": 64.0,
            "ESO OBS ID": 2345678,
            "ESO TEL AIRM START": 1.40,
            "ESO TEL AIRM END": 1.42,
            "ESO TEL AMBI FWHM START": 0.6,
            "ESO TEL AMBI FWHM END": 0.8,
            "ESO TEL AMBI TAU0": 0.0045,
            "NAXIS": 3,
            "NAXIS1": 2048,
            "NAXIS2": 1024,
            "NAXIS3": 4,
        }
    )
    info = frame_info_from_header(header)
    assert info.frame_type == "IRD_SCIENCE_DBI_RAW"
    assert (info.instrument, info.arm) == ("SPHERE", "IRDIS")
    assert info.obs_night == date(2019, 5, 27)
    assert info.dit == 16.0 and info.ndit == 4 and info.exptime == 64.0
    assert info.instrument_filter == "DB_H23"
    assert info.prog_id == "0103.C-0123(A)" and info.obs_id == 2345678
    assert info.readout_mode == "Nondest" and info.derotator_mode == "ELEV"
    assert info.airmass == pytest.approx(1.41) and info.seeing == pytest.approx(0.7)
    assert info.tau0 == pytest.approx(0.0045)
    assert info.naxis == (2048, 1024, 4)
    assert info.coronagraph == "N_ALC_YJH_S"


def test_missing_keywords_give_nulls_not_errors() -> None:
    info = frame_info_from_header(
        {"INSTRUME": "SPHERE", "ESO SEQ ARM": "IRDIS", "RA": "not a number"}
    )
    assert info.frame_type == UNKNOWN
    assert info.ra is None and info.obs_night is None and info.dit is None


def test_night_from_mjd_when_date_obs_is_absent() -> None:
    # MJD 58631.1319 = 2019-05-28T03:10 UTC
    info = frame_info_from_header({"MJD-OBS": 58631.1319})
    assert info.obs_night == date(2019, 5, 27)


def _write(path, header: fits.Header, data=None) -> None:
    fits.PrimaryHDU(data=data, header=header).writeto(path)


def test_fast_header_values_equal_astropy(tmp_path) -> None:
    header = fits.Header()
    header["OBJECT"] = "it's a 'quoted' name"
    header["HIERARCH ESO DET SEQ1 DIT"] = 1.5e-3
    header["HIERARCH ESO DET NDIT"] = 12
    header["HIERARCH ESO OBS PI-COI NAME"] = "Milli"
    header["HIERARCH ESO TEL AMBI TAU0"] = 0.0031
    header["BOOLT"] = True
    header["BOOLF"] = False
    header["NEGINT"] = -42
    header["BIG"] = 1.0e300
    header["CPLX"] = complex(1, 2)
    header["EMPTY"] = ""
    header["COMMENT"] = "a comment card"
    header["HISTORY"] = "history"
    path = tmp_path / "h.fits"
    _write(path, header, np.zeros((3, 4), dtype=np.float32))
    reference = fits.getheader(path)
    raw = path.read_bytes()[: 2880 * 2]
    parsed = parse_header(raw[: raw.index(b"END" + b" " * 77) // 2880 * 2880 + 2880])
    for key in reference:
        if key in ("COMMENT", "HISTORY", ""):
            continue
        assert parsed[key] == reference[key], key
    wanted = frozenset({"OBJECT", "ESO DET SEQ1 DIT", "CPLX", "NAXIS2"})
    assert extract_keywords(raw, wanted) == {k: reference[k] for k in wanted}


def test_long_strings_with_continue_cards(tmp_path) -> None:
    header = fits.Header()
    header["HIERARCH ESO OBS NAME"] = "x" * 150
    path = tmp_path / "long.fits"
    _write(path, header)
    info = read_frame_info(path)
    assert info.obs_name == "x" * 150


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, world\n" * 300, "not a FITS file"),
        (b"SIMPLE  =                    T" + b" " * 50, "truncated FITS header"),
        ((b"SIMPLE  =                    T" + b" " * 50) * 36 * 3, "truncated FITS header"),
    ],
)
def test_unreadable_files_raise_a_clear_error(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.fits"
    path.write_bytes(content)
    with pytest.raises(FitsFormatError, match=message):
        read_frame_info(path)
