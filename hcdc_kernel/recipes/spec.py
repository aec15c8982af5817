"""Recipe specifications: input slots by SOF tag, typed parameters, outputs, presets.

A :class:`RecipeSpec` describes one version of one recipe, whatever runs it (``esorex`` or a
Python function). It validates a launch (parameters and inputs) and exports its parameters as
JSON Schema, from which the launcher widget builds its form. Specs round-trip through plain
dictionaries so the server can store them as JSON.

A parameter of type ``path`` names a file inside the job directory, never elsewhere: it is
checked at launch (:func:`check_job_path`: relative, no ``..``) and again by the job, against
the real directory (:func:`resolve_job_path`: no symbolic link out of it), which hands the
recipe the absolute path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

ParamType = Literal["int", "float", "bool", "str", "path"]
RecipeKind = Literal["esorex", "python"]

_JSON_TYPES: Mapping[str, str] = {
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "str": "string",
    "path": "string",
}


class SpecFormatError(ValueError):
    """A stored recipe spec that cannot be read (missing or mistyped fields)."""


@dataclass(frozen=True)
class Problem:
    """One reason a launch is refused: ``where`` names the parameter or input slot."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class RecipeValidationError(ValueError):
    """Parameters or inputs do not fit a recipe; ``problems`` names each one."""

    def __init__(self, recipe: str, problems: Sequence[Problem]) -> None:
        self.recipe = recipe
        self.problems = tuple(problems)
        super().__init__(f"{recipe}: " + "; ".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class ParamSpec:
    """A typed recipe parameter.

    ``cli_name`` is the name esorex knows it by (``--<cli_name>=value``) when it differs from
    ``name``; ``minimum``/``maximum`` are inclusive bounds for numbers.
    """

    name: str
    type: ParamType
    default: Any = None
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    cli_name: str | None = None

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type; raise ``ValueError`` saying what is wrong."""
        checked = _coerce(self.type, value)
        if self.choices is not None and checked not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{value!r} is not one of {allowed}")
        if self.minimum is not None and checked < self.minimum:
            raise ValueError(f"{checked!r} is below the minimum {self.minimum}")
        if self.maximum is not None and checked > self.maximum:
            raise ValueError(f"{checked!r} is above the maximum {self.maximum}")
        return checked

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property."""
        schema: dict[str, Any] = {"type": _JSON_TYPES[self.type], "title": self.name}
        if self.doc:
            schema["description"] = self.doc
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.type == "path":
            schema["format"] = "path"
        return schema


def _coerce(kind: ParamType, value: Any) -> Any:
    """Strict conversion: JSON and ``k=v`` command-line strings, never silent truncation."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise ValueError(f"{value!r} is not a boolean")
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError(f"{value!r} is not an integer")
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if kind == "path":
        return check_job_path(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"{value!r} is not a string")


def check_job_path(value: Any) -> str:
    """``value`` as a normalised path relative to the job directory ('' for no file).

    Raises ``ValueError`` saying why for anything that could name a file outside the job
    directory: an absolute path, ``~``, a ``..`` component.
    """
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a path")
    if value == "":
        return ""
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL character")
    path = PurePosixPath(value)
    if path.is_absolute() or value.startswith("~"):
        raise ValueError(f"{value!r} is not inside the job directory: give a relative path")
    if ".." in path.parts:
        raise ValueError(f"{value!r} leaves the job directory ('..')")
    if str(path) == ".":
        raise ValueError(f"{value!r} names the job directory itself, not a file in it")
    return str(path)


def resolve_job_path(job_dir: Path, value: str) -> Path:
    """The absolute path ``value`` names inside ``job_dir``, symbolic links followed.

    Raises ``ValueError`` when it is not a job path (:func:`check_job_path`) or when a
    symbolic link leads out of the job directory.
    """
    relative = check_job_path(value)
    root = job_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root) or target == root:
        raise ValueError(f"{value!r} leads out of the job directory (symbolic link)")
    return target


@dataclass(frozen=True)
class InputSlot:
    """Input frames a recipe takes under one SOF tag.

    ``frame_types`` are the hcdc frame types (or product categories) accepted in the slot.
    The ``primary`` slot holds the frames a launch is about (raw darks for a dark recipe,
    science frames for a science recipe); the other slots are calibrations, found by the
    association rules of the recipe. ``max_count`` of ``None`` means no upper limit.
    """

    tag: str
    frame_types: tuple[str, ...]
    min_count: int = 1
    max_count: int | None = None
    doc: str = ""
    primary: bool = False


@dataclass(frozen=True)
class OutputSpec:
    """A product category the recipe writes (``ESO PRO CATG`` or ``HCDC PRO CATG``)."""

    category: str
    doc: str = ""


@dataclass(frozen=True)
class RecipeSpec:
    """One version of one recipe.

    ``entry`` says how a job runs it: the esorex recipe name for ``kind="esorex"``, or
    ``"module:function"`` for ``kind="python"`` (called with a
    :class:`hcdc_kernel.jobs.context.JobContext`). ``unavailable`` is ``None`` when the
    recipe can run on this installation, otherwise the reason it cannot (e.g. a missing
    esorex plugin): the recipe is still listed, never a crash. ``run`` is the function of a
    Python recipe that runs in-process on files (:mod:`hcdc_kernel.recipes.inprocess`); it is
    code, so it is neither stored nor compared.
    """

    name: str
    version: str
    kind: RecipeKind
    entry: str
    description: str = ""
    instrument: str | None = None
    inputs: tuple[InputSlot, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    needs_validation: bool = False
    hidden: bool = False
    auto_calibrate: bool = False
    default_timeout_s: float = 3600.0
    unavailable: str | None = None
    run: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)

    @property
    def available(self) -> bool:
        return self.unavailable is None

    @property
    def primary_slot(self) -> InputSlot | None:
        return next((slot for slot in self.inputs if slot.primary), None)

    def param(self, name: str) -> ParamSpec:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def resolve_params(
        self, params: Mapping[str, Any] | None = None, *, preset: str | None = None
    ) -> dict[str, Any]:
        """Defaults, overlaid by the preset, overlaid by ``params``: every value checked.

        Raises
        ------
        RecipeValidationError
            Naming each unknown parameter, wrongly typed or out-of-bounds value, or an
            unknown preset.
        """
        problems: list[Problem] = []
        merged: dict[str, Any] = {p.name: p.default for p in self.params if p.default is not None}
        if preset is not None:
            if preset not in self.presets:
                known = ", ".join(sorted(self.presets)) or "none"
                problems.append(Problem(f"preset {preset}", f"unknown preset (known: {known})"))
            else:
                merged.update(self.presets[preset])
        merged.update(params or {})
        known_names = {p.name for p in self.params}
        resolved: dict[str, Any] = {}
        for name, value in merged.items():
            if name not in known_names:
                known = ", ".join(p.name for p in self.params) or "none"
                problems.append(Problem(f"param {name}", f"unknown parameter (known: {known})"))
                continue
            try:
                resolved[name] = self.param(name).coerce(value)
            except ValueError as exc:
                problems.append(Problem(f"param {name}", str(exc)))
        if problems:
            raise RecipeValidationError(self.name, problems)
        return resolved

    def check_inputs(self, counts: Mapping[str, int], *, frame_types: Mapping[str, str]) -> None:
        """Raise naming each slot whose count is out of range or each unknown tag.

        ``counts`` is the number of frames per SOF tag; ``frame_types`` maps each tag to the
        first frame type refused in that slot, if any.
        """
        problems: list[Problem] = []
        slots = {slot.tag: slot for slot in self.inputs}
        for tag in counts:
            if tag not in slots:
                problems.append(Problem(f"input {tag}", "this recipe has no such input slot"))
        for tag, bad_type in frame_types.items():
            if tag in slots:
                accepted = ", ".join(slots[tag].frame_types)
                problems.append(
                    Problem(f"input {tag}", f"frame type {bad_type} not accepted ({accepted})")
                )
        for slot in self.inputs:
            count = counts.get(slot.tag, 0)
            if count < slot.min_count:
                problems.append(
                    Problem(
                        f"input {slot.tag}",
                        f"needs at least {slot.min_count} frame(s) of "
                        f"{'/'.join(slot.frame_types)}, got {count}",
                    )
                )
            if slot.max_count is not None and count > slot.max_count:
                problems.append(
                    Problem(f"input {slot.tag}", f"takes at most {slot.max_count}, got {count}")
                )
        if problems:
            raise RecipeValidationError(self.name, problems)

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of the parameters object."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{self.name} {self.version}",
            "type": "object",
            "additionalProperties": False,
            "properties": {p.name: p.json_schema() for p in self.params},
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what the server stores and ``GET /api/recipes`` shows)."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "entry": self.entry,
            "description": self.description,
            "instrument": self.instrument,
            "inputs": [
                {
                    "tag": s.tag,
                    "frame_types": list(s.frame_types),
                    "min_count": s.min_count,
                    "max_count": s.max_count,
                    "doc": s.doc,
                    "primary": s.primary,
                }
                for s in self.inputs
            ],
            "params": [
                {
                    "name": p.name,
                    "type": p.type,
                    "default": p.default,
                    "doc": p.doc,
                    "minimum": p.minimum,
                    "maximum": p.maximum,
                    "choices": None if p.choices is None else list(p.choices),
                    "cli_name": p.cli_name,
                }
                for p in self.params
            ],
            "outputs": [{"category": o.category, "doc": o.doc} for o in self.outputs],
            "presets": {k: dict(v) for k, v in self.presets.items()},
            "needs_validation": self.needs_validation,
            "hidden": self.hidden,
            "auto_calibrate": self.auto_calibrate,
            "default_timeout_s": self.default_timeout_s,
            "unavailable": self.unavailable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecipeSpec:
        """Inverse of :meth:`to_dict`; :class:`SpecFormatError` naming what is wrong."""
        try:
            return cls._from_dict(data)
        except KeyError as exc:
            raise SpecFormatError(f"recipe spec lacks the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise SpecFormatError(f"malformed recipe spec: {exc}") from exc

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> RecipeSpec:
        return cls(
            name=data["name"],
            version=data["version"],
            kind=data["kind"],
            entry=data["entry"],
            description=data.get("description", ""),
            instrument=data.get("instrument"),
            inputs=tuple(
                InputSlot(
                    tag=s["tag"],
                    frame_types=tuple(s["frame_types"]),
                    min_count=s.get("min_count", 1),
                    max_count=s.get("max_count"),
                    doc=s.get("doc", ""),
                    primary=s.get("primary", False),
                )
                for s in data.get("inputs", ())
            ),
            params=tuple(
                ParamSpec(
                    name=p["name"],
                    type=p["type"],
                    default=p.get("default"),
                    doc=p.get("doc", ""),
                    minimum=p.get("minimum"),
                    maximum=p.get("maximum"),
                    choices=None if p.get("choices") is None else tuple(p["choices"]),
                    cli_name=p.get("cli_name"),
                )
                for p in data.get("params", ())
            ),
            outputs=tuple(
                OutputSpec(category=o["category"], doc=o.get("doc", ""))
                for o in data.get("outputs", ())
            ),
            presets={k: dict(v) for k, v in data.get("presets", {}).items()},
            needs_validation=data.get("needs_validation", False),
            hidden=data.get("hidden", False),
            auto_calibrate=data.get("auto_calibrate", False),
            default_timeout_s=data.get("default_timeout_s", 3600.0),
            unavailable=data.get("unavailable"),
        )
