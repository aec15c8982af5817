"""Reading the files of an hci recipe run: their roles, checked against the recipe's.

:func:`~hcdc_kernel.recipes.inprocess.execute` runs the recipe with :func:`load`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hcdc_kernel.jobs.manifest import InputRecord
from hcdc_kernel.recipes.hci.base import RecipeError
from hcdc_kernel.recipes.hci.inputs import HciInputs, load_inputs
from hcdc_kernel.recipes.spec import RecipeSpec

__all__ = ["check_roles", "load"]


def check_roles(recipe: RecipeSpec, inputs: HciInputs) -> None:
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


def load(
    recipe: RecipeSpec, inputs: Sequence[Path] | Mapping[str, Sequence[Path]]
) -> tuple[HciInputs, tuple[InputRecord, ...]]:
    """The classified inputs of a run and one record per file with its role."""
    files = load_inputs(inputs)
    records = tuple(InputRecord(path=str(f.path.resolve()), role=f.role) for f in files)
    classified = HciInputs(files=files)
    check_roles(recipe, classified)
    return classified, records
