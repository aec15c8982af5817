"""The dispatcher on a real Slurm cluster: job arrays, crashes, time-outs, external scancel."""

from __future__ import annotations

import subprocess
import time

import pytest

from hcdc_server.dispatch.executors import SlurmExecutor, slurm_ready
from hcdc_server.dispatch.worker import Worker, make_executor
from hcdc_server.models.processes import LaunchRequest
from tests.dispatch.helpers import user_id, worker_settings

_NOT_READY = slurm_ready()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_NOT_READY is not None, reason=f"Slurm unavailable: {_NOT_READY}"),
]


def launch(factory, recipe, **params):
    request = LaunchRequest(recipe=recipe, params=params, force=True)
    return factory.processes().launch(request, user_id=user_id(factory)).processes[0].id


def slurm_worker(factory) -> Worker:
    settings = worker_settings(capacity=20, poll_interval_s=0.5)
    executor = make_executor(factory, kind="slurm", settings=settings)
    assert isinstance(executor, SlurmExecutor)
    return Worker(factory, executor=executor, settings=settings)


def test_a_batch_runs_as_one_job_array_and_crashes_are_reported(factory):
    ok = [launch(factory, "hcdc_echo", message=str(i)) for i in range(3)]
    crash = launch(factory, "hcdc_sleep", fail="crash")
    worker = slurm_worker(factory)
    worker.run(until_idle=True, timeout_s=180)
    processes = {i: factory.processes().get(i) for i in [*ok, crash]}
    array_ids = {p.executor_job_id.split("_")[0] for p in processes.values()}
    assert len(array_ids) == 1, "dispatched together, submitted as one array"
    assert sorted(p.executor_job_id.split("_")[1] for p in processes.values()) == [
        "0",
        "1",
        "2",
        "3",
    ]
    for pid in ok:
        assert processes[pid].status == "done", processes[pid].error
        assert processes[pid].executor == "slurm"
        assert len(processes[pid].outputs) == 1
        assert processes[pid].server
    failed = processes[crash]
    assert failed.status == "error"
    assert failed.failure_class == "fatal"
    assert "without writing a manifest" in failed.error
    assert "crashing on purpose" in failed.error


def test_external_scancel_and_time_limit_end_in_error(factory):
    factory.recipes().add_version("hcdc_sleep", "short", changes={"default_timeout_s": 1.0})
    long_one = launch(factory, "hcdc_sleep", seconds=120.0)
    worker = slurm_worker(factory)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        worker.step()
        process = factory.processes().get(long_one)
        if process.progress > 0:
            break
        time.sleep(0.5)
    assert process.status == "running" and process.executor_job_id
    subprocess.run(["scancel", process.executor_job_id], check=True)
    timed = (
        factory.processes()
        .launch(
            LaunchRequest(recipe="hcdc_sleep", version="short", params={"seconds": 60.0}),
            user_id=user_id(factory),
        )
        .processes[0]
        .id
    )
    worker.run(until_idle=True, timeout_s=120)
    cancelled = factory.processes().get(long_one)
    assert cancelled.status == "error"
    assert "cancelled in Slurm outside hcdc (state CANCELLED)" in cancelled.error
    assert "--- log tail ---" in cancelled.error
    timeout = factory.processes().get(timed)
    assert timeout.status == "error"
    assert timeout.failure_class == "timeout"
    assert "time limit of 1 s exceeded" in timeout.error
