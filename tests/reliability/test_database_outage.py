"""The database away for 3 s while the API, the worker and an ingest run.

PostgreSQL: every part reaches the server through a TCP proxy that the test stops (open
connections break, new ones are refused). SQLite: another connection holds the write lock.
API calls get an answer (2xx, or 503 naming the database; never 500); the worker and the
ingest wait and go on; afterwards every file is stored once and every process ran once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hcdc_server.schema.tables import DataFile
from tests.dispatch.helpers import RUNS, recorded_runs, wait_for
from tests.reliability.support import (
    TcpProxy,
    credentials,
    data_file_paths,
    hcdc_command,
    hcdc_env,
    kill9,
    running_server,
    write_frames,
)

OUTAGE_S = 3.0
FILES = 150


@contextmanager
def _reachable_through(database_url: str) -> Iterator[tuple[str, TcpProxy | None]]:
    """The URL the processes under test use; for PostgreSQL, through a stoppable proxy."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield database_url, None
        return
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.stop()


@contextmanager
def _outage(database_url: str, proxy: TcpProxy | None) -> Iterator[threading.Thread]:
    """The database away for OUTAGE_S from entry, whatever the caller is blocked on meanwhile."""
    away = threading.Event()

    def run() -> None:
        if proxy is not None:
            proxy.stop()
            away.set()
            time.sleep(OUTAGE_S)
            proxy.start()
            return
        holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        away.set()
        time.sleep(OUTAGE_S)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=run)
    thread.start()
    away.wait(timeout=30)
    try:
        yield thread
    finally:
        thread.join()


def _stored(factory) -> int:
    with factory.sessions() as session:
        return int(session.scalar(select(func.count(DataFile.id))) or 0)


@pytest.mark.slow
def test_database_outage_gives_503_and_nothing_is_lost(factory, settings, tmp_path):
    headers = credentials(factory)
    source = tmp_path / "incoming"
    write_frames(source, FILES)
    with (
        _reachable_through(settings.resolved_database_url) as (url, proxy),
        running_server(settings, headers, tmp_path / "serve.log", database_url=url) as server,
    ):
        api = httpx.Client(base_url=server.url, headers=headers, timeout=60)
        body = {"recipe": "hcdc_sleep", "params": {"seconds": 2.0, "record": RUNS}}
        ids = []
        for _ in range(4):
            launched = api.post("/api/processes", json={**body, "force": True})
            assert launched.status_code == 201, launched.text
            ids.append(launched.json()["processes"][0]["id"])
        env = hcdc_env(settings, url, HCDC_INGEST_BATCH_SIZE="10")
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [hcdc_command(), "worker", "--executor", "local", "--poll", "0.2"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        ingest = subprocess.Popen(
            [hcdc_command(), "ingest", "--json", str(source)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            while _stored(factory) < 10 or factory.processes().get(ids[0]).status != "running":
                assert ingest.poll() is None, ingest.communicate()
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                assert time.monotonic() < deadline, "ingest and worker did not start"
                time.sleep(0.05)
            answers = []
            with _outage(settings.resolved_database_url, proxy) as away:
                while away.is_alive():
                    for method, path, payload in (
                        ("GET", f"/api/processes/{ids[0]}", None),
                        ("POST", "/api/process_list", {"count": True}),
                        ("POST", "/api/processes", {**body, "force": True}),
                    ):
                        answer = api.request(method, path, json=payload)
                        answers.append((path, answer.status_code, answer.json()))
                    time.sleep(0.2)
            assert_unavailable_answers(answers, expect_503=proxy is not None)
            # The service answers normally again at once.
            after = api.post("/api/process_list", json={"count": True})
            assert after.status_code == 200, after.text
            ids += [
                a[2]["processes"][0]["id"]
                for a in answers
                if a[0] == "/api/processes" and a[1] == 201
            ]
            out, err = ingest.communicate(timeout=180)
            assert ingest.returncode == 0, err[-3000:]
            statuses = wait_for(factory, ids, timeout_s=120)
            assert worker.poll() is None, "the worker survived the outage"
        finally:
            if ingest.poll() is None:
                kill9(ingest)  # type: ignore[arg-type]
            worker.terminate()
            worker.wait(timeout=30)
        api.close()

    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert sorted(Path(r["path"]).name for r in records) == sorted(p.name for p in source.iterdir())
    assert {r["status"] for r in records} <= {"ingested", "unchanged"}
    paths = data_file_paths(factory)
    assert len(paths) == FILES == len(set(paths))
    for pid in ids:
        assert statuses[pid] == "done", (pid, factory.processes().get(pid).error)
    assert recorded_runs(settings) == sorted(ids)


def assert_unavailable_answers(answers: list[tuple[str, int, object]], *, expect_503: bool) -> None:
    codes = {code for _, code, _ in answers}
    assert codes <= {200, 201, 503}, answers
    for _, code, payload in answers:
        if code == 503:
            assert payload["error"] == "database_unavailable"  # type: ignore[index]
            assert "database is unavailable" in payload["message"]  # type: ignore[index]
    if expect_503:
        assert 503 in codes, answers
