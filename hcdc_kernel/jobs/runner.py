"""Run one job: spec in, manifest and progress files out.

The runner claims its job directory with an exclusive ``started.json`` marker, so a job that
a recovering dispatcher submits a second time never runs the recipe twice: the second copy
sees the marker and exits with :data:`EXIT_DUPLICATE`. A watchdog enforces the time limit
for every kind of recipe (Python code or esorex) and still writes the manifest.

Before the recipe runs, the job confines its own writes to its directory
(:mod:`hcdc_kernel.jobs.sandbox`; its temporary folder, ``TMPDIR``, lies inside) and resolves
its ``path`` parameters there, refusing any that leads out of it.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome, RecipeUsageError
from hcdc_kernel.jobs.manifest import (
    FailureClass,
    InputRecord,
    JobManifest,
    JobProgress,
    ProductRecord,
)
from hcdc_kernel.jobs.sandbox import SandboxUnavailableError, confine_writes
from hcdc_kernel.jobs.spec import LOG_FILE, STARTED_FILE, TMP_DIR, JobSpec
from hcdc_kernel.recipes.spec import resolve_job_path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DUPLICATE = 75
EXIT_TIMEOUT = 124


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Finisher:
    """Writes the manifest exactly once, whether the recipe or the watchdog gets there first."""

    def __init__(self, spec: JobSpec, started_at: datetime) -> None:
        self.spec = spec
        self.started_at = started_at
        self.host = socket.gethostname()
        self._lock = threading.Lock()
        self.done = False
        self.sandbox: str | None = None

    def finish(
        self,
        *,
        products: tuple[ProductRecord, ...] = (),
        qc: dict[str, Any] | None = None,
        error: str | None = None,
        failure_class: FailureClass | None = None,
    ) -> bool:
        with self._lock:
            if self.done:
                return False
            self.done = True
            JobManifest(
                status="error" if error else "ok",
                recipe=self.spec.recipe,
                version=self.spec.version,
                host=self.host,
                pid=os.getpid(),
                started_at=self.started_at,
                ended_at=_now(),
                products=products,
                qc=qc or {},
                error=error,
                failure_class=failure_class,
                process_id=self.spec.process_id,
                sandbox=self.sandbox,
                params=self.spec.params,
                inputs=tuple(InputRecord(path=i.path, role=i.tag) for i in self.spec.inputs),
                log=str(self.spec.directory / LOG_FILE),
            ).write(self.spec.directory)
            return True


def claim_start(job_dir: Path) -> bool:
    """Create the exclusive start marker; False when another copy of the job has it."""
    try:
        fd = os.open(job_dir / STARTED_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as stream:
        stream.write(
            json.dumps(
                {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": _now().isoformat(),
                    "slurm_job_id": _slurm_job_id(),
                }
            )
        )
    return True


def _slurm_job_id() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}"
    return os.environ.get("SLURM_JOB_ID")


def run_job(spec_path: Path) -> int:
    """Run the job described by ``spec_path``; return the process exit status.

    Everything the job prints goes to ``job.log`` in its directory. The manifest records
    success or the failure with its class (``usage`` for refused inputs or parameters,
    ``timeout``, ``fatal`` for a recipe error).
    """
    spec = JobSpec.from_json(spec_path.read_text())
    job_dir = spec.directory
    job_dir.mkdir(parents=True, exist_ok=True)
    if not claim_start(job_dir):
        return EXIT_DUPLICATE
    _redirect_output(job_dir / LOG_FILE)
    started_at = _now()
    finisher = _Finisher(spec, started_at)
    host = socket.gethostname()

    def report(percent: float, message: str) -> None:
        JobProgress(percent, message, host, os.getpid(), _now()).write(job_dir)

    report(0.0, "started")
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    _private_tmp(job_dir)
    try:
        finisher.sandbox = _confine(spec)
    except SandboxUnavailableError as exc:
        message = f"job sandbox required (HCDC_JOB_SANDBOX=required) but unavailable: {exc}"
        print(f"hcdc-job: {message}", flush=True)
        finisher.sandbox = f"none: {exc}"
        finisher.finish(error=message, failure_class="fatal")
        return EXIT_FAILED
    context = JobContext(
        recipe=spec.recipe,
        version=spec.version,
        inputs=spec.inputs,
        params=spec.params,
        cli_names=spec.cli_names,
        output_dir=spec.output_dir,
        log_path=job_dir / LOG_FILE,
        report=report,
        process_id=spec.process_id,
    )
    watchdog = _start_watchdog(spec, finisher, context)
    print(f"hcdc-job: {spec.recipe} {spec.version} on {host} (pid {os.getpid()})", flush=True)
    try:
        context.params = _resolve_paths(spec)
        outcome = _recipe_function(spec)(context)
        products = _products(outcome, spec.output_dir)
        qc = dict(outcome.qc) if outcome is not None else {}
        for product in products:
            for key, value in product.qc.items():
                qc.setdefault(key, value)
    except RecipeUsageError as exc:
        print(f"hcdc-job: refused: {exc}", flush=True)
        finisher.finish(error=str(exc), failure_class="usage")
        return EXIT_USAGE
    except Exception as exc:  # any recipe failure must end in a manifest
        traceback.print_exc()
        sys.stdout.flush()
        finisher.finish(error=f"{type(exc).__name__}: {exc}", failure_class="fatal")
        return EXIT_FAILED
    finally:
        if watchdog is not None:
            watchdog.cancel()
    if not finisher.finish(products=products, qc=qc):
        return EXIT_TIMEOUT
    report(100.0, "done")
    print(f"hcdc-job: done, {len(products)} product(s)", flush=True)
    return EXIT_OK


def _private_tmp(job_dir: Path) -> None:
    """A temporary folder inside the job directory, for this process and its children."""
    tmp = job_dir / TMP_DIR
    tmp.mkdir(exist_ok=True)
    for name in ("TMPDIR", "TEMP", "TMP"):
        os.environ[name] = str(tmp)
    tempfile.tempdir = None  # computed again from TMPDIR


def _confine(spec: JobSpec) -> str:
    """Confine writes to the job directory as ``spec.sandbox`` says; what was done.

    Raises :class:`SandboxUnavailableError` only when the sandbox is required.
    """
    if spec.sandbox == "off":
        return "off"
    try:
        return confine_writes([spec.directory.resolve()])
    except SandboxUnavailableError as exc:
        if spec.sandbox == "required":
            raise
        print(
            f"hcdc-job: WARNING: this job's writes are not confined to its directory: {exc} "
            "(HCDC_JOB_SANDBOX=required refuses to run without it)",
            flush=True,
        )
        return f"none: {exc}"


def _resolve_paths(spec: JobSpec) -> dict[str, Any]:
    """The parameters, each ``path`` one made absolute inside the job directory."""
    params = dict(spec.params)
    for name in spec.path_params:
        value = params.get(name)
        if not value:
            continue
        try:
            params[name] = str(resolve_job_path(spec.directory, str(value)))
        except ValueError as exc:
            raise RecipeUsageError(f"param {name}: {exc}") from exc
    return params


def _redirect_output(log_path: Path) -> None:
    """Send this process's stdout/stderr (and its children's) to the job log."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _start_watchdog(
    spec: JobSpec, finisher: _Finisher, context: JobContext
) -> threading.Timer | None:
    if not spec.timeout_s:
        return None

    def expire() -> None:
        context.kill_children()
        message = f"time limit of {spec.timeout_s:g} s exceeded"
        if finisher.finish(error=message, failure_class="timeout"):
            print(f"hcdc-job: {message}", flush=True)
            os._exit(EXIT_TIMEOUT)

    timer = threading.Timer(spec.timeout_s, expire)
    timer.daemon = True
    timer.start()
    return timer


def _recipe_function(spec: JobSpec) -> Callable[[JobContext], RecipeOutcome | None]:
    if spec.kind == "esorex":
        from hcdc_kernel.recipes.esorex import run_esorex_recipe

        return functools.partial(run_esorex_recipe, entry=spec.entry)
    if spec.kind == "python":
        module_name, _, function_name = spec.entry.partition(":")
        function: Callable[[JobContext], RecipeOutcome | None] = getattr(
            importlib.import_module(module_name), function_name
        )
        return function
    raise RecipeUsageError(f"unknown recipe kind {spec.kind!r}")


def _products(outcome: RecipeOutcome | None, output_dir: Path) -> tuple[ProductRecord, ...]:
    if outcome is not None and outcome.products is not None:
        return outcome.products
    from hcdc_kernel.recipes.esorex import collect_products

    return collect_products(output_dir)
