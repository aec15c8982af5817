"""Run a recipe on files with no service: ``hcdc recipe run``.

The run is the job a process would be: the files are tagged by the recipe's input slots from
their frame classification (:func:`hcdc_kernel.frames.read_frame_info`), the parameters
checked by the recipe's spec, and the job spec written into the output directory, which is the
job directory; ``hcdc-job run`` then writes the products (under ``products/``), ``job.log``
and ``manifest.json`` there, exactly as for a process. No database is read or written: this
is for scripts, and for reproducing a process from its inputs and parameters.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_kernel.frames.header_io import FitsFormatError
from hcdc_kernel.frames.info import read_frame_info
from hcdc_kernel.frames.rules import UNKNOWN
from hcdc_kernel.jobs.manifest import JobManifest, read_manifest
from hcdc_kernel.jobs.spec import LOG_FILE, SPEC_FILE, JobInput, JobSpec, SandboxMode
from hcdc_kernel.recipes.registry import ANY_FRAME, accepts, builtin_recipes
from hcdc_kernel.recipes.spec import RecipeSpec, RecipeValidationError


class LocalRunError(ValueError):
    """The recipe, a file or a parameter does not fit: the message names which."""


@dataclass(frozen=True)
class LocalRun:
    """A finished local run: the job's exit status, its manifest and where it ran."""

    exit_status: int
    manifest: JobManifest | None
    job: JobSpec

    @property
    def log(self) -> Path:
        return self.job.directory / LOG_FILE


def find_recipe(name: str, specs: Sequence[RecipeSpec] | None = None) -> RecipeSpec:
    """The built-in recipe ``name``; :class:`LocalRunError` naming close names otherwise, or
    why it cannot run here."""
    specs = builtin_recipes() if specs is None else specs
    by_name = {spec.name: spec for spec in specs}
    spec = by_name.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(by_name), n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise LocalRunError(f"no recipe {name!r}{hint}; `hcdc recipe list --all` lists them")
    if not spec.available:
        raise LocalRunError(f"recipe {name} cannot run here: {spec.unavailable}")
    return spec


def tag_inputs(spec: RecipeSpec, files: Sequence[str | Path]) -> tuple[JobInput, ...]:
    """Each file with the SOF tag of the recipe's slot that takes its frame type.

    ``TAG=FILE`` names the slot by hand. Otherwise the slot accepting the file's frame type by
    name wins over a slot taking any frame. Counts are checked against the slots.
    """
    slots = {slot.tag: slot for slot in spec.inputs}
    tagged: list[JobInput] = []
    for given in files:
        tag, path = _split_tag(str(given), slots)
        if not path.is_file():
            raise LocalRunError(f"input {path}: no such file")
        try:
            info = read_frame_info(path)
        except (FitsFormatError, OSError) as exc:
            raise LocalRunError(f"input {path}: not a readable FITS file ({exc})") from exc
        if tag is None:
            tag = _slot_for(spec, info.frame_type)
        if tag is None:
            why = f": {info.classification_reason}" if info.frame_type == UNKNOWN else ""
            wanted = "; ".join(f"{s.tag}: {'/'.join(s.frame_types)}" for s in spec.inputs)
            raise LocalRunError(
                f"input {path}: frame type {info.frame_type}{why} fits no input of "
                f"{spec.name} ({wanted or 'it takes no input'}); name the slot as TAG=FILE"
            )
        tagged.append(JobInput(path=str(path.resolve()), tag=tag))
    counts: dict[str, int] = {}
    for item in tagged:
        counts[item.tag] = counts.get(item.tag, 0) + 1
    try:
        spec.check_inputs(counts, frame_types={})
    except RecipeValidationError as exc:
        raise LocalRunError(str(exc)) from exc
    return tuple(tagged)


def local_job(
    spec: RecipeSpec,
    files: Sequence[str | Path],
    *,
    params: Mapping[str, Any],
    output_dir: Path,
    preset: str | None = None,
    sandbox: SandboxMode = "auto",
) -> JobSpec:
    """The job spec of running ``spec`` on ``files`` into ``output_dir`` (checked, not run).

    ``output_dir`` must be new or empty: it becomes the job directory.
    """
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise LocalRunError(f"output directory {output_dir} is not empty: choose a new one")
    inputs = tag_inputs(spec, files)
    try:
        resolved = spec.resolve_params(params, preset=preset)
    except RecipeValidationError as exc:
        raise LocalRunError(str(exc)) from exc
    return JobSpec(
        recipe=spec.name,
        version=spec.version,
        kind=spec.kind,
        entry=spec.entry,
        job_dir=str(output_dir.resolve()),
        inputs=inputs,
        params=resolved,
        cli_names={p.name: p.cli_name for p in spec.params if p.cli_name},
        timeout_s=spec.default_timeout_s,
        path_params=tuple(p.name for p in spec.params if p.type == "path"),
        sandbox=sandbox,
    )


def run_local(job: JobSpec, *, job_command: Sequence[str]) -> LocalRun:
    """Write ``job``'s spec and run it with ``job_command run <spec>`` (``hcdc-job``), as the
    local executor does; wait for its end."""
    spec_path = job.write()
    assert spec_path.name == SPEC_FILE
    done = subprocess.run([*job_command, "run", str(spec_path)], check=False)
    return LocalRun(exit_status=done.returncode, manifest=read_manifest(job.directory), job=job)


def _split_tag(given: str, slots: Mapping[str, Any]) -> tuple[str | None, Path]:
    tag, sep, rest = given.partition("=")
    if sep and tag in slots:
        return tag, Path(rest)
    return None, Path(given)


def _slot_for(spec: RecipeSpec, frame_type: str) -> str | None:
    named = [slot for slot in spec.inputs if frame_type in slot.frame_types]
    if named:
        return named[0].tag
    anything = [slot for slot in spec.inputs if ANY_FRAME in slot.frame_types]
    if anything and accepts(anything[0], frame_type):
        return anything[0].tag
    return None
