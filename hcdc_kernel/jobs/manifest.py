"""What a job answers: ``manifest.json`` (result) and ``progress.json`` (while it runs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from hcdc_kernel.jobs.spec import MANIFEST_FILE, PROGRESS_FILE, write_atomic

JobStatus = Literal["ok", "error"]
#: How a failure is handled: ``transient`` may be retried; the others are final.
FailureClass = Literal["fatal", "transient", "timeout", "usage"]


@dataclass(frozen=True)
class ProductRecord:
    """A file the recipe wrote: absolute path, product category and its QC keywords."""

    path: str
    category: str | None
    qc: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobManifest:
    """The result of one job (written once, at its end)."""

    status: JobStatus
    recipe: str
    version: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime
    products: tuple[ProductRecord, ...] = ()
    qc: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    failure_class: FailureClass | None = None
    process_id: int | None = None
    #: How the job's writes were confined, e.g. ``landlock ABI 7``, or why they were not.
    sandbox: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def to_json(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "recipe": self.recipe,
                "version": self.version,
                "host": self.host,
                "pid": self.pid,
                "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat(),
                "duration_s": self.duration_s,
                "products": [
                    {"path": p.path, "category": p.category, "qc": dict(p.qc)}
                    for p in self.products
                ],
                "qc": dict(self.qc),
                "error": self.error,
                "failure_class": self.failure_class,
                "process_id": self.process_id,
                "sandbox": self.sandbox,
            },
            indent=1,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> JobManifest:
        data = json.loads(text)
        return cls(
            status=data["status"],
            recipe=data["recipe"],
            version=data["version"],
            host=data["host"],
            pid=data["pid"],
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
            products=tuple(
                ProductRecord(path=p["path"], category=p.get("category"), qc=p.get("qc", {}))
                for p in data.get("products", ())
            ),
            qc=data.get("qc", {}),
            error=data.get("error"),
            failure_class=data.get("failure_class"),
            process_id=data.get("process_id"),
            sandbox=data.get("sandbox"),
        )

    def write(self, job_dir: Path) -> None:
        write_atomic(job_dir / MANIFEST_FILE, self.to_json())


def read_manifest(job_dir: Path) -> JobManifest | None:
    """The job's manifest, or None while there is none (running, or crashed before its end)."""
    try:
        return JobManifest.from_json((job_dir / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class JobProgress:
    """Progress 0-100 with a short message, and where the job runs."""

    progress: float
    message: str
    host: str
    pid: int
    updated_at: datetime

    def write(self, job_dir: Path) -> None:
        write_atomic(
            job_dir / PROGRESS_FILE,
            json.dumps(
                {
                    "progress": self.progress,
                    "message": self.message,
                    "host": self.host,
                    "pid": self.pid,
                    "updated_at": self.updated_at.isoformat(),
                }
            ),
        )


def read_progress(job_dir: Path) -> JobProgress | None:
    try:
        data = json.loads((job_dir / PROGRESS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return JobProgress(
        progress=float(data["progress"]),
        message=data.get("message", ""),
        host=data["host"],
        pid=int(data["pid"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


def log_tail(path: Path, *, lines: int = 30, max_bytes: int = 16384) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        with path.open("rb") as stream:
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - max_bytes))
            data = stream.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
