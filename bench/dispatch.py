"""Dispatcher throughput: N trivial processes through the local executor vs bare subprocesses.

Usage: python bench/dispatch.py [--count 1000] [--capacity 4] [--slurm-count 100]

The baseline spawns the same command (``hcdc-job run <spec>``) with bare ``subprocess``, at
the same concurrency, in the same run; the goal is dispatched time <= 2x baseline. With a
Slurm cluster up, it also times Slurm with and without job arrays.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from hcdc_kernel.jobs.spec import JobSpec
from hcdc_server.config import Settings
from hcdc_server.dispatch.executors import LocalExecutor, slurm_ready
from hcdc_server.dispatch.settings import WorkerSettings
from hcdc_server.dispatch.worker import Worker, make_executor
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest


def bare(count: int, capacity: int, root: Path, job_command: str) -> float:
    """Spawn ``hcdc-job run`` for ``count`` specs, ``capacity`` at a time; wall seconds."""
    executor = LocalExecutor(job_command=job_command)
    specs = []
    for index in range(count):
        spec = JobSpec(
            recipe="hcdc_sleep",
            version="1.0",
            kind="python",
            entry="hcdc_kernel.recipes.trivial:run_sleep",
            job_dir=str(root / f"bare/{index}"),
            params={"seconds": 0.0, "fail": "none"},
        )
        specs.append(spec.write())
    start = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    for path in specs:
        while len(running) >= capacity:
            running = [p for p in running if p.poll() is None]
            if len(running) >= capacity:
                time.sleep(0.002)
        running.append(subprocess.Popen(executor.command(path)))
    for child in running:
        child.wait()
    return time.perf_counter() - start


def launch(factory: Factory, count: int, user: int) -> float:
    start = time.perf_counter()
    processes = factory.processes()
    for index in range(count):
        processes.launch(
            LaunchRequest(
                recipe="hcdc_sleep", params={"seconds": 0.0}, reference=str(index), force=True
            ),
            user_id=user,
        )
    return time.perf_counter() - start


def dispatched(factory: Factory, kind: str, settings: WorkerSettings) -> float:
    worker = Worker(
        factory, executor=make_executor(factory, kind=kind, settings=settings), settings=settings
    )
    start = time.perf_counter()
    worker.run(until_idle=True, timeout_s=3600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--capacity", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--slurm-count", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("HCDC_BENCH_DATABASE_URL"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hcdc-bench-dispatch-"))
    factory = Factory(
        Settings(data_dir=root / "data", database_url=args.database_url, resolve_targets=False)
    )
    factory.init_database()
    # An administrator: the hidden recipe hcdc_sleep is theirs, and no per-user quota applies.
    user = factory.users().add_user("bench", role="admin").id
    settings = WorkerSettings(capacity=args.capacity, poll_interval_s=0.01)
    print(
        f"database: {factory.engine.dialect.name}; {args.count} trivial processes; "
        f"{args.capacity} at a time; {os.cpu_count()} CPUs"
    )

    base = bare(args.count, args.capacity, root, settings.job_command)
    print(
        f"bare subprocess:   {base:7.2f} s  {args.count / base:7.1f} processes/s  "
        f"{1000 * base / args.count:6.1f} ms/process"
    )
    launch_s = launch(factory, args.count, user)
    print(f"launch (queueing): {launch_s:7.2f} s  {args.count / launch_s:7.1f} launches/s")
    local = dispatched(factory, "local", settings)
    print(
        f"hcdc worker local: {local:7.2f} s  {args.count / local:7.1f} processes/s  "
        f"{1000 * local / args.count:6.1f} ms/process"
    )
    overhead_ms = 1000 * (local - base) / args.count
    print(
        f"dispatch overhead: {overhead_ms:+.1f} ms/process of wall time; "
        f"ratio {local / base:.2f}x bare (goal <= 2x)"
    )

    reason = slurm_ready()
    if reason is not None:
        print(f"slurm: skipped ({reason})")
        return
    for arrays in (True, False):
        slurm = factory.settings.slurm.model_copy(update={"use_arrays": arrays})
        factory.settings = factory.settings.model_copy(update={"slurm": slurm})
        launch(factory, args.slurm_count, user)
        slurm_settings = WorkerSettings(capacity=args.slurm_count, poll_interval_s=0.5)
        elapsed = dispatched(factory, "slurm", slurm_settings)
        label = "with job arrays   " if arrays else "without job arrays"
        print(
            f"slurm {label}: {args.slurm_count} processes in {elapsed:6.2f} s  "
            f"{args.slurm_count / elapsed:6.1f} processes/s"
        )
    factory.close()


if __name__ == "__main__":
    main()
