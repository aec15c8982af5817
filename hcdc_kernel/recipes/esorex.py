"""The esorex adapter: SOF files, the esorex command line, products and QC keywords.

A set-of-frames (SOF) file has one line per input, ``<absolute path> <TAG>`` (DOMAIN.md).
esorex runs as ``esorex --no-checksum=TRUE --no-datamd5=TRUE --output-dir=<dir> <recipe>
[--param=value] <sof>``; its products carry ``ESO PRO CATG`` and ``ESO QC *`` keywords.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome, RecipeUsageError
from hcdc_kernel.jobs.manifest import ProductRecord
from hcdc_kernel.jobs.spec import JobInput

ESOREX = "esorex"
_RECIPE_LINE = re.compile(r"^\s{2}(\w+)\s+:")
_QC_PREFIX = "ESO QC "
_CATEGORY_KEYS = ("ESO PRO CATG", "HCDC PRO CATG")


class EsorexError(RuntimeError):
    """esorex failed; the message carries the exit status."""


def build_sof(inputs: Iterable[JobInput]) -> str:
    """SOF text: one ``<absolute path> <TAG>`` line per input, in the given order."""
    lines = []
    for item in inputs:
        path = str(Path(item.path).resolve())
        if any(c.isspace() for c in path):
            raise RecipeUsageError(f"esorex cannot read a path with spaces: {path}")
        lines.append(f"{path} {item.tag}")
    return "\n".join(lines) + ("\n" if lines else "")


def format_param(value: Any) -> str:
    """A parameter value as esorex reads it (booleans are TRUE/FALSE)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def esorex_command(
    recipe: str,
    *,
    sof: Path,
    output_dir: Path,
    params: Mapping[str, Any],
    cli_names: Mapping[str, str] | None = None,
    esorex: str = ESOREX,
) -> list[str]:
    """The esorex command line (no shell: each parameter is one argument)."""
    names = cli_names or {}
    command = [
        esorex,
        "--no-checksum=TRUE",
        "--no-datamd5=TRUE",
        f"--output-dir={output_dir}",
        recipe,
    ]
    command += [f"--{names.get(k, k)}={format_param(v)}" for k, v in sorted(params.items())]
    command.append(str(sof))
    return command


@functools.cache
def available_recipes(esorex: str = ESOREX) -> frozenset[str]:
    """Recipes the installed esorex plugins provide (empty when esorex is missing)."""
    if shutil.which(esorex) is None:
        return frozenset()
    try:
        listing = subprocess.run(
            [esorex, "--recipes"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(m.group(1) for line in listing.splitlines() if (m := _RECIPE_LINE.match(line)))


def unavailable_reason(recipe: str, *, esorex: str = ESOREX) -> str | None:
    """None when esorex can run ``recipe`` here, else why not."""
    if shutil.which(esorex) is None:
        return f"esorex is not installed here (needed by {recipe})"
    if recipe not in available_recipes(esorex):
        return f"no esorex plugin provides {recipe} here"
    return None


def collect_products(output_dir: Path) -> tuple[ProductRecord, ...]:
    """Every FITS file under ``output_dir`` with its category and ``QC`` keywords."""
    files = sorted(p for p in output_dir.rglob("*") if p.suffix.lower() in (".fits", ".fit"))
    if not files:
        return ()
    from astropy.io import fits

    products = []
    for path in files:
        header = fits.getheader(path)
        category = next((str(header[k]) for k in _CATEGORY_KEYS if k in header), None)
        qc = {
            key[len(_QC_PREFIX) :]: header[key]
            for key in header
            if key.startswith(_QC_PREFIX) and isinstance(header[key], (int, float, str, bool))
        }
        products.append(ProductRecord(path=str(path.resolve()), category=category, qc=qc))
    return tuple(products)


def run_esorex_recipe(context: JobContext, *, entry: str | None = None) -> RecipeOutcome:
    """Run an esorex recipe in a job: write the SOF, run esorex, collect its products.

    The esorex recipe name is the job's ``recipe`` unless ``entry`` names another.
    """
    recipe = entry or context.recipe
    reason = unavailable_reason(recipe)
    if reason is not None:
        raise RecipeUsageError(reason)
    sof = context.output_dir.parent / "input.sof"
    sof.write_text(build_sof(context.inputs))
    command = esorex_command(
        recipe,
        sof=sof,
        output_dir=context.output_dir,
        params=context.params,
        cli_names=context.cli_names,
    )
    context.progress(5.0, "esorex started")
    status = context.run_subprocess(command, cwd=context.output_dir.parent)
    if status != 0:
        raise EsorexError(f"esorex {recipe} exited with status {status}")
    context.progress(95.0, "collecting products")
    return RecipeOutcome(products=collect_products(context.output_dir))


def sof_for(inputs: Sequence[tuple[str, str]]) -> str:
    """SOF text from ``(path, tag)`` pairs (what ``GET /api/processes/{id}/sof`` returns)."""
    return build_sof(JobInput(path=p, tag=t) for p, t in inputs)
