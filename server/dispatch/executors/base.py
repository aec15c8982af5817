"""The executor interface: submit, poll, cancel (convention 6 of DESIGN.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hcdc_kernel.jobs.manifest import FailureClass

State = Literal["pending", "running", "finished", "lost"]


@dataclass(frozen=True)
class Submission:
    """A job to start: its spec file and directory, its name and time limit."""

    process_id: int
    spec_path: Path
    job_dir: Path
    name: str
    timeout_s: float | None


@dataclass(frozen=True)
class JobState:
    """What the executor knows of a job.

    For a finished job, ``exit_code`` is its status (negative: killed by that signal) and,
    when the executor itself saw why it ended abnormally, ``reason`` and ``failure_class``
    say so (a Slurm time-out, cancellation or node failure).
    """

    state: State
    exit_code: int | None = None
    reason: str | None = None
    failure_class: FailureClass | None = None
    node: str | None = None


class Executor(ABC):
    """Runs ``hcdc-job run <spec>`` somewhere; never touches the database."""

    name: str

    @abstractmethod
    def submit(self, jobs: Sequence[Submission]) -> list[str]:
        """Start jobs; return one executor job id per submission, in order."""

    @abstractmethod
    def poll(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """Current state of each job id."""

    @abstractmethod
    def cancel(self, job_ids: Sequence[str]) -> None:
        """Stop jobs (no error for jobs already ended)."""

    def close(self) -> None:
        """Release resources (jobs keep running: a restarted worker adopts them)."""
        return
