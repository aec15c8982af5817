"""kill -9 of the API server in the middle of a batch launch, and of ``hcdc ingest`` mid-way.

Each kill lands inside an open write transaction (observed, not guessed): SQLite's write lock
is held, or the PostgreSQL backend of the server has a transaction id. After a restart nothing
is half there: a batch has all its processes or does not exist, every file is stored once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from hcdc_server.schema.tables import DataFile
from tests.conftest import POSTGRES_URL
from tests.reliability.support import (
    batch_sizes,
    credentials,
    data_file_paths,
    hcdc_command,
    hcdc_env,
    kill9,
    processes_without_inputs,
    running_server,
    start_server,
    write_frames,
)

FRAMES = 60


def _writer_active(database_url: str, application_name: str) -> bool:
    """Whether the server holds an open write transaction right now."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            probe.close()
        return False
    assert POSTGRES_URL
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :name AND backend_xid IS NOT NULL"
                    ),
                    {"name": application_name},
                )
            )
    finally:
        admin.dispose()


def _tagged(database_url: str, name: str) -> str:
    """The URL with an application name, so the test can find the server's PG backends."""
    if database_url.startswith("sqlite"):
        return database_url
    sep = "&" if "?" in database_url else "?"
    return f"{database_url}{sep}application_name={name}"


@pytest.mark.slow
def test_kill_9_during_a_batch_launch_leaves_all_or_nothing(factory, settings, tmp_path):
    records = []
    factory.ingest().ingest(write_frames(tmp_path / "frames", FRAMES), on_record=records.append)
    selection = [r.id for r in records]
    headers = credentials(factory)
    body = {"recipe": "hcdc_sleep", "selection": selection, "force": True}
    name = f"hcdc_kill_{uuid.uuid4().hex[:8]}"
    url = _tagged(settings.resolved_database_url, name)

    server = start_server(settings, headers, tmp_path / "serve1.log", database_url=url)
    try:
        first = httpx.post(f"{server.url}/api/processes", json=body, headers=headers, timeout=120)
        assert first.status_code == 201, first.text
        assert len(first.json()["processes"]) == FRAMES
        outcome: dict[str, object] = {}

        def launch() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{server.url}/api/processes", json=body, headers=headers, timeout=120
                )
            except httpx.TransportError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=launch)
        thread.start()
        deadline = time.monotonic() + 60
        while not _writer_active(settings.resolved_database_url, name):
            assert thread.is_alive(), f"the launch ended before the kill: {outcome}"
            assert time.monotonic() < deadline, "the launch never opened its transaction"
            time.sleep(0.01)
        kill9(server.process)
        thread.join(timeout=60)
    finally:
        server.stop()
    assert "error" in outcome, f"the killed launch got an answer: {outcome}"

    # Only the launch that was answered exists, whole; the killed one left nothing.
    assert batch_sizes(factory) == {first.json()["batch_id"]: FRAMES}
    assert processes_without_inputs(factory) == []

    with running_server(settings, headers, tmp_path / "serve2.log") as restarted:
        again = httpx.post(
            f"{restarted.url}/api/processes", json=body, headers=headers, timeout=120
        )
        assert again.status_code == 201, again.text
        listed = httpx.post(
            f"{restarted.url}/api/process_list", json={"count": True}, headers=headers, timeout=30
        )
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"count": 2 * FRAMES}
    sizes = batch_sizes(factory)
    assert sorted(sizes.values()) == [FRAMES, FRAMES]
    assert processes_without_inputs(factory) == []


def _ingest(settings, paths_dir: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [hcdc_command(), "ingest", "--copy", "--json", str(paths_dir)],
            env=hcdc_env(settings, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stored(factory) -> int:
    with factory.sessions() as session:
        return int(session.scalar(select(func.count(DataFile.id))) or 0)


@pytest.mark.slow
def test_kill_9_during_ingest_then_rerun_completes_without_duplicates(factory, settings, tmp_path):
    total = 300
    source = tmp_path / "incoming"
    write_frames(source, total)
    first = _ingest(settings, source, tmp_path / "ingest1.log", HCDC_INGEST_BATCH_SIZE="20")
    deadline = time.monotonic() + 120
    while _stored(factory) < 40:
        assert first.poll() is None, (tmp_path / "ingest1.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.01)
    kill9(first)
    before = _stored(factory)
    assert 40 <= before < total, f"killed too late: {before} of {total} already stored"
    stored_before = set(data_file_paths(factory))

    rerun = subprocess.run(
        [hcdc_command(), "ingest", "--copy", "--json", str(source)],
        env=hcdc_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    records = [json.loads(line) for line in rerun.stdout.splitlines() if line.startswith("{")]
    assert sorted(Path(r["path"]).name for r in records) == sorted(
        p.name for p in source.iterdir()
    ), "one record per file"
    statuses = {r["path"]: r["status"] for r in records}
    assert list(statuses.values()).count("unchanged") == before
    assert list(statuses.values()).count("ingested") == total - before
    stored_ids = {r["id"] for r in records if r["status"] == "unchanged"}
    assert len(stored_ids) == before, "each earlier file points at its own stored row"
    assert all(r["reason"] is None for r in records if r["status"] == "ingested")

    paths = data_file_paths(factory)
    assert len(paths) == total == len(set(paths))
    assert stored_before <= set(paths), "rows stored before the kill are kept as they were"
    copies = sorted(p.name for p in settings.raw_dir.rglob("*") if p.is_file())
    # The files copied in the batch in flight are reused, not copied a second time.
    assert copies == sorted(p.name for p in source.iterdir())
