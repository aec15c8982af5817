"""Python recipes that run in this process on files (the ``hci_*`` and IRDIS recipes).

Such a recipe is a :class:`~hcdc_kernel.recipes.spec.RecipeSpec` whose ``run`` is the function
that reduces the data; :func:`python_recipe` declares one. :func:`execute` runs it on files and
answers, never raising, with the one manifest type of hcdc
(:class:`~hcdc_kernel.jobs.manifest.JobManifest`), written as ``manifest.json`` beside the
products with a log (``recipe.log``). A failure ends in a manifest with ``status="error"`` and a
message a person can act on (the recipe family's own errors as they are, anything else as its
type and message, the traceback going to the log only); a failed run publishes nothing.
:func:`run_as_job` is how the job runner calls such a recipe on a job's inputs.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome, RecipeUsageError
from hcdc_kernel.jobs.manifest import InputRecord, JobManifest, ProductRecord
from hcdc_kernel.products.provenance import software_versions
from hcdc_kernel.recipes.spec import (
    InputSlot,
    OutputSpec,
    ParamSpec,
    RecipeSpec,
    RecipeValidationError,
)

__all__ = [
    "LOG_NAME",
    "LoadInputs",
    "RecipeError",
    "RecipeRun",
    "execute",
    "python_recipe",
    "run_as_job",
]

LOG_NAME = "recipe.log"

#: Files as a caller gives them: a list, or lists by SOF tag.
Files = Sequence[Path] | Mapping[str, Sequence[Path]]


class RecipeError(ValueError):
    """The inputs or parameters do not allow the recipe to produce a correct product."""


@dataclass
class RecipeRun:
    """A recipe being run: parameters, inputs, output folder, products and QC."""

    recipe: RecipeSpec
    params: Mapping[str, Any]
    inputs: Any  # what the recipe family's loader made of the files
    output_dir: Path
    log: logging.Logger
    report: Callable[[float], None]
    products: list[ProductRecord] = field(default_factory=list)
    qc: dict[str, Any] = field(default_factory=dict)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) and log the message."""
        if message:
            self.log.info("%5.1f %% %s", percent, message)
        self.report(max(0.0, min(100.0, float(percent))))

    def add_product(
        self, path: Path, category: str, qc: Mapping[str, Any] | None = None
    ) -> ProductRecord:
        """Record a written product."""
        entry = ProductRecord(path=str(Path(path).resolve()), category=category, qc=dict(qc or {}))
        self.products.append(entry)
        self.log.info("product %s: %s", category, Path(path).name)
        return entry

    def path(self, name: str) -> Path:
        """Path of a product file in the output folder."""
        return self.output_dir / name


#: A recipe family's reading of the files: (what ``RecipeRun.inputs`` holds, one record per
#: file with its role). It raises the family's errors for files the recipe cannot take.
LoadInputs = Callable[[RecipeSpec, Files], tuple[Any, tuple[InputRecord, ...]]]


def python_recipe(
    *,
    name: str,
    version: str,
    description: str,
    inputs: tuple[InputSlot, ...],
    params: tuple[ParamSpec, ...],
    outputs: tuple[str | OutputSpec, ...],
    run: Callable[[RecipeRun], None],
    entry: str,
    instrument: str | None = None,
    needs_validation: bool = False,
    auto_calibrate: bool = False,
    default_timeout_s: float = 3600.0,
) -> RecipeSpec:
    """The spec of an in-process Python recipe; its first slot is primary unless one is."""
    if inputs and not any(slot.primary for slot in inputs):
        first = inputs[0]
        inputs = (
            InputSlot(
                first.tag, first.frame_types, first.min_count, first.max_count, first.doc, True
            ),
            *inputs[1:],
        )
    return RecipeSpec(
        name=name,
        version=version,
        kind="python",
        entry=entry,
        description=description,
        instrument=instrument,
        inputs=inputs,
        params=params,
        outputs=tuple(o if isinstance(o, OutputSpec) else OutputSpec(o) for o in outputs),
        needs_validation=needs_validation,
        auto_calibrate=auto_calibrate,
        default_timeout_s=default_timeout_s,
        run=run,
    )


def resolve(recipe: RecipeSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter (``None`` where it has no default), ``given`` checked over defaults.

    Raises
    ------
    RecipeError
        Naming every unknown parameter and every bad value.
    """
    try:
        checked = recipe.resolve_params(dict(given))
    except RecipeValidationError as exc:
        raise RecipeError(str(exc)) from None
    return {p.name: p.default for p in recipe.params} | checked


def _logger(family: str, name: str, path: Path) -> tuple[logging.Logger, logging.Handler]:
    logger = logging.getLogger(f"hcdc.recipes.{family}.{name}.{id(path)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger, handler


def execute(
    recipes: Mapping[str, RecipeSpec],
    name: str,
    *,
    inputs: Files,
    params: Mapping[str, Any],
    output_dir: Path,
    load: LoadInputs,
    family: str,
    expected: tuple[type[Exception], ...] = (RecipeError,),
    progress: Callable[[float], None] | None = None,
) -> JobManifest:
    """Run recipe ``name`` of ``recipes`` (the ``family``, e.g. ``hci``) on files.

    ``load`` reads the files for the recipe; errors of the ``expected`` types are reported as
    their message alone (bad inputs or parameters, the family's data errors).
    """
    started = datetime.now(UTC)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    log_path = output / LOG_NAME
    logger, handler = _logger(family, name, log_path)

    def report(percent: float) -> None:
        if progress is not None:
            try:
                progress(percent)
            except Exception:  # a broken progress display must not fail the run
                logger.warning("progress callback failed:\n%s", traceback.format_exc())

    recipe = recipes.get(name)
    version = recipe.version if recipe is not None else ""
    resolved: Mapping[str, Any] = dict(params)
    records: tuple[InputRecord, ...] = ()
    run: RecipeRun | None = None
    error: str | None = None
    try:
        report(0.0)
        logger.info("recipe %s %s starts in %s", name, version, output)
        if recipe is None or recipe.run is None:
            known = ", ".join(sorted(recipes))
            raise RecipeError(f"unknown {family} recipe {name!r}; known: {known}")
        resolved = resolve(recipe, params)
        logger.info("parameters: %s", resolved)
        loaded, records = load(recipe, inputs)
        for record in records:
            logger.info("input %s: %s", record.role, record.path)
        run = RecipeRun(
            recipe=recipe,
            params=resolved,
            inputs=loaded,
            output_dir=output,
            log=logger,
            report=report,
        )
        with warnings.catch_warnings(record=True) as caught:
            # Third-party warnings go to the log rather than stopping the run.
            warnings.simplefilter("always")
            recipe.run(run)
        for warning in caught:
            logger.warning("%s: %s", warning.category.__name__, warning.message)
    except expected as exc:
        error = str(exc)
    except Exception as exc:  # every failure ends in an error manifest
        error = f"{type(exc).__name__}: {exc}"
        logger.error("%s", traceback.format_exc())
    products = tuple(run.products) if run is not None else ()
    qc = dict(run.qc) if run is not None else {}
    if error is not None:
        logger.error("recipe %s failed: %s", name, error)
        # A failed run publishes nothing: remove what it wrote before failing.
        for entry in products:
            Path(entry.path).unlink(missing_ok=True)
        products, qc = (), {}
    else:
        logger.info("recipe %s done: %d product(s)", name, len(products))
        report(100.0)
    manifest = JobManifest(
        status="ok" if error is None else "error",
        recipe=name,
        version=version,
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=started,
        ended_at=datetime.now(UTC),
        products=products,
        qc=qc,
        error=error,
        params=resolved,
        inputs=records,
        software=software_versions(),
        log=str(log_path.resolve()),
    )
    manifest.write(output)
    logger.removeHandler(handler)
    handler.close()
    return manifest


def run_as_job(context: JobContext, run_recipe: Callable[..., JobManifest]) -> RecipeOutcome | None:
    """Run an in-process recipe as a job: ``run_recipe`` (e.g. ``run_hci_recipe``) on its inputs.

    The recipe writes its own log and manifest beside its products; a failed run ends the job
    as a usage failure with the recipe's message.
    """
    manifest = run_recipe(
        context.recipe,
        inputs=context.inputs_by_tag(),
        params=dict(context.params),
        output_dir=context.output_dir,
        progress=context.progress,
    )
    if manifest.status != "ok":
        raise RecipeUsageError(manifest.error or f"{context.recipe} failed")
    return RecipeOutcome(products=manifest.products, qc=dict(manifest.qc))
