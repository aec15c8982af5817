"""Running an hci recipe on files: products, ``manifest.json`` and a log, never an exception."""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hcdc_kernel.products.provenance import software_versions
from hcdc_kernel.recipes.hci.base import HciRecipe, RecipeError, RecipeRun
from hcdc_kernel.recipes.hci.inputs import HciInputs, load_inputs
from hcdc_kernel.recipes.manifest import InputRecord, Manifest

__all__ = ["LOG_NAME", "check_roles", "execute"]

LOG_NAME = "recipe.log"


def check_roles(recipe: HciRecipe, inputs: HciInputs) -> None:
    """Refuse inputs of a role the recipe does not take, or too few/many of one."""
    problems = []
    accepted = {slot.tag for slot in recipe.inputs}
    for item in inputs.files:
        if item.role not in accepted:
            problems.append(
                f"{item.path.name} is a {item.role} input, which {recipe.name} does not take "
                f"(it takes {', '.join(sorted(accepted))})"
            )
    for slot in recipe.inputs:
        count = len(inputs.of_role(slot.tag))
        if count < slot.min_count:
            problems.append(
                f"{recipe.name} needs at least {slot.min_count} {slot.tag} input(s), got {count}"
            )
        if slot.max_count is not None and count > slot.max_count:
            problems.append(
                f"{recipe.name} takes at most {slot.max_count} {slot.tag} input(s), got {count}"
            )
    if problems:
        raise RecipeError("; ".join(problems))


def _logger(name: str, path: Path) -> tuple[logging.Logger, logging.Handler]:
    logger = logging.getLogger(f"hcdc.recipes.hci.{name}.{id(path)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger, handler


def execute(
    recipes: Mapping[str, HciRecipe],
    name: str,
    *,
    inputs: Sequence[Path] | Mapping[str, Sequence[Path]],
    params: Mapping[str, Any],
    output_dir: Path,
    progress: Callable[[float], None] | None = None,
) -> Manifest:
    """Run recipe ``name``; see :func:`hcdc_kernel.recipes.hci.run_hci_recipe`."""
    started = datetime.now(UTC)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    log_path = output / LOG_NAME
    logger, handler = _logger(name, log_path)

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
        if recipe is None:
            raise RecipeError(f"unknown hci recipe {name!r}; known: {', '.join(sorted(recipes))}")
        resolved = recipe.resolve_params(params)
        logger.info("parameters: %s", resolved)
        files = load_inputs(inputs)
        records = tuple(InputRecord(path=str(f.path.resolve()), role=f.role) for f in files)
        for item in files:
            logger.info("input %s: %s", item.role, item.path)
        classified = HciInputs(files=files)
        check_roles(recipe, classified)
        run = RecipeRun(
            recipe=recipe,
            params=resolved,
            inputs=classified,
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
    except RecipeError as exc:
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
    manifest = Manifest(
        recipe=name,
        version=version,
        status="ok" if error is None else "error",
        error=error,
        params=resolved,
        inputs=records,
        products=products,
        qc=qc,
        software=software_versions(),
        started=started,
        ended=datetime.now(UTC),
        log=str(log_path.resolve()),
    )
    manifest.write(output)
    logger.removeHandler(handler)
    handler.close()
    return manifest
