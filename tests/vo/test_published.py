"""hcdc in the Virtual Observatory, through a real DaCHS and pyvo: public data only."""

from __future__ import annotations

import io
import math
from urllib.parse import quote

import httpx
import pytest
import pyvo
from astropy.io import fits
from astropy.io.votable import parse
from astropy.io.votable.tree import VOTableFile
from sqlalchemy import select

from hcdc_server.schema import tables as t
from tests.requirements import needs_dachs
from tests.vo.site import MAX_ROWS, VoSite

pytestmark = [needs_dachs, pytest.mark.postgres, pytest.mark.slow]

CONE_RADIUS_DEG = 0.05


def strict(content: bytes) -> VOTableFile:
    """A VOTable as astropy reads it in strict mode: any deviation raises."""
    return parse(io.BytesIO(content), verify="exception")


def query_status(votable: VOTableFile) -> str:
    """The document's status: the last QUERY_STATUS (an OVERFLOW follows the table)."""
    infos = [*votable.infos, *(i for r in votable.resources for i in r.infos)]
    return [i.value for i in infos if i.name == "QUERY_STATUS"][-1]


def tap_sync(site: VoSite, adql: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{site.tap_url}/sync",
        params={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, **params},
        timeout=60,
    )


def _pointing(site: VoSite, target: str) -> tuple[float, float]:
    with site.factory.sessions() as session:
        row = session.execute(
            select(t.DataFile.ra, t.DataFile.dec).where(
                t.DataFile.object == target, t.DataFile.ra.is_not(None)
            )
        ).first()
    assert row is not None, target
    return float(row.ra), float(row.dec)


def _public_raw_in_cone(site: VoSite, ra: float, dec: float, radius: float) -> set[int]:
    """What hcdc itself says: public raw files within ``radius`` (exact great-circle test)."""
    with site.factory.sessions() as session:
        rows = session.execute(
            select(t.DataFile.id, t.DataFile.ra, t.DataFile.dec).where(
                t.DataFile.is_public.is_(True),
                t.DataFile.is_raw.is_(True),
                t.DataFile.ra.is_not(None),
            )
        ).all()
    found = set()
    for data_id, r, d in rows:
        cos = math.sin(math.radians(dec)) * math.sin(math.radians(d)) + math.cos(
            math.radians(dec)
        ) * math.cos(math.radians(d)) * math.cos(math.radians(r - ra))
        if math.degrees(math.acos(min(1.0, cos))) <= radius:
            found.add(int(data_id))
    return found


def test_tap_cone_on_obscore_lists_the_public_files_and_no_proprietary_one(
    vo_site: VoSite,
) -> None:
    ra, dec = _pointing(vo_site, "PDS 70")
    adql = (
        "SELECT obs_publisher_did, calib_level, dataproduct_type, access_url FROM ivoa.obscore "
        "WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), "
        f"CIRCLE('ICRS', {ra}, {dec}, {CONE_RADIUS_DEG})) = 1 AND calib_level = 1"
    )
    result = pyvo.dal.TAPService(vo_site.tap_url).run_sync(adql)
    dids = {str(d) for d in result["obs_publisher_did"]}
    expected = {vo_site.did(i) for i in _public_raw_in_cone(vo_site, ra, dec, CONE_RADIUS_DEG)}
    assert expected and dids == expected
    assert not dids & {vo_site.did(i) for i in vo_site.proprietary_ids}
    # The proprietary copies share the pointing: hcdc's own cone (as admin) has them.
    everything = _all_raw_in_cone(vo_site, ra, dec)
    assert set(vo_site.proprietary_ids) <= everything
    # Nowhere in any published table or link.
    service = pyvo.dal.TAPService(vo_site.tap_url)
    for data_id in vo_site.proprietary_ids:
        did, url = vo_site.did(data_id), f"%/api/public/data/{data_id}/%"
        for adql in (
            f"SELECT COUNT(*) AS n FROM ivoa.obscore WHERE obs_publisher_did = '{did}'",
            f"SELECT COUNT(*) AS n FROM hcdc_vo.files WHERE data_id = {data_id}",
            f"SELECT COUNT(*) AS n FROM hcdc_vo.links WHERE did = '{did}' OR access_url LIKE '{url}'",
        ):
            assert int(service.run_sync(adql)["n"][0]) == 0, adql


def _all_raw_in_cone(site: VoSite, ra: float, dec: float) -> set[int]:
    with site.factory.sessions() as session:
        return {
            int(i)
            for i in session.scalars(
                select(t.DataFile.id).where(
                    t.DataFile.is_raw.is_(True),
                    t.DataFile.ra.between(ra - 0.01, ra + 0.01),
                    t.DataFile.dec.between(dec - 0.01, dec + 0.01),
                )
            )
        }


def test_obscore_levels_and_mandatory_columns(vo_site: VoSite) -> None:
    service = pyvo.dal.TAPService(vo_site.tap_url)
    levels = service.run_sync(
        "SELECT calib_level, dataproduct_type, COUNT(*) AS n FROM ivoa.obscore "
        "GROUP BY calib_level, dataproduct_type"
    )
    kinds = {(int(r["calib_level"]), str(r["dataproduct_type"])) for r in levels}
    assert (1, "cube") in kinds or (1, "image") in kinds
    assert (2, "image") in kinds  # S/N maps, derotated stacks
    assert (3, "measurements") in kinds  # contrast curves, companion tables
    response = tap_sync(vo_site, "SELECT TOP 5 * FROM ivoa.obscore WHERE calib_level = 1")
    table = strict(response.content).get_first_table()
    fields = {f.name: f for f in table.fields}
    mandatory = {
        "dataproduct_type": None, "calib_level": None, "obs_collection": None,
        "obs_id": None, "obs_publisher_did": None, "access_url": None,
        "access_format": None, "target_name": None, "s_ra": "deg", "s_dec": "deg",
        "s_fov": "deg", "s_region": None, "t_min": "d", "t_max": "d", "t_exptime": "s",
        "em_min": "m", "em_max": "m", "pol_states": None, "instrument_name": None,
    }  # fmt: skip
    for name, unit in mandatory.items():
        assert fields[name].ucd, name
        if unit:
            assert str(fields[name].unit) == unit, name
    rows = table.array
    assert all(str(u).startswith(f"{vo_site.api_url}/api/public/data/") for u in rows["access_url"])
    assert (rows["em_min"] < rows["em_max"]).all()
    assert (rows["t_min"] <= rows["t_max"]).all()
    assert set(rows["instrument_name"]) <= {"SPHERE", "NACO"}


def test_sia2_by_position_and_band(vo_site: VoSite) -> None:
    ra, dec = _pointing(vo_site, "PDS 70")

    # pyvo's SIA2Service would read the capabilities, whose SIA type pyvo 1.9 does not know
    # (a warning): query the endpoint directly.
    def search(band: tuple[float, float]) -> pyvo.dal.sia2.SIA2Results:
        query = pyvo.dal.sia2.SIA2Query(vo_site.sia_url, pos=(ra, dec, 0.02), band=band)
        query.maxrec = MAX_ROWS
        return query.execute()

    # IRDIS DB_H23: 1.56-1.69 µm; NACO L' (3.5-4.1 µm) must not come back.
    results = search((1.6e-6, 1.65e-6))
    assert len(results) > 0
    assert {str(r) for r in results.to_table()["instrument_name"]} == {"SPHERE"}
    assert set(results.to_table()["dataproduct_type"]) <= {"image", "cube"}
    assert not {str(d) for d in results.to_table()["obs_publisher_did"]} & {
        vo_site.did(i) for i in vo_site.proprietary_ids
    }
    assert len(search((3.6e-6, 3.9e-6))) == 0
    raw = httpx.get(
        vo_site.sia_url, params={"POS": f"CIRCLE {ra} {dec} 0.02", "BAND": "1.6e-6 1.65e-6"}
    )
    assert query_status(strict(raw.content)) == "OK"


def _science_raw(site: VoSite) -> int:
    with site.factory.sessions() as session:
        data_id = session.scalar(
            select(t.DataFile.id)
            .join(t.ProcessInput, t.ProcessInput.data_file_id == t.DataFile.id)
            .where(
                t.DataFile.frame_type == "IRD_SCIENCE_DBI_RAW",
                t.DataFile.is_public.is_(True),
            )
            .order_by(t.DataFile.id)
        )
    assert data_id is not None
    return int(data_id)


def test_datalink_from_a_raw_file_resolves_to_a_fits_download(vo_site: VoSite) -> None:
    data_id = _science_raw(vo_site)
    response = httpx.get(vo_site.datalink_url, params={"ID": vo_site.did(data_id)})
    strict(response.content)
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(
        f"{vo_site.datalink_url}?ID={quote(vo_site.did(data_id), safe='')}"
    )
    semantics = {str(s) for s in links.to_table()["semantics"]}
    assert {"#this", "#preview", "#calibration", "#derivation"} <= semantics
    this = next(links.bysemantics("#this", include_narrower=False))
    download = httpx.get(this.access_url, timeout=60)  # no token
    assert download.status_code == 200
    with fits.open(io.BytesIO(download.content)) as hdus:
        assert hdus[0].header["HIERARCH ESO DPR CATG"] == "SCIENCE"
    preview = httpx.get(
        next(links.bysemantics("#preview", include_narrower=False)).access_url, timeout=60
    )
    assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
    # Every linked file is public: each downloads without a token.
    for link in links:
        if link.semantics in ("#calibration", "#derivation"):
            assert httpx.head(link.access_url).status_code in (200, 405)
    derived = [str(d) for d in links.to_table()["description"] if "Product" in str(d)]
    assert any("IRD_SCIENCE_CUBE" in d for d in derived)


def test_proprietary_files_are_neither_linked_nor_downloadable(vo_site: VoSite) -> None:
    data_id = vo_site.proprietary_ids[0]
    response = httpx.get(vo_site.datalink_url, params={"ID": vo_site.did(data_id)})
    assert response.status_code == 200
    votable = strict(response.content)
    rows = votable.get_first_table().array
    # DataLink's answer for an identifier it does not serve: one error row, no link.
    assert len(rows) == 1
    assert str(rows["error_message"][0]).startswith("NotFoundFault")
    assert not str(rows["access_url"][0])
    assert httpx.get(f"{vo_site.api_url}/api/public/data/{data_id}/file").status_code == 404
    assert httpx.get(f"{vo_site.api_url}/api/public/data/{data_id}/preview").status_code == 404
    # Its owner still downloads it with a token.
    owned = httpx.get(
        f"{vo_site.api_url}/api/data/{data_id}/file",
        headers={"X-Auth-Ident": "demo", "X-Auth-Token": vo_site.token},
    )
    assert owned.status_code == 200


def test_epntap_companions_of_beta_pic(vo_site: VoSite) -> None:
    service = pyvo.dal.TAPService(vo_site.tap_url)
    result = service.run_sync(
        "SELECT target_name, host_star, separation, position_angle, contrast, delta_mag, "
        "epoch, granule_uid, dataproduct_type, processing_level, time_min, c1min, c2min "
        "FROM hcdc_vo.epn_core WHERE host_star LIKE '%Pic%'"
    )
    assert len(result) >= 1
    row = result[0]
    assert str(row["target_name"]).endswith(" b")
    # beta Pic b in January 2013 (Absil et al. 2013): about 0.45" at PA 211 deg is the
    # literature; the derotation convention of the demo cube gives the same separation.
    assert 400 < float(row["separation"]) < 500
    assert 0 <= float(row["position_angle"]) < 360
    assert 0 < float(row["contrast"]) < 1e-2 and float(row["delta_mag"]) > 5
    assert 56300 < float(row["epoch"]) < 56400  # 2013-01-31
    assert str(row["dataproduct_type"]) == "ci"
    # The companion's position: beta Pic (86.82, -51.07) offset by the separation.
    assert abs(float(row["c1min"]) - 86.82) < 0.01 and abs(float(row["c2min"]) + 51.07) < 0.01
    response = tap_sync(vo_site, "SELECT * FROM hcdc_vo.epn_core")
    strict(response.content)


def test_tap_schema_describes_the_tables(vo_site: VoSite) -> None:
    response = tap_sync(
        vo_site,
        "SELECT table_name, description FROM tap_schema.tables "
        "WHERE schema_name IN ('ivoa', 'hcdc_vo')",
    )
    table = strict(response.content).get_first_table().array
    described = {
        str(n): str(d) for n, d in zip(table["table_name"], table["description"], strict=True)
    }
    for name in ("ivoa.obscore", "hcdc_vo.files", "hcdc_vo.links", "hcdc_vo.epn_core"):
        assert len(described.get(name, "")) > 20, name
    columns = tap_sync(
        vo_site,
        "SELECT column_name, unit, ucd FROM tap_schema.columns "
        "WHERE table_name = 'hcdc_vo.epn_core' AND column_name IN ('separation', 'contrast')",
    )
    cols = strict(columns.content).get_first_table().array
    assert {str(c) for c in cols["ucd"]} == {"pos.angDistance", "phot.flux;arith.ratio"}


@pytest.mark.parametrize(
    ("adql", "says"),
    [
        ("SELECT FROM ivoa.obscore", "Could not parse"),
        ("SELECT no_such_column FROM ivoa.obscore", "no_such_column"),
        ("SELECT * FROM hcdc.data_files", "hcdc.data_files"),
    ],
)
def test_bad_adql_answers_a_votable_error(vo_site: VoSite, adql: str, says: str) -> None:
    response = tap_sync(vo_site, adql)
    assert response.status_code < 500
    votable = strict(response.content)
    assert query_status(votable) == "ERROR"
    message = " ".join(str(i.content) for r in votable.resources for i in r.infos)
    assert says in message
    with pytest.raises(pyvo.dal.DALQueryError):
        pyvo.dal.TAPService(vo_site.tap_url).run_sync(adql)


def test_row_limit(vo_site: VoSite) -> None:
    """Past the site's hard limit (``HCDC_VO_MAX_ROWS``) the answer is cut there and says so
    (TAP's QUERY_STATUS=OVERFLOW), whatever MAXREC asks."""
    count = pyvo.dal.TAPService(vo_site.tap_url).run_sync("SELECT COUNT(*) AS n FROM hcdc_vo.links")
    assert int(count["n"][0]) > MAX_ROWS
    response = tap_sync(vo_site, "SELECT * FROM hcdc_vo.links", MAXREC=str(MAX_ROWS * 100))
    assert response.status_code == 200
    votable = strict(response.content)
    assert query_status(votable) == "OVERFLOW"
    assert len(votable.get_first_table().array) == MAX_ROWS
