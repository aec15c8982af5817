"""Target identification: name normalisation, SIMBAD answers, caching and the offline fallback.

SIMBAD itself is the one external boundary faked here: a resolver whose TAP query function
returns stored VOTables (tests/data/simbad/, SIMBAD TAP's own output format).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from astropy.io.votable import parse_single_table
from astropy.table import MaskedColumn, Table

from hcdc_kernel.targets import (
    SimbadResolver,
    TargetInfo,
    TargetResolutionWarning,
    normalize_object_name,
    parse_simbad_votable,
    simbad_query_by_name,
    simbad_query_by_position,
    simplify_spectral_type,
)

SIMBAD_DATA = Path(__file__).parent / "data" / "simbad"
VOTABLE_NS = {"v": "http://www.ivoa.net/xml/VOTable/v1.3"}


def votable_rows(path: Path) -> list[dict[str, str]]:
    """The cells of a stored VOTable read with plain XML, independent of astropy."""
    root = ET.parse(path).getroot()
    names = [field.get("name") for field in root.iterfind(".//v:FIELD", VOTABLE_NS)]
    return [
        {
            name: (td.text or "")
            for name, td in zip(names, tr.iterfind("v:TD", VOTABLE_NS), strict=True)
        }
        for tr in root.iterfind(".//v:TR", VOTABLE_NS)
    ]


def stored_answer(name: str) -> Table:
    return parse_single_table(SIMBAD_DATA / name).to_table()


class CountingCache:
    """A TargetCache that records every call."""

    def __init__(self) -> None:
        self.entries: dict[str, TargetInfo] = {}
        self.gets: list[str] = []
        self.puts: list[str] = []

    def get(self, key: str) -> TargetInfo | None:
        self.gets.append(key)
        return self.entries.get(key)

    def put(self, key: str, info: TargetInfo) -> None:
        self.puts.append(key)
        self.entries[key] = info


class StoredSimbad:
    """SIMBAD TAP stand-in: answers each ADQL query with the next stored VOTable."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.queries: list[str] = []

    def __call__(self, adql: str) -> Table:
        self.queries.append(adql)
        return stored_answer(self.answers.pop(0))


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("HD_109573", "HD 109573"),
        ("hd109573  ", "HD 109573"),
        ("HD  109573", "HD 109573"),
        ("beta_Pic", "bet Pic"),
        ("BETA PIC", "bet Pic"),
        ("bet Pic", "bet Pic"),
        ("betaPic", "bet Pic"),
        ("eps_eri", "eps Eri"),
        ("51 eri", "51 Eri"),
        ("TW HYA", "TW Hya"),
        ("v4046_sgr", "V4046 Sgr"),
        ("HR8799", "HR 8799"),
        ("gj504", "GJ 504"),
        ("PDS70_CEN", "PDS 70"),
        ("HD95086-flux", "HD 95086"),
        ("HIP 65426 sky", "HIP 65426"),
        ("HD 100546_PSF", "HD 100546"),
        ("alf_Cen", "alf Cen"),
        ("cd -35 2722", "CD-35 2722"),
        ("2MASSJ12073346-3932539", "2MASS J12073346-3932539"),
        ("Fomalhaut", "Fomalhaut"),
        ("   ", ""),
    ],
)
def test_normalize_object_name(typed: str, expected: str) -> None:
    assert normalize_object_name(typed) == expected


@pytest.mark.parametrize("name", ["HD 109573", "bet Pic", "PDS 70", "2MASS J12073346-3932539"])
def test_normalised_names_are_fixed_points(name: str) -> None:
    assert normalize_object_name(normalize_object_name(name)) == normalize_object_name(name)


@pytest.mark.parametrize(
    ("sp_type", "letter", "luminosity"),
    [
        ("A6V", "A", "V"),
        ("K7IVe", "K", "IV"),
        ("F6IIIe", "F", "III"),
        ("A5IV-V", "A", "IV-V"),
        ("G8/K0III", "G", "III"),
        ("B9.5V", "B", "V"),
        ("M1.5", "M", None),
        ("DA2", "D", None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_simplify_spectral_type(
    sp_type: str | None, letter: str | None, luminosity: str | None
) -> None:
    assert simplify_spectral_type(sp_type) == (letter, luminosity)


# -- parsing stored SIMBAD answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bet_pic_by_name.vot", "pds70_by_position.vot", "answer_with_nulls.vot"]
)
def test_parse_stored_votable_matches_its_cells(name: str) -> None:
    path = SIMBAD_DATA / name
    (row,) = votable_rows(path)
    (info,) = parse_simbad_votable(path)

    def number(cell: str) -> float | None:
        return float(cell) if cell else None

    assert info.source == "simbad"
    assert info.main_id == row["main_id"] == info.name
    assert info.ra_deg == pytest.approx(float(row["ra"]), abs=1e-12)
    assert info.dec_deg == pytest.approx(float(row["dec"]), abs=1e-12)
    assert info.sp_type == row["sp_type"]
    assert (info.simplified_sp_type, info.luminosity_class) == simplify_spectral_type(
        row["sp_type"]
    )
    for attribute, column in (
        ("mag_g", "G"),
        ("mag_h", "H"),
        ("mag_k", "K"),
        ("parallax_mas", "plx_value"),
    ):
        assert getattr(info, attribute) == number(row[column]), attribute


def test_parse_accepts_bytes_and_tables_alike() -> None:
    path = SIMBAD_DATA / "bet_pic_by_name.vot"
    from_path = parse_simbad_votable(path)
    assert parse_simbad_votable(path.read_bytes()) == from_path
    assert parse_simbad_votable(stored_answer("bet_pic_by_name.vot")) == from_path


def test_parse_empty_answer() -> None:
    assert votable_rows(SIMBAD_DATA / "no_match.vot") == []
    assert parse_simbad_votable(SIMBAD_DATA / "no_match.vot") == []


def test_parse_masked_table_and_upper_case_columns() -> None:
    table = Table(
        {
            "MAIN_ID": ["* eps Eri", "HD 1"],
            "RA": [53.2326873, 1.0],
            "DEC": [-9.4582598, 2.0],
            "SP_TYPE": MaskedColumn(["K2V", ""], mask=[False, True]),
            "PLX_VALUE": MaskedColumn([310.5773, math.nan], mask=[False, True]),
            "H": [1.88, math.nan],
        }
    )
    first, second = parse_simbad_votable(table)
    assert (first.main_id, first.simplified_sp_type, first.luminosity_class) == (
        "* eps Eri",
        "K",
        "V",
    )
    assert first.parallax_mas == pytest.approx(310.5773)
    assert first.distance_pc == pytest.approx(1000.0 / 310.5773)
    assert first.mag_h == pytest.approx(1.88)
    assert first.mag_g is None and first.mag_k is None  # columns absent
    assert second.sp_type is None and second.parallax_mas is None and second.mag_h is None
    assert second.distance_pc is None


def test_name_query_is_escaped_adql() -> None:
    adql = simbad_query_by_name("bet Pic")
    assert "ident.id = 'bet Pic'" in adql
    assert "allfluxes" in adql and "plx_value" in adql
    assert "ident.id = 'O''Brien''s star'" in simbad_query_by_name("O'Brien's star")


def test_position_query_uses_a_cone() -> None:
    adql = simbad_query_by_position(212.042311, -41.397938, radius_arcsec=36.0)
    assert "CIRCLE('ICRS', 212.04231100, -41.39793800, 0.01000000)" in adql
    assert "ORDER BY dist" in adql


# -- resolver -----------------------------------------------------------------------------------


def test_resolve_asks_simbad_then_serves_from_cache() -> None:
    cache = CountingCache()
    simbad = StoredSimbad("bet_pic_by_name.vot")
    resolver = SimbadResolver(cache=cache, run_query=simbad)

    first = resolver.resolve("BETA_PIC", header_ra=86.8213, header_dec=-51.0663)
    (expected,) = parse_simbad_votable(SIMBAD_DATA / "bet_pic_by_name.vot")
    assert first.source == "simbad"
    assert first.name == "bet Pic"
    assert (first.main_id, first.ra_deg, first.parallax_mas) == (
        expected.main_id,
        expected.ra_deg,
        expected.parallax_mas,
    )
    assert len(simbad.queries) == 1 and "'bet Pic'" in simbad.queries[0]
    assert cache.puts == ["bet Pic"]

    again = resolver.resolve("beta Pic")
    assert len(simbad.queries) == 1  # no network call for a cached name
    assert again.source == "cache"
    assert again.main_id == first.main_id
    assert cache.gets == ["bet Pic", "bet Pic"]
    assert cache.puts == ["bet Pic"]


def test_unknown_name_falls_back_to_a_cone_around_the_header_position() -> None:
    cache = CountingCache()
    simbad = StoredSimbad("no_match.vot", "pds70_by_position.vot")
    resolver = SimbadResolver(cache=cache, run_query=simbad)
    info = resolver.resolve("PDS70_flux", header_ra=212.042311, header_dec=-41.397938)
    assert info.source == "simbad"
    assert info.name == "PDS 70"
    assert info.main_id == votable_rows(SIMBAD_DATA / "pds70_by_position.vot")[0]["main_id"]
    assert "ident.id = 'PDS 70'" in simbad.queries[0]
    assert "CONTAINS" in simbad.queries[1]
    assert cache.puts == []  # a position match is not an identification of the name


def test_target_unknown_to_simbad_keeps_header_values_uncached() -> None:
    cache = CountingCache()
    resolver = SimbadResolver(cache=cache, run_query=StoredSimbad("no_match.vot"))
    with pytest.warns(TargetResolutionWarning, match="does not know"):
        info = resolver.resolve("NOT A STAR 1")
    assert info == TargetInfo(name="NOT A STAR 1", source="header")
    assert cache.puts == []


def test_network_error_from_the_query_degrades_to_header() -> None:
    cache = CountingCache()

    def unreachable(adql: str) -> Table:
        raise ConnectionError("Name or service not known")

    resolver = SimbadResolver(cache=cache, run_query=unreachable)
    with pytest.warns(TargetResolutionWarning, match="unreachable"):
        info = resolver.resolve("HD_142527", header_ra=239.17, header_dec=-42.32)
    assert (info.name, info.ra_deg, info.dec_deg, info.source) == (
        "HD 142527",
        239.17,
        -42.32,
        "header",
    )
    assert cache.puts == []


def test_offline_tap_service_degrades_to_header_without_raising() -> None:
    cache = CountingCache()
    # Nothing listens on the discard port of the loopback interface: pyvo fails at once.
    resolver = SimbadResolver(tap_url="http://127.0.0.1:9/", timeout_s=2.0, cache=cache)
    with pytest.warns(TargetResolutionWarning, match="unreachable"):
        info = resolver.resolve("beta_Pic", header_ra=86.82, header_dec=-51.07)
    assert (info.name, info.ra_deg, info.dec_deg, info.source) == (
        "bet Pic",
        86.82,
        -51.07,
        "header",
    )
    assert info.main_id is None
    assert cache.puts == []
