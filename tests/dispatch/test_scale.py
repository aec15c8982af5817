"""Several workers on one queue: hundreds of processes, each run exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from hcdc_server.dispatch.queue import ProcessQueue
from hcdc_server.dispatch.worker import Worker, make_executor
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import Process
from tests.dispatch.helpers import RUNS, recorded_runs, user_id, worker_settings

WORKERS = 3
PROCESSES = 300


def _launch(factory: Factory, count: int, users: list[int]) -> list[int]:
    request = LaunchRequest(recipe="hcdc_sleep", params={"record": RUNS}, force=True)
    processes = factory.processes()
    return [
        processes.launch(request, user_id=users[i % len(users)]).processes[0].id
        for i in range(count)
    ]


@pytest.mark.slow
def test_three_workers_run_300_processes_each_exactly_once(factory, settings):
    users = [user_id(factory, f"user{i}") for i in range(3)]
    ids = _launch(factory, PROCESSES, users)
    workers: list[Worker] = []
    threads = []
    failures: list[BaseException] = []
    for _ in range(WORKERS):
        # One engine and worker id each, as workers on separate machines have.
        own = Factory(settings)
        ws = worker_settings(capacity=8, poll_interval_s=0.05)
        worker = Worker(own, executor=make_executor(own, kind="local", settings=ws), settings=ws)
        workers.append(worker)

        def run(worker: Worker = worker) -> None:
            try:
                worker.run(until_idle=True, timeout_s=900)
            except BaseException as exc:  # reported below, with the thread's name
                failures.append(exc)

        threads.append(threading.Thread(target=run))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker._factory.close()
    assert not failures, failures
    submitted = Counter(pid for worker in workers for pid in worker.submitted)
    assert sorted(submitted) == sorted(ids), "every process was submitted"
    assert max(submitted.values()) == 1, "no process was submitted twice"
    assert sum(1 for worker in workers if worker.submitted) >= 2, "the workers shared the queue"
    assert recorded_runs(settings) == sorted(ids), "every process ran exactly once"
    with factory.sessions() as session:
        rows = session.execute(
            select(Process.status, Process.attempt).where(Process.id.in_(ids))
        ).all()
    assert Counter(status for status, _ in rows) == {"done": PROCESSES}
    assert {attempt for _, attempt in rows} == {1}


def test_claims_from_many_claimers_never_overlap(factory):
    """Six claimers with their own engines take every queued process once (no job runs)."""
    users = [user_id(factory, f"user{i}") for i in range(3)]
    ids = _launch(factory, 120, users)
    claims: dict[int, list[int]] = {n: [] for n in range(6)}
    barrier = threading.Barrier(len(claims))
    factories = [Factory(factory.settings) for _ in claims]

    def claim(n: int) -> None:
        queue = ProcessQueue(factories[n].sessions)
        barrier.wait()
        while got := queue.claim(f"claimer{n}", 4, executor="local"):
            claims[n] += got

    threads = [threading.Thread(target=claim, args=(n,)) for n in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for own in factories:
        own.close()
    taken = Counter(pid for got in claims.values() for pid in got)
    assert sorted(taken) == sorted(ids)
    assert max(taken.values()) == 1
