"""Local executor: each job a subprocess of this machine, as many at once as the worker allows.

Job ids are ``<pid>:<start ticks>``: the start time read from ``/proc`` tells a job apart
from an unrelated process that reuses its pid, so a restarted worker can adopt jobs that
outlived its predecessor (they are started in their own session and survive it).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from hcdc_kernel.jobs.runner import EXIT_TIMEOUT
from hcdc_server.dispatch.executors.base import Executor, JobState, Submission

EXECUTOR_LOG = "executor.log"


def _start_ticks(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


class LocalExecutor(Executor):
    """Subprocesses on this machine."""

    name = "local"

    def __init__(self, *, job_command: str) -> None:
        self._command = shlex.split(job_command)
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def command(self, spec_path: Path) -> list[str]:
        """The command line of a job (the benchmark spawns the same one bare)."""
        return [*self._command, "run", str(spec_path)]

    def submit(self, jobs: Sequence[Submission]) -> list[str]:
        ids = []
        for job in jobs:
            job.job_dir.mkdir(parents=True, exist_ok=True)
            with (job.job_dir / EXECUTOR_LOG).open("ab") as log:
                child = subprocess.Popen(
                    self.command(job.spec_path),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            ticks = _start_ticks(child.pid) or "0"
            job_id = f"{child.pid}:{ticks}"
            self._children[job_id] = child
            ids.append(job_id)
        return ids

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        # Reap children that ended after their manifest was read, so none lingers as a zombie.
        for job_id, ended in list(self._children.items()):
            if job_id not in job_ids and ended.poll() is not None:
                del self._children[job_id]
        states = {}
        for job_id in job_ids:
            child = self._children.get(job_id)
            if child is not None:
                code = child.poll()
                if code is None:
                    states[job_id] = JobState("running")
                else:
                    del self._children[job_id]
                    states[job_id] = _finished(code)
                continue
            # A job adopted from a previous worker: not our child, its status is unknown.
            pid, _, ticks = job_id.partition(":")
            alive = _start_ticks(int(pid)) == ticks
            states[job_id] = JobState("running") if alive else JobState("finished")
        return states

    def cancel(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            pid, _, ticks = job_id.partition(":")
            if _start_ticks(int(pid)) == ticks:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(int(pid), signal.SIGKILL)
            child = self._children.pop(job_id, None)
            if child is not None:
                child.wait()

    def close(self) -> None:
        """Reap children that are ending; any others keep running for a later worker to adopt."""
        for child in self._children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        self._children.clear()


def _finished(code: int) -> JobState:
    if code == EXIT_TIMEOUT:
        return JobState("finished", exit_code=code, failure_class="timeout")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return JobState("finished", exit_code=code, reason=f"killed by signal {name}")
    return JobState("finished", exit_code=code)
