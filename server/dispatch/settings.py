"""Dispatcher settings, nested in :class:`hcdc_server.config.Settings` as ``worker`` and
``slurm``: ``HCDC_WORKER__<NAME>`` and ``HCDC_SLURM__<NAME>`` environment variables, or the
``[worker]`` and ``[slurm]`` tables of the settings file."""

from __future__ import annotations

import shutil
import sys

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_SCRIPT = """#!/bin/bash
#SBATCH --job-name={job_name}
#SBATCH --output={log_pattern}
#SBATCH --time={time_minutes}
#SBATCH --cpus-per-task={cpus}
{array_line}{extra_lines}
{select_spec}
exec {job_command} run "$SPEC"
"""


def default_job_command() -> str:
    """``hcdc-job`` where installed, else the same entry point through this interpreter."""
    found = shutil.which("hcdc-job")
    return found or f"{sys.executable} -m hcdc_kernel.jobs.cli"


class WorkerSettings(BaseModel):
    """How ``hcdc worker`` runs (``HCDC_WORKER__<NAME>``)."""

    model_config = ConfigDict(extra="forbid")

    capacity: int = Field(
        default=2,
        title="Capacity",
        description="Jobs running at once (local: processes in the pool; slurm: jobs queued).",
    )
    poll_interval_s: float = Field(
        default=1.0, title="Poll interval (s)", description="Seconds between queue scans."
    )
    stale_after_s: float = Field(
        default=60.0,
        title="Stale claim (s)",
        description="A running process whose worker has not beaten for this long is adopted.",
    )
    max_attempts: int = Field(
        default=3,
        title="Attempts",
        description="Tries of a process whose failures are transient (node failure, preemption).",
    )
    job_command: str = Field(
        default_factory=default_job_command,
        title="Job command",
        description="Command that runs a job spec (`hcdc-job`); `run <spec>` is appended.",
    )
    timeout_grace_s: float = Field(
        default=30.0,
        title="Timeout grace (s)",
        description="Beyond a job's own time limit, the executor kills it after this much.",
    )


class SlurmSettings(BaseModel):
    """Slurm commands and the job script template (``HCDC_SLURM__<NAME>``)."""

    model_config = ConfigDict(extra="forbid")

    sbatch: str = Field(default="sbatch", title="sbatch", description="sbatch command.")
    squeue: str = Field(default="squeue", title="squeue", description="squeue command.")
    scontrol: str = Field(default="scontrol", title="scontrol", description="scontrol command.")
    scancel: str = Field(default="scancel", title="scancel", description="scancel command.")
    partition: str | None = Field(
        default=None, title="Partition", description="Partition (default: the cluster's)."
    )
    cpus_per_task: int = Field(default=1, title="CPUs per job", description="--cpus-per-task.")
    extra_directives: list[str] = Field(
        default_factory=list,
        title="Extra directives",
        description="More `#SBATCH` options, e.g. `--mem=4G`, one per item.",
    )
    use_arrays: bool = Field(
        default=True,
        title="Job arrays",
        description="Submit the processes dispatched together as one job array.",
    )
    script_template: str = Field(
        default=DEFAULT_SCRIPT,
        title="Job script template",
        description="Python format string; fields: job_name, log_pattern, time_minutes, cpus, "
        "array_line, extra_lines, select_spec, job_command.",
    )
