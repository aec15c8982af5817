"""What a recipe run answers: ``manifest.json`` (result) and ``progress.json`` (while it runs).

One manifest type for every run: a job (esorex or Python, written by the job runner in its job
directory) and a Python recipe run in-process on files (written beside its products). It says
what ran (recipe, version, parameters, inputs with their roles), how it ended (``ok``, or
``error`` with a message and its failure class), what it wrote (products with their category
and QC values), where, with which software, and when.
"""

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
class InputRecord:
    """An input file and the role (SOF tag) it played: ``SCIENCE``, ``PSF``, ``CAL_DARK``..."""

    path: str
    role: str


def jsonable(value: Any) -> Any:
    """Plain JSON values (numpy scalars and arrays, paths, tuples; NaN as null)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


@dataclass(frozen=True)
class JobManifest:
    """What one run of a recipe did (written once, at its end).

    Attributes
    ----------
    status : {"ok", "error"}
        How the run ended; ``error`` says why and ``failure_class`` how it is handled.
    recipe, version : str
        Recipe name and version.
    host, pid
        Where it ran.
    started_at, ended_at : datetime
        Start and end.
    products : tuple of ProductRecord
        Products written (none when the run failed).
    qc : Mapping
        QC values of the run.
    process_id, sandbox
        The process a job ran for, and how its writes were confined (e.g.
        ``landlock ABI 7``, or why they were not).
    params : Mapping
        Parameters as resolved (defaults included), or as given when they could not be.
    inputs : tuple of InputRecord
        Input files and their roles.
    software : Mapping[str, str]
        Versions of Python and the science packages.
    log : str
        Path of the run's log file.
    """

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
    sandbox: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[InputRecord, ...] = ()
    software: Mapping[str, str] = field(default_factory=dict)
    log: str = ""

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def product(self, category: str) -> ProductRecord:
        """The first product of ``category``; KeyError when there is none."""
        for entry in self.products:
            if entry.category == category:
                return entry
        raise KeyError(category)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = jsonable(
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
                "params": dict(self.params),
                "inputs": [{"path": i.path, "role": i.role} for i in self.inputs],
                "software": dict(self.software),
                "log": self.log,
            }
        )
        return result

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=str)

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
            params=data.get("params", {}),
            inputs=tuple(
                InputRecord(path=i["path"], role=i["role"]) for i in data.get("inputs", ())
            ),
            software=data.get("software", {}),
            log=data.get("log", ""),
        )

    def write(self, directory: Path) -> Path:
        """Write ``manifest.json`` in ``directory`` (atomically); return its path."""
        path = Path(directory) / MANIFEST_FILE
        write_atomic(path, self.to_json())
        return path

    @classmethod
    def read(cls, directory_or_file: Path) -> JobManifest:
        """Read ``manifest.json`` from a folder (or the file itself)."""
        path = Path(directory_or_file)
        if path.is_dir():
            path = path / MANIFEST_FILE
        return cls.from_json(path.read_text())


def read_manifest(job_dir: Path) -> JobManifest | None:
    """The job's manifest, or None while there is none (running, or crashed before its end)."""
    try:
        return JobManifest.read(job_dir / MANIFEST_FILE)
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
