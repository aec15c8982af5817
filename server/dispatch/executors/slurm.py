"""Slurm executor: ``sbatch`` (job arrays for processes dispatched together), ``squeue`` and
``scontrol`` for state, ``scancel`` to stop.

Without slurmdbd, ``sacct`` is off (DESIGN.md): running and pending jobs come from
``squeue``, finished ones from ``scontrol show job`` (kept for ``MinJobAge`` seconds).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from hcdc_kernel.jobs.manifest import FailureClass
from hcdc_server.dispatch.executors.base import Executor, JobState, Submission
from hcdc_server.dispatch.settings import SlurmSettings
from hcdc_server.exceptions import StorageError

_PENDING = {"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "REQUEUE_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}
#: Abnormal end states: failure class and the words hcdc reports.
_ENDED: dict[str, tuple[FailureClass | None, str | None]] = {
    "COMPLETED": (None, None),
    "FAILED": (None, None),
    "TIMEOUT": ("timeout", "Slurm time limit reached (state TIMEOUT)"),
    "DEADLINE": ("timeout", "Slurm deadline reached (state DEADLINE)"),
    "CANCELLED": ("fatal", "cancelled in Slurm outside hcdc (state CANCELLED)"),
    "OUT_OF_MEMORY": ("fatal", "out of memory (Slurm state OUT_OF_MEMORY)"),
    "NODE_FAIL": ("transient", "node failure (Slurm state NODE_FAIL)"),
    "BOOT_FAIL": ("transient", "node boot failure (Slurm state BOOT_FAIL)"),
    "PREEMPTED": ("transient", "preempted (Slurm state PREEMPTED)"),
}
_FIELD = re.compile(r"(\w+)=(\S*)")


def slurm_ready(settings: SlurmSettings | None = None) -> str | None:
    """None when jobs can be submitted here, else why not (for skips and messages)."""
    settings = settings or SlurmSettings()
    if shutil.which(settings.sbatch) is None:
        return f"{settings.sbatch} not found on PATH (Slurm is not installed)"
    try:
        result = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = result.stdout.split()
    if result.returncode != 0 or not any(
        s.rstrip("*") in ("idle", "mixed", "allocated", "completing") for s in states
    ):
        return (
            f"the Slurm cluster is not up (sinfo: {result.stderr.strip() or states or 'no nodes'})"
        )
    return None


class SlurmExecutor(Executor):
    """Jobs submitted to Slurm with a script from the configured template."""

    name = "slurm"

    def __init__(self, *, settings: SlurmSettings, job_command: str, scripts_dir: Path) -> None:
        self._settings = settings
        self._command = job_command
        self._scripts = scripts_dir

    def submit(self, jobs: Sequence[Submission]) -> list[str]:
        if not jobs:
            return []
        if self._settings.use_arrays and len(jobs) > 1:
            return self._submit_array(jobs)
        return [self._submit_array([job])[0] for job in jobs]

    def _submit_array(self, jobs: Sequence[Submission]) -> list[str]:
        self._scripts.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        limits = [j.timeout_s for j in jobs if j.timeout_s]
        # The job enforces its own limit; Slurm's (whole minutes) is the backstop.
        minutes = max(1, math.ceil((max(limits) + 60) / 60)) if limits else 0
        if len(jobs) == 1:
            select_spec = f'SPEC="{jobs[0].spec_path}"'
            array_line = ""
            log_pattern = jobs[0].job_dir / "slurm-%j.out"
            name = jobs[0].name
        else:
            listing = self._scripts / f"array-{token}.txt"
            listing.write_text("".join(f"{j.spec_path}\n" for j in jobs))
            select_spec = f'SPEC="$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "{listing}")"'
            array_line = f"#SBATCH --array=0-{len(jobs) - 1}\n"
            log_pattern = self._scripts / "slurm-%A_%a.out"
            name = f"hcdc-batch-{token}"
        extra = list(self._settings.extra_directives)
        if self._settings.partition:
            extra.append(f"--partition={self._settings.partition}")
        script = self._settings.script_template.format(
            job_name=name,
            log_pattern=log_pattern,
            time_minutes=minutes if minutes else "UNLIMITED",
            cpus=self._settings.cpus_per_task,
            array_line=array_line,
            extra_lines="".join(f"#SBATCH {d}\n" for d in extra),
            select_spec=select_spec,
            job_command=self._command,
        )
        path = self._scripts / f"job-{token}.sh"
        path.write_text(script)
        result = self._run([self._settings.sbatch, "--parsable", str(path)])
        job_id = result.strip().split(";")[0]
        if len(jobs) == 1:
            return [job_id]
        return [f"{job_id}_{index}" for index in range(len(jobs))]

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        if not job_ids:
            return {}
        states: dict[str, JobState] = {}
        listing = self._run(
            [self._settings.squeue, "-h", "-r", "-o", "%i|%T|%N", "-j", ",".join(job_ids)],
            check=False,
        )
        for line in listing.splitlines():
            parts = line.strip().split("|")
            if len(parts) != 3 or parts[0] not in job_ids:
                continue
            job_id, state, node = parts
            if state in _RUNNING:
                states[job_id] = JobState("running", node=node or None)
            elif state in _PENDING:
                states[job_id] = JobState("pending")
        for job_id in job_ids:
            if job_id not in states:
                states[job_id] = self._show(job_id)
        return states

    def _show(self, job_id: str) -> JobState:
        text = self._run([self._settings.scontrol, "-o", "show", "job", job_id], check=False)
        fields = dict(_FIELD.findall(text))
        state = fields.get("JobState")
        if state is None:
            return JobState("lost", reason=f"Slurm no longer knows job {job_id}")
        if state in _RUNNING:
            return JobState("running", node=fields.get("NodeList"))
        if state in _PENDING:
            return JobState("pending")
        code_text = fields.get("ExitCode", "0:0")
        code, _, sig = code_text.partition(":")
        exit_code = -int(sig) if sig and sig != "0" else int(code or 0)
        failure_class, reason = _ENDED.get(state, ("fatal", f"Slurm state {state}"))
        return JobState(
            "finished",
            exit_code=exit_code,
            reason=reason,
            failure_class=failure_class,
            node=fields.get("NodeList"),
        )

    def cancel(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            self._run([self._settings.scancel, *job_ids], check=False)

    def _run(self, command: list[str], *, check: bool = True) -> str:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StorageError(f"{command[0]} failed: {exc}") from exc
        if check and result.returncode != 0:
            raise StorageError(f"{' '.join(command[:2])} failed: {result.stderr.strip()}")
        return result.stdout
