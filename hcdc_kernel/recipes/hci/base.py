"""Declaration of an hci recipe and what a running recipe sees.

An :class:`HciRecipe` declares its typed parameters
(:class:`~hcdc_kernel.recipes.spec.ParamSpec`, exportable as JSON Schema),
its input roles (:class:`~hcdc_kernel.recipes.spec.InputSlot`, tagged by
role: ``SCIENCE``, ``PSF``, ``STAR_CENTER``...), the product categories it
writes and the function that runs it on a :class:`RecipeRun`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcdc_kernel.recipes.manifest import ProductEntry
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec

__all__ = ["HciRecipe", "RecipeError", "RecipeRun"]


class RecipeError(ValueError):
    """The inputs or parameters do not allow the recipe to produce a correct product."""


@dataclass(frozen=True)
class HciRecipe:
    """An hci recipe: parameters, input roles, outputs and the function that runs it.

    Attributes
    ----------
    name, version : str
        Recipe name (``hci_*``) and version.
    description : str
        One line for catalogues and launch forms.
    inputs : tuple of InputSlot
        Input roles: ``tag`` is the role, ``frame_types`` the product
        categories and raw frame types that fill it.
    params : tuple of ParamSpec
        Typed parameters with defaults, bounds and choices.
    outputs : tuple of str
        Product categories written.
    run : callable
        ``run(RecipeRun) -> None``.
    """

    name: str
    version: str
    description: str
    inputs: tuple[InputSlot, ...]
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...]
    run: Callable[[RecipeRun], None] = field(repr=False, compare=False)
    instrument: str | None = None

    def param(self, name: str) -> ParamSpec:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def slot(self, role: str) -> InputSlot | None:
        return next((s for s in self.inputs if s.tag == role), None)

    def resolve_params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid by ``given``, every value coerced and checked.

        Raises
        ------
        RecipeError
            Naming every unknown parameter and every bad value.
        """
        problems = []
        resolved = {p.name: p.default for p in self.params}
        for key, value in given.items():
            try:
                spec = self.param(key)
            except KeyError:
                known = ", ".join(p.name for p in self.params)
                problems.append(f"unknown parameter {key!r} (known: {known})")
                continue
            try:
                resolved[key] = spec.coerce(value)
            except ValueError as exc:
                problems.append(f"parameter {key}: {exc}")
        if problems:
            raise RecipeError("; ".join(problems))
        return resolved

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of the parameters object."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{self.name} {self.version}",
            "type": "object",
            "additionalProperties": False,
            "properties": {p.name: p.json_schema() for p in self.params},
        }


@dataclass
class RecipeRun:
    """A recipe being run: parameters, inputs, output folder, products and QC."""

    recipe: HciRecipe
    params: Mapping[str, Any]
    inputs: Any  # hcdc_kernel.recipes.hci.inputs.HciInputs (kept loose to avoid a cycle)
    output_dir: Path
    log: logging.Logger
    report: Callable[[float], None]
    products: list[ProductEntry] = field(default_factory=list)
    qc: dict[str, Any] = field(default_factory=dict)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) and log the message."""
        if message:
            self.log.info("%5.1f %% %s", percent, message)
        self.report(max(0.0, min(100.0, float(percent))))

    def add_product(
        self, path: Path, category: str, qc: Mapping[str, Any] | None = None
    ) -> ProductEntry:
        """Record a written product."""
        entry = ProductEntry(path=str(Path(path).resolve()), category=category, qc=dict(qc or {}))
        self.products.append(entry)
        self.log.info("product %s: %s", category, path)
        return entry

    def path(self, name: str) -> Path:
        """Path of a product file in the output folder."""
        return self.output_dir / name
