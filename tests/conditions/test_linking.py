"""Frames get the conditions of their exposure window; processes the aggregate of their
inputs; the browse filters of both lists select on them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from hcdc_kernel.conditions import ConditionParameter as P
from hcdc_kernel.demo.conditions import write_sparta_file
from hcdc_kernel.enums import ProcessStatus
from hcdc_server.cli import main
from hcdc_server.factory import Factory
from hcdc_server.models.api import BrowseRequest
from hcdc_server.schema.tables import Process, ProcessInput, ProcessOutput, Recipe
from hcdc_server.services.conditions import inherit_outputs
from hcdc_server.services.visibility import Viewer
from tests.conditions.conftest import Night, write_night
from tests.conditions.files import at, linear_track, site_csv, write_exposure

TRACK = linear_track(61)
ADMIN = Viewer(user_id=0, login="root", role="admin")


def _seeing(r0: np.ndarray) -> np.ndarray:
    return np.rad2deg(500e-9 / r0) * 3600.0


def _expected(indices: list[int]) -> dict[P, float]:
    r0 = TRACK.r0[indices]
    return {
        P.R0: float(np.mean(r0)),
        P.WIND_SPEED: 10.0,
        P.STREHL: float(np.mean(TRACK.strehl[indices])),
        P.SEEING: float(np.mean(_seeing(r0))),
        P.TAU0: float(np.mean(0.314 * r0 / 10.0)),
        P.WFS_FLUX: float(np.mean(TRACK.wfs_flux[indices])),
        P.DTTS_FLUX: float(np.mean(TRACK.dtts_flux[indices])),
    }


def _conditions(factory: Factory, data_file_id: int) -> dict[P, Any]:
    found = factory.conditions().file_conditions([data_file_id])
    return dict(found.parameters.items())


def _check(found: dict[P, Any], expected: dict[P, float], n: int) -> None:
    for parameter, value in expected.items():
        assert found[parameter].stats.mean == pytest.approx(value, rel=1e-5), parameter
        assert found[parameter].stats.n == n
        assert found[parameter].source == "sparta"


def test_every_parameter_linked_over_the_exposure_window(night: Night) -> None:
    factory = night.factory
    # [0, 64 s] holds the samples at 0, 30 and 60 s, the first on the window's start
    edge = _conditions(factory, night.ids["edge"])
    _check(edge, _expected([0, 1, 2]), 3)
    assert edge[P.STREHL].stats.std == pytest.approx(float(np.std(TRACK.strehl[:3], ddof=1)))
    assert edge[P.DTTS_X].stats.mean == pytest.approx(15.5, abs=0.01)
    # [90, 120 s]: the samples on both ends count
    _check(_conditions(factory, night.ids["ends"]), _expected([3, 4]), 2)
    # [95, 105 s]: no sample inside, interpolated at 100 s
    short = _conditions(factory, night.ids["short"])
    assert short[P.STREHL].stats.interpolated and short[P.STREHL].stats.n == 0
    assert short[P.STREHL].stats.mean == pytest.approx(0.5 + 0.005 * 100 / 30)
    assert short[P.STREHL].stats.std is None
    # an hour after the telemetry: only the header's seeing and tau0
    late = _conditions(factory, night.ids["late"])
    assert set(late) == {P.SEEING, P.TAU0}
    assert late[P.SEEING].source == "header" and late[P.SEEING].stats.mean == 1.4
    # a dark is no exposure of the sky
    dark = factory.conditions().file_conditions([night.ids["dark"]])
    assert dark.parameters == {} and dark.airmass is None


def test_telemetry_ingested_after_the_frames_relinks_them(factory: Factory, tmp_path: Path) -> None:
    files = write_night(tmp_path / "raw")
    night = Night(factory, tmp_path)
    night.ingest(*(path for name, path in files.items() if name != "sparta"))
    assert P.STREHL not in _conditions(factory, night.ids["edge"])
    night.ingest(files["sparta"])
    _check(_conditions(factory, night.ids["edge"]), _expected([0, 1, 2]), 3)


def test_site_monitor_import_links_and_takes_precedence(night: Night, tmp_path: Path) -> None:
    table = tmp_path / "ambient.csv"
    table.write_text(
        site_csv(
            [
                (at(0), 0.5, 0.006, 4.0, 10.0),
                (at(30), 0.6, 0.007, 5.0, 12.0),
                (at(60), 0.7, 0.008, 6.0, 14.0),
                (at(120), 0.8, 0.009, 7.0, 16.0),
            ]
        )
    )
    runner = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "unused")]
    env = {"HCDC_DATABASE_URL": night.factory.settings.database_url}
    result = runner.invoke(main, [*data_dir, "conditions", "import", str(table)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported ambient.csv: 16 samples" in result.output
    edge = _conditions(night.factory, night.ids["edge"])
    assert edge[P.SEEING].source == "site" and edge[P.SEEING].stats.mean == pytest.approx(0.6)
    assert edge[P.TAU0].stats.mean == pytest.approx(0.007)
    assert edge[P.HUMIDITY].stats.mean == pytest.approx(12.0)
    assert edge[P.WIND_SPEED].source == "sparta"  # the AO's wind, not the tower's
    again = runner.invoke(main, [*data_dir, "conditions", "import", str(table)], env=env)
    assert again.exit_code == 0 and "unchanged ambient.csv" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text('Seeing ["]\n0.6\n')
    refused = runner.invoke(main, [*data_dir, "conditions", "import", str(bad)], env=env)
    assert refused.exit_code == 3
    assert "no time column" in refused.output
    # the refused file changed nothing
    assert _conditions(night.factory, night.ids["edge"])[P.SEEING].stats.mean == pytest.approx(0.6)


def test_a_newer_site_table_replaces_the_older_one_over_its_span(
    night: Night, tmp_path: Path
) -> None:
    service = night.factory.conditions()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(site_csv([(at(0), 0.5, 0.006, 4.0, 10.0), (at(60), 0.5, 0.006, 4.0, 10.0)]))
    second.write_text(site_csv([(at(0), 0.9, 0.003, 4.0, 10.0), (at(60), 0.9, 0.003, 4.0, 10.0)]))
    assert service.import_site_files([first])[0].status == "imported"
    report = service.import_site_files([second])[0]
    assert any("replaces 8 earlier" in m for m in report.messages)
    edge = _conditions(night.factory, night.ids["edge"])
    assert edge[P.SEEING].stats.mean == pytest.approx(0.9) and edge[P.SEEING].stats.n == 2


def test_sparta_missing_an_extension_is_ingested_with_what_it_has(
    factory: Factory, tmp_path: Path
) -> None:
    files = write_night(tmp_path / "raw")
    cut = write_sparta_file(tmp_path / "cut" / "sparta_cut.fits", TRACK, omit=("IRPixelAvgFrame",))
    night = Night(factory, tmp_path)
    night.ingest(cut, files["edge"])
    record = night.records["sparta_cut"]
    assert record.status == "ingested" and record.frame_type == "SPH_SPARTA_RAW"
    assert "no IRPixelAvgFrame table extension (dtts_x, dtts_y not available)" in record.reason
    edge = _conditions(factory, night.ids["edge"])
    assert P.DTTS_X not in edge
    _check(edge, _expected([0, 1, 2]), 3)


# -- browse filters ---------------------------------------------------------------------------


def _ids(factory: Factory, resource: str, filters: dict[str, Any]) -> set[int]:
    response = factory.browse().browse(
        ADMIN,
        resource,
        BrowseRequest(browse_filters=filters, limit=-1),  # type: ignore[arg-type]
    )
    return {item["id"] for item in response.items}


def _items(factory: Factory, resource: str, filters: dict[str, Any]) -> dict[int, dict]:
    response = factory.browse().browse(
        ADMIN,
        resource,
        BrowseRequest(browse_filters=filters, limit=-1),  # type: ignore[arg-type]
    )
    return {item["id"]: item for item in response.items}


def test_data_list_condition_filters(night: Night) -> None:
    f, ids = night.factory, night.ids
    exposures = {ids["edge"], ids["ends"], ids["short"], ids["late"]}
    strehl = {n: _expected(i)[P.STREHL] for n, i in (("edge", [0, 1, 2]), ("ends", [3, 4]))}
    assert _ids(f, "data", {"STREHL": {"max": 0.51}}) == {ids["edge"]}
    assert _ids(f, "data", {"STREHL": {"min": 0.51, "max": 0.52}}) == {ids["ends"], ids["short"]}
    stored = _items(f, "data", {"DATA_FILE_ID": ids["ends"]})[ids["ends"]]["strehl"]
    assert stored == pytest.approx(strehl["ends"])
    assert _ids(f, "data", {"STREHL": stored}) == {ids["ends"]}
    assert _ids(f, "data", {"STREHL": None}) == {ids["late"], ids["dark"], ids["sparta"]}
    assert _ids(f, "data", {"WIND_SPEED": [10.0, 11.0]}) == exposures - {ids["late"]}
    # header values where nothing was linked (as before telemetry existed)
    assert _ids(f, "data", {"TAU0": {"min": 0.0014, "max": 0.0016}}) == {ids["late"]}
    assert _ids(f, "data", {"SEEING": {"min": 1.3}}) == {ids["late"], ids["dark"]}
    assert _ids(f, "data", {"AIRMASS": 1.1}) == exposures | {ids["dark"]}
    items = _items(f, "data", {"DATA_FILE_ID": ids["edge"]})
    item = items[ids["edge"]]
    assert item["strehl"] == pytest.approx(strehl["edge"])
    assert item["seeing"] == pytest.approx(_expected([0, 1, 2])[P.SEEING])
    assert item["wind_speed"] == pytest.approx(10.0) and item["airmass"] == pytest.approx(1.1)


def _process(factory: Factory, inputs: dict[int, str], user_id: int) -> int:
    with factory.sessions.begin() as session:
        recipe_id = session.query(Recipe.id).order_by(Recipe.id).first()[0]
        process = Process(
            recipe_id=recipe_id,
            user_id=user_id,
            status=ProcessStatus.DONE,
            created_at=datetime(2026, 1, 1),
            params={},
        )
        session.add(process)
        session.flush()
        for data_file_id, tag in inputs.items():
            session.add(ProcessInput(process_id=process.id, data_file_id=data_file_id, sof_tag=tag))
        return process.id


def _product(folder: Path, name: str) -> Path:
    header = fits.Header()
    header["HIERARCH HCDC PRO CATG"] = "HCI_CENTERED_CUBE"
    path = folder / f"{name}.fits"
    fits.PrimaryHDU(data=np.zeros((2, 4, 4), dtype=np.float32), header=header).writeto(path)
    return path


def test_process_list_condition_filters_and_provenance(night: Night, tmp_path: Path) -> None:
    f, ids = night.factory, night.ids
    user = f.users().add_user("alice", role="admin")
    reduced = _process(
        f, {ids["edge"]: "SCIENCE", ids["ends"]: "SCIENCE", ids["dark"]: "DARK"}, user.id
    )
    late = _process(f, {ids["late"]: "SCIENCE"}, user.id)
    night.ingest(_product(tmp_path, "cube"))
    cube = ids["cube"]
    with f.sessions.begin() as session:
        session.add(
            ProcessOutput(process_id=reduced, data_file_id=cube, category="HCI_CENTERED_CUBE")
        )
        session.flush()
        assert inherit_outputs(session, reduced, [cube]) == [cube]
    adi = _process(f, {cube: "SCIENCE"}, user.id)

    strehl = np.mean([_expected([0, 1, 2])[P.STREHL], _expected([3, 4])[P.STREHL]])
    seeing = np.mean([_expected([0, 1, 2])[P.SEEING], _expected([3, 4])[P.SEEING]])
    assert _ids(f, "process", {"STREHL": {"min": 0.5}}) == {reduced, adi}
    assert _ids(f, "process", {"STREHL": None}) == {late}
    # the dark's header seeing (5") is no sky condition: only the late exposure is that bad
    assert _ids(f, "process", {"SEEING": {"min": 1.3}}) == {late}
    assert _ids(f, "process", {"TAU0": {"max": 0.002}}) == {late}
    assert _ids(f, "process", {"WIND_SPEED": 10.0}) == {reduced, adi}
    assert _ids(f, "process", {"AIRMASS": {"min": 1.05, "max": 1.15}}) == {reduced, late, adi}
    items = _items(f, "process", {"PROCESS_ID": [reduced, adi]})
    for process_id in (reduced, adi):
        assert items[process_id]["strehl"] == pytest.approx(strehl)
        assert items[process_id]["seeing"] == pytest.approx(seeing)
    # the service's aggregate is the same rule: mean of the inputs' means, with their spread
    aggregate = f.conditions().process_conditions(reduced)
    assert aggregate.parameters[P.STREHL].stats.mean == pytest.approx(strehl)
    assert aggregate.parameters[P.STREHL].stats.n == 5
    assert aggregate.parameters[P.STREHL].stats.std > 0
    # conditions arriving later reach the product, then the process that used it
    table = tmp_path / "ambient.csv"
    table.write_text(site_csv([(at(t), 2.0, 0.001, 5.0, 9.0) for t in (0, 30, 60, 90, 120)]))
    f.conditions().import_site_files([table])
    assert _ids(f, "process", {"SEEING": 2.0}) == {reduced, adi}


def test_one_batch_spanning_a_year_links_each_stretch_on_its_own(
    factory: Factory, tmp_path: Path
) -> None:
    files = write_night(tmp_path / "raw")
    later = write_exposure(tmp_path / "raw" / "next_year.fits", start=at(365 * 86400), exptime=64.0)
    night = Night(factory, tmp_path)
    night.ingest(files["sparta"], files["edge"], later)
    _check(_conditions(factory, night.ids["edge"]), _expected([0, 1, 2]), 3)
    assert set(_conditions(factory, night.ids["next_year"])) == {P.SEEING, P.TAU0}


def test_an_older_database_catches_up(settings: Any, tmp_path: Path) -> None:
    from sqlalchemy import insert

    from hcdc_server.schema.migrate import upgrade
    from hcdc_server.schema.tables import DataFile

    factory = Factory(settings)
    factory.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(factory.engine, "0006")
    sparta = write_sparta_file(tmp_path / "old_sparta.fits", TRACK)
    common = {
        "size": 1,
        "storage": "reference",
        "instrument": "SPHERE",
        "is_raw": True,
        "category": "SCIENCE",
        "ingested_at": datetime(2020, 1, 1),
    }
    with factory.engine.begin() as conn:
        conn.execute(
            insert(DataFile.__table__).values(
                id=1,
                path=str(sparta),
                filename=sparta.name,
                checksum="a" * 64,
                frame_type="ACQUISITION",
                dpr_type="OBJECT,AO",
                **common,
            )
        )
        conn.execute(
            insert(DataFile.__table__).values(
                id=2,
                path=str(tmp_path / "old.fits"),
                filename="old.fits",
                checksum="b" * 64,
                frame_type="IRD_SCIENCE_DBI_RAW",
                dpr_type="OBJECT",
                date_obs=at(0),
                exptime=64.0,
                **common,
            )
        )
    upgrade(factory.engine)
    runner = CliRunner()
    env = {"HCDC_DATABASE_URL": factory.settings.database_url}
    result = runner.invoke(
        main, ["--data-dir", str(tmp_path / "d"), "conditions", "relink"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "1 SPARTA file(s) read, 1 exposure(s) linked" in result.output
    _check(_conditions(factory, 2), _expected([0, 1, 2]), 3)
    again = runner.invoke(
        main, ["--data-dir", str(tmp_path / "d"), "conditions", "relink"], env=env
    )
    assert "0 SPARTA file(s) read, 0 exposure(s) linked" in again.output
    factory.close()
