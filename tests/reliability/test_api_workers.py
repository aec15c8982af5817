"""Several API processes: kill -9 of one worker under load, and two replicas on one database.

API processes share nothing but the database and the data directory. A worker killed in the
middle of requests loses only the requests it had not answered (an answered launch is stored
whole) and is replaced; replicas serve the same load with no error, and a token revoked
anywhere is refused by every process on the next request.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema
from tests.reliability.support import (
    api_workers,
    batch_sizes,
    credentials,
    kill9,
    running_server,
)

LAUNCH = {"recipe": "hcdc_sleep", "force": True}


class Load:
    """Client threads calling ``call`` in a loop until stopped; outcomes tallied."""

    def __init__(self, threads: int, call: Callable[[httpx.Client, int], str]) -> None:
        self.outcomes: Counter[str] = Counter()
        self.problems: list[str] = []
        self.launched: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._call = call
        self._threads = [threading.Thread(target=self._loop, args=(n,)) for n in range(threads)]

    def _loop(self, n: int) -> None:
        with httpx.Client(timeout=60) as http:
            turn = 0
            while not self._stop.is_set():
                try:
                    outcome = self._call(http, n + turn)
                except httpx.TransportError as exc:
                    outcome = f"transport: {type(exc).__name__}"
                turn += 1
                with self._lock:
                    self.outcomes[outcome.split(" ", 1)[0]] += 1
                    if not outcome.startswith("ok"):
                        self.problems.append(outcome)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def record_launch(self, response: httpx.Response) -> str:
        if response.status_code != 201:
            return f"error {response.status_code} {response.text[:200]}"
        with self._lock:
            self.launched.append(response.json()["batch_id"])
        return "ok"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _until(condition: Callable[[], object], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_kill_9_of_one_api_worker_loses_no_answered_request(factory, settings, tmp_path):
    headers = credentials(factory)
    with running_server(settings, headers, tmp_path / "serve.log", workers=2) as server:
        _until(lambda: len(api_workers(server.process)) == 2, "two API workers")
        victim = api_workers(server.process)[0]

        def call(http: httpx.Client, turn: int) -> str:
            if turn % 2:
                reply = http.post(f"{server.url}/api/process_list", json={}, headers=headers)
                return "ok" if reply.status_code == 200 else f"error {reply.status_code}"
            reply = http.post(f"{server.url}/api/processes", json=LAUNCH, headers=headers)
            return load.record_launch(reply)

        load = Load(6, call)
        with load:
            time.sleep(3)
            os.kill(victim, signal.SIGKILL)
            time.sleep(3)
            # uvicorn replaces the dead worker: two again, the victim not among them.
            _until(
                lambda: len(set(api_workers(server.process)) - {victim}) == 2,
                "the killed worker to be replaced",
            )
            time.sleep(2)
        after = httpx.post(f"{server.url}/api/process_list", json={}, headers=headers, timeout=30)
        assert after.status_code == 200
    # Only calls in flight on the killed worker may have failed, and only at the transport.
    assert all(p.startswith("transport") for p in load.problems), load.problems[:5]
    assert len(load.problems) <= 6, load.problems
    assert load.outcomes["ok"] > 20, load.outcomes
    # Every answered launch is stored whole; an unanswered one left nothing half-written.
    sizes = batch_sizes(factory)
    assert all(sizes.get(batch) == 1 for batch in load.launched)
    assert set(sizes.values()) == {1}, sizes


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[Factory]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    with postgres_schema(POSTGRES_URL, prefix="t") as url:
        made = Factory(
            Settings(data_dir=tmp_path / "data", database_url=url, resolve_targets=False)
        )
        made.init_database()
        yield made
        made.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_two_replicas_serve_one_database_under_load_and_see_revocations(postgres_factory, tmp_path):
    factory = postgres_factory
    settings = factory.settings
    headers = credentials(factory)
    users = factory.users()
    users.add_user("bob")
    bob = users.create_token("bob")
    bob_headers = {"X-Auth-Ident": "bob", "X-Auth-Token": bob.token}
    with (
        running_server(settings, headers, tmp_path / "a.log", workers=2) as a,
        running_server(settings, headers, tmp_path / "b.log", workers=2) as b,
    ):
        replicas = (a.url, b.url)

        def call(http: httpx.Client, turn: int) -> str:
            url = replicas[turn % 2]
            kind = turn % 4
            if kind == 0:
                return load.record_launch(
                    http.post(f"{url}/api/processes", json=LAUNCH, headers=headers)
                )
            if kind == 1 and load.launched:
                batch = load.launched[-1]
                reply = http.post(
                    f"{url}/api/process_list",
                    json={"browse_filters": {"BATCH_ID": batch}},
                    headers=headers,
                )
                ok = reply.status_code == 200 and len(reply.json()["items"]) == 1
                return "ok" if ok else f"error {reply.status_code} {reply.text[:200]}"
            reply = http.post(f"{url}/api/process_list", json={"count": True}, headers=bob_headers)
            return "ok" if reply.status_code == 200 else f"error {reply.status_code}"

        load = Load(8, call)
        with load:
            time.sleep(10)
        assert load.problems == [], load.problems[:5]
        assert load.outcomes["ok"] > 50, load.outcomes
        # Both replicas hold bob's token in their caches; a revocation made elsewhere (here,
        # the CLI's service) is refused by both on the very next request.
        for url in replicas:
            assert httpx.get(f"{url}/api/me", headers=bob_headers).status_code == 200
        users.revoke_token(bob.info.key)
        for url in replicas:
            for _ in range(3):  # every worker process of the replica
                refused = httpx.get(f"{url}/api/me", headers=bob_headers)
                assert refused.status_code == 401, refused.text
    sizes = batch_sizes(factory)
    assert all(sizes.get(batch) == 1 for batch in load.launched)


def test_kill_9_of_the_server_ends_its_workers(settings, factory, tmp_path):
    """No orphan keeps the port and answers after the server was killed."""
    headers = credentials(factory)
    with running_server(settings, headers, tmp_path / "serve.log", workers=2) as server:
        _until(lambda: len(api_workers(server.process)) == 2, "two API workers")
        workers = api_workers(server.process)
        kill9(server.process)
        _until(lambda: not any(map(_alive, workers)), "the workers to end")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.url}/api/hub/health", timeout=5)
