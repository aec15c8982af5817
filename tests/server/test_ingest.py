"""Ingest: idempotence, moves, copies, bad files never stop a run, JSON lines and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from hcdc_server.cli import EXIT_REJECTED, main
from hcdc_server.schema.tables import DataFile, Observation, Target, WorkspaceData
from hcdc_server.services.ingest import IngestService
from tests.server.fits_factory import write_frame


def _count(factory, table=DataFile) -> int:
    with factory.sessions() as session:
        return session.scalar(select(func.count()).select_from(table))


def _collect(factory, paths, **kwargs):
    records = []
    summary = factory.ingest().ingest(paths, on_record=records.append, **kwargs)
    return summary, records


def test_ingest_folder_recursively_then_reingest_is_a_no_op(factory, tmp_path) -> None:
    raw = tmp_path / "raw"
    for i in range(3):
        write_frame(raw / "night1" / f"sci{i}.fits", value=i)
    write_frame(
        raw / "night1" / "calib" / "dark.fits",
        dpr=("CALIB", "DARK", "IMAGE"),
        date_obs="2019-05-28T10:30:00",
    )
    summary, records = _collect(factory, [raw])
    assert (summary.ingested, summary.unchanged, summary.rejected) == (4, 0, 0)
    assert {r.frame_type for r in records} == {"IRD_SCIENCE_DBI_RAW", "IRD_DARK_RAW"}
    assert all(str(r.obs_night) == "2019-05-27" for r in records)  # the morning dark too
    summary, records = _collect(factory, [raw])
    assert (summary.ingested, summary.unchanged) == (0, 4)
    assert all(r.id is not None for r in records)
    assert _count(factory) == 4
    # one observation (OBS ID 100) with one target, conditions from the science frames
    assert _count(factory, Observation) == 1
    assert _count(factory, Target) == 1
    with factory.sessions() as session:
        obs = session.scalars(select(Observation)).one()
        assert obs.seeing == 0.7 and obs.obs_id == 100


def test_moved_file_updates_its_path(factory, tmp_path) -> None:
    original = write_frame(tmp_path / "a" / "frame.fits")
    _, (first,) = _collect(factory, [original])
    moved = tmp_path / "b" / "frame.fits"
    moved.parent.mkdir()
    shutil.move(original, moved)
    summary, (record,) = _collect(factory, [moved])
    assert summary.unchanged == 1 and record.id == first.id
    assert "moved" in (record.reason or "")
    with factory.sessions() as session:
        assert session.get(DataFile, first.id).path == str(moved.resolve())
    assert _count(factory) == 1


def test_duplicate_content_is_not_stored_twice(factory, tmp_path) -> None:
    a = write_frame(tmp_path / "a.fits")
    b = tmp_path / "b.fits"
    shutil.copyfile(a, b)
    summary, _records = _collect(factory, [a, b])
    assert (summary.ingested, summary.unchanged) == (1, 1)
    assert _count(factory) == 1


def test_bad_files_are_rejected_with_reasons_and_the_rest_ingested(factory, tmp_path) -> None:
    good = write_frame(tmp_path / "in" / "good.fits")
    (tmp_path / "in" / "empty.fits").write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("not a FITS file\n" * 200)
    truncated = tmp_path / "in" / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[: 2880 + 10])
    header_only = tmp_path / "in" / "halfheader.fits"
    header_only.write_bytes(good.read_bytes()[:1000])
    corrupt = tmp_path / "in" / "corrupt.fits"
    corrupt.write_bytes(b"SIMPLE  =                    T" + b"\xff" * 2850)
    write_frame(tmp_path / "in" / "z_good2.fits", value=7)
    summary, records = _collect(factory, [tmp_path / "in"])
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in records}
    assert summary.ingested == 2 and summary.rejected == 5
    assert "empty file" in by_name["empty.fits"].reason
    assert "not a FITS file" in by_name["notes.txt"].reason
    assert "truncated FITS data" in by_name["truncated.fits"].reason
    assert "truncated FITS header" in by_name["halfheader.fits"].reason
    assert by_name["corrupt.fits"].status == "rejected"
    assert _count(factory) == 2


def test_copy_mode_stores_under_the_data_dir_by_night(factory, tmp_path) -> None:
    source = write_frame(tmp_path / "frame.fits")
    _, (record,) = _collect(factory, [source], copy=True)
    with factory.sessions() as session:
        row = session.get(DataFile, record.id)
        stored = row.path
        assert row.storage == "copy"
    assert stored == str((factory.settings.raw_dir / "2019-05-27" / "frame.fits").resolve())
    assert Path(stored).read_bytes() == source.read_bytes()
    assert source.exists()


def test_workspace_ingest_links_files(factory, tmp_path) -> None:
    factory.workspaces().add_workspace("ws1")
    write_frame(tmp_path / "f.fits")
    _collect(factory, [tmp_path], workspace="ws1", public=False)
    assert _count(factory, WorkspaceData) == 1
    with factory.sessions() as session:
        assert session.scalars(select(DataFile.is_public)).one() is False


def test_cli_json_lines_and_exit_status(factory, tmp_path) -> None:
    write_frame(tmp_path / "in" / "good.fits")
    (tmp_path / "in" / "bad.fits").write_bytes(b"garbage")
    runner = CliRunner()
    env = {
        "HCDC_DATABASE_URL": factory.settings.resolved_database_url,
        "HCDC_RESOLVE_TARGETS": "false",
    }
    args = ["--data-dir", str(factory.settings.data_dir), "ingest", "--json", str(tmp_path / "in")]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == EXIT_REJECTED, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert {tuple(sorted(line)) for line in lines} == {
        ("frame_type", "id", "obs_night", "path", "reason", "status")
    }
    statuses = {line["path"].rsplit("/", 1)[-1]: line["status"] for line in lines}
    assert statuses == {"bad.fits": "rejected", "good.fits": "ingested"}
    (tmp_path / "in" / "bad.fits").unlink()
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0
    assert json.loads(result.output)["status"] == "unchanged"


def test_parallel_scan_gives_the_same_records_in_order(factory, tmp_path) -> None:
    folder = tmp_path / "many"
    for i in range(230):
        write_frame(folder / f"f{i:03d}.fits", value=i, obs_id=100 + i % 3)
    (folder / "f100.fits").write_bytes(b"broken")
    service = IngestService(
        factory.sessions,
        raw_dir=factory.settings.raw_dir,
        targets=factory.targets(),
        limits=factory.ingest().limits,
        workers=2,
    )
    records = []
    summary = service.ingest([folder], on_record=records.append, batch_size=220)
    assert (summary.ingested, summary.rejected) == (229, 1)
    assert sorted(r.path for r in records) == sorted(str(p) for p in folder.iterdir())
    assert next(r for r in records if r.status == "rejected").path.endswith("f100.fits")
    assert _count(factory) == 229
    assert _count(factory, Observation) == 3
