"""The cached card decoder against astropy and the uncached decoder, card form by card form."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from hcdc_kernel.frames.card_cache import extract_keywords_cached
from hcdc_kernel.frames.header_io import SIZE_KEYWORDS, extract_keywords, read_header_file
from hcdc_kernel.frames.info import WANTED_KEYWORDS, frame_info_from_header

_WANTED = WANTED_KEYWORDS | SIZE_KEYWORDS


def _header_bytes(cards: list[str]) -> bytes:
    """Header blocks written card by card (80 columns each), so any card form can be tried."""
    text = "".join(card.ljust(80)[:80] for card in [*cards, "END"])
    return (text + " " * (-len(text) % 2880)).encode("latin-1")


def _sphere_header() -> fits.Header:
    header = fits.Header()
    header["INSTRUME"] = "SPHERE"
    header["OBJECT"] = "it's a 'quoted' name"
    header["DATE-OBS"] = "2019-05-28T03:10:11.1234"
    header["MJD-OBS"] = 58631.13207
    header["RA"] = 164.597
    header["DEC"] = -68.668
    header["EXPTIME"] = 64.0
    header["HIERARCH ESO DPR CATG"] = "SCIENCE"
    header["HIERARCH ESO DPR TYPE"] = "OBJECT,CENTER"
    header["HIERARCH ESO DPR TECH"] = "IMAGE,DUAL"
    header["HIERARCH ESO SEQ ARM"] = "IRDIS"
    header["HIERARCH ESO DET SEQ1 DIT"] = 1.5e-3
    header["HIERARCH ESO DET NDIT"] = 12
    header["HIERARCH ESO OBS ID"] = 2345678
    header["HIERARCH ESO OBS TARG NAME"] = "HD 95086"
    header["HIERARCH ESO OBS PI-COI NAME"] = "O''Neil"
    header["HIERARCH ESO INS COMB IFLT"] = ""
    header["HIERARCH ESO TEL AMBI TAU0"] = 0.0031
    header["HIERARCH ESO TEL AIRM START"] = 1.4
    header["HIERARCH ESO TEL AIRM END"] = True
    header["HIERARCH ESO INS4 DROT2 POSANG"] = False
    header["HIERARCH ESO OBS NAME"] = "long " * 30  # CONTINUE cards
    header["COMMENT"] = "a comment card"
    header["HISTORY"] = "history"
    return header


def _write(path: Path, header: fits.Header) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy notes the HIERARCH cards it creates
        fits.PrimaryHDU(data=np.zeros((3, 4), dtype=np.int16), header=header).writeto(path)
    return path


@pytest.mark.parametrize("continued", [True, False])
def test_every_wanted_keyword_equals_astropy(tmp_path: Path, continued: bool) -> None:
    header = _sphere_header()
    if not continued:
        header["HIERARCH ESO OBS NAME"] = "IRD_DBI"
    path = _write(tmp_path / "frame.fits", header)
    reference = fits.getheader(path)
    raw = read_header_file(path)
    for _ in range(2):  # the second pass answers from the cache
        values = extract_keywords_cached(raw, _WANTED)
        expected = {key: reference[key] for key in _WANTED if key in reference}
        assert values == expected
        assert {k: type(v) for k, v in values.items()} == {k: type(v) for k, v in expected.items()}
        assert frame_info_from_header(values) == frame_info_from_header(dict(reference))


def test_card_forms_equal_the_uncached_decoder() -> None:
    cards = [
        "SIMPLE  =                    T",
        "BITPIX  =                   16",
        "NAXIS   =                    0",
        "OBJECT  = 'O''Neil''s star'    / escaped quotes",
        "OBJECT  = 'second OBJECT'      / a repeated keyword keeps the first",
        "EXPTIME =              1.5D+01 / Fortran exponent",
        "RA      =                 -.5E2",
        "DEC     =                      / no value",
        "TELESCOP= (1.0, 2.0)           / complex",
        "HIERARCH ESO DPR CATG = 'CALIB'",
        "HIERARCH ESO DET NDIT = 007",
        "HIERARCH ESO SEQ ARM",
        "HIERARCH ESO TEL AMBI TAU0 = T",
        "COMMENT   ESO DPR TYPE = 'no'",
        "        = 'blank keyword'",
        "ENDING  = 'not the END card'",
        "MJD-OBS =              58631.5",
    ]
    raw = _header_bytes(cards)
    for _ in range(2):
        assert extract_keywords_cached(raw, _WANTED) == extract_keywords(raw, _WANTED)
    assert extract_keywords_cached(raw, _WANTED)["OBJECT"] == "O'Neil's star"
    assert extract_keywords_cached(raw, frozenset({"NAXIS"})) == {"NAXIS": 0}


def test_cards_after_an_end_card_are_not_read() -> None:
    raw = _header_bytes(["SIMPLE  =                    T", "END     garbage", "NAXIS   = 2"])
    assert extract_keywords_cached(raw, _WANTED) == extract_keywords(raw, _WANTED) == {}
    raw = _header_bytes(["NAXIS   =                    1"])
    assert extract_keywords_cached(raw, _WANTED) == {"NAXIS": 1}


@pytest.mark.parametrize(
    "card", ["NAXIS   = 12abc", "FILTER  = 'unterminated", "OBJECT  = 'a' 'b'"]
)
def test_a_bad_card_fails_as_the_uncached_decoder_does(card: str) -> None:
    raw = _header_bytes(["SIMPLE  =                    T", card])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected: object = extract_keywords(raw, _WANTED)
        except Exception as exc:  # whatever astropy raises, both must raise it
            expected = (type(exc), str(exc))
        try:
            got: object = extract_keywords_cached(raw, _WANTED)
        except Exception as exc:
            got = (type(exc), str(exc))
    assert got == expected
