"""What a Python recipe receives from the job runner, and what it may return."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcdc_kernel.jobs.manifest import ProductRecord
from hcdc_kernel.jobs.spec import JobInput


class RecipeUsageError(ValueError):
    """The recipe refuses its inputs or parameters: a usage failure, never retried."""


@dataclass(frozen=True)
class RecipeOutcome:
    """Optionally returned by a Python recipe: its products and QC values.

    When a recipe returns ``None`` the runner collects every FITS file of the output folder.
    """

    products: tuple[ProductRecord, ...] | None = None
    qc: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    """Inputs, parameters and output folder of a run, with progress reporting.

    ``run_subprocess`` starts external programs (esorex) so that the job's time limit can stop
    them too.
    """

    recipe: str
    version: str
    inputs: tuple[JobInput, ...]
    params: Mapping[str, Any]
    cli_names: Mapping[str, str]
    output_dir: Path
    log_path: Path
    report: Callable[[float, str], None]
    process_id: int | None = None
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) to the dispatcher."""
        self.report(max(0.0, min(100.0, float(percent))), message)

    def inputs_by_tag(self) -> dict[str, list[Path]]:
        grouped: dict[str, list[Path]] = {}
        for item in self.inputs:
            grouped.setdefault(item.tag, []).append(Path(item.path))
        return grouped

    def run_subprocess(self, command: Sequence[str], *, cwd: Path | None = None) -> int:
        """Run ``command`` with output appended to the job log; return its exit status."""
        with self.log_path.open("ab") as log:
            child = subprocess.Popen(list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
            with self._lock:
                self._children.append(child)
            try:
                return child.wait()
            finally:
                with self._lock:
                    self._children.remove(child)

    def kill_children(self) -> None:
        """Stop running external programs (on time-out)."""
        with self._lock:
            for child in self._children:
                child.kill()
