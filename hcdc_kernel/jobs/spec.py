"""Job specification: everything a job needs, written as JSON into its job directory.

Jobs never talk to the database (DESIGN.md): the dispatcher writes ``spec.json``, the executor
runs ``hcdc-job run spec.json``, and the job answers with ``manifest.json`` and
``progress.json`` beside it. The same files make local and Slurm execution one code path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: How a job confines its writes (``HCDC_JOB_SANDBOX``): see :mod:`hcdc_kernel.jobs.sandbox`.
SandboxMode = Literal["auto", "required", "off"]

SPEC_FILE = "spec.json"
MANIFEST_FILE = "manifest.json"
PROGRESS_FILE = "progress.json"
STARTED_FILE = "started.json"
LOG_FILE = "job.log"
PRODUCTS_DIR = "products"
#: The job's own temporary folder (``TMPDIR``), inside its directory.
TMP_DIR = "tmp"


@dataclass(frozen=True)
class JobInput:
    """One input frame: its absolute path and SOF tag."""

    path: str
    tag: str


@dataclass(frozen=True)
class JobSpec:
    """A recipe run, self-contained (paths are absolute, parameters already validated).

    ``path_params`` names the parameters of type ``path``: the job resolves them inside its
    directory (and refuses any that leads out of it) before the recipe sees them.
    """

    recipe: str
    version: str
    kind: str
    entry: str
    job_dir: str
    inputs: tuple[JobInput, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    cli_names: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    process_id: int | None = None
    attempt: int = 1
    path_params: tuple[str, ...] = ()
    sandbox: SandboxMode = "auto"

    @property
    def directory(self) -> Path:
        return Path(self.job_dir)

    @property
    def output_dir(self) -> Path:
        return self.directory / PRODUCTS_DIR

    def to_json(self) -> str:
        return json.dumps(
            {
                "recipe": self.recipe,
                "version": self.version,
                "kind": self.kind,
                "entry": self.entry,
                "job_dir": self.job_dir,
                "inputs": [{"path": i.path, "tag": i.tag} for i in self.inputs],
                "params": dict(self.params),
                "cli_names": dict(self.cli_names),
                "timeout_s": self.timeout_s,
                "process_id": self.process_id,
                "attempt": self.attempt,
                "path_params": list(self.path_params),
                "sandbox": self.sandbox,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        data = json.loads(text)
        return cls(
            recipe=data["recipe"],
            version=data["version"],
            kind=data["kind"],
            entry=data["entry"],
            job_dir=data["job_dir"],
            inputs=tuple(JobInput(path=i["path"], tag=i["tag"]) for i in data.get("inputs", ())),
            params=data.get("params", {}),
            cli_names=data.get("cli_names", {}),
            timeout_s=data.get("timeout_s"),
            process_id=data.get("process_id"),
            attempt=data.get("attempt", 1),
            path_params=tuple(data.get("path_params", ())),
            sandbox=data.get("sandbox", "auto"),
        )

    def write(self) -> Path:
        """Create the job directory and write ``spec.json`` (atomically); return its path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / SPEC_FILE
        write_atomic(path, self.to_json())
        return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        # A full disk leaves a partial temporary file: drop it, it holds space for nothing.
        tmp.unlink(missing_ok=True)
        raise
