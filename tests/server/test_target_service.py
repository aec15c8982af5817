"""Targets are resolved once per name (the database is the cache) and offline never fails ingest."""

from __future__ import annotations

from pathlib import Path

from astropy.table import Table
from sqlalchemy import select

from hcdc_kernel.targets import SimbadResolver
from hcdc_server.schema.tables import DataFile, Target
from hcdc_server.services.ingest import IngestService
from hcdc_server.services.targets import TargetService
from tests.server.fits_factory import write_frame

SIMBAD_DATA = Path(__file__).resolve().parents[1] / "data" / "simbad"


def _service(factory, run_query) -> IngestService:
    resolver = SimbadResolver(run_query=run_query)
    return IngestService(
        factory.sessions,
        raw_dir=factory.settings.raw_dir,
        targets=TargetService(resolver),
        limits=factory.ingest().limits,
    )


def test_each_name_is_resolved_once_and_stored(factory, tmp_path) -> None:
    calls: list[str] = []

    def run_query(adql: str) -> Table:
        calls.append(adql)
        return Table.read(SIMBAD_DATA / "bet_pic_by_name.vot", format="votable")

    write_frame(tmp_path / "a" / "1.fits", obj="beta_Pic", value=1)
    write_frame(tmp_path / "a" / "2.fits", obj="BETA PIC", value=2)
    _service(factory, run_query).ingest([tmp_path / "a"])
    write_frame(tmp_path / "b" / "3.fits", obj="bet Pic", value=3)
    _service(factory, run_query).ingest([tmp_path / "b"])  # a new service: only the DB remembers
    assert len(calls) == 1
    with factory.sessions() as session:
        target = session.scalars(select(Target)).one()
        assert target.source == "simbad" and target.main_id and "Pic" in target.main_id
        assert target.simplified_sp_type == "A"
        assert set(session.scalars(select(DataFile.target_id))) == {target.id}


def test_offline_keeps_header_names_and_stops_asking(factory, tmp_path, caplog) -> None:
    calls: list[str] = []

    def run_query(adql: str) -> Table:
        calls.append(adql)
        raise OSError("Temporary failure in name resolution")

    write_frame(tmp_path / "1.fits", obj="HD 95086", value=1)
    write_frame(tmp_path / "2.fits", obj="PDS 70", value=2)
    summary = _service(factory, run_query).ingest([tmp_path])
    assert summary.ingested == 2
    assert len(calls) == 1  # the second target is not tried once SIMBAD is known to be down
    with factory.sessions() as session:
        rows = session.scalars(select(Target).order_by(Target.name)).all()
        assert [(t.name, t.source) for t in rows] == [("HD 95086", "header"), ("PDS 70", "header")]
        assert rows[0].ra == 164.597
    assert "SIMBAD unavailable" in caplog.text
