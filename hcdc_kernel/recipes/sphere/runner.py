"""Reading the files of an IRDIS recipe run, and the errors reported as they are.

:func:`~hcdc_kernel.recipes.inprocess.execute` runs the recipe with :func:`load`; a failure of
the reduction itself (:class:`~hcdc_kernel.sphere.errors.SphereDataError`, which names the file
and the keyword at fault) is reported as its message, like bad inputs and parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from hcdc_kernel.jobs.manifest import InputRecord
from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_kernel.recipes.sphere.base import RecipeError
from hcdc_kernel.recipes.sphere.io import SphereInputs
from hcdc_kernel.sphere.errors import SphereDataError

__all__ = ["EXPECTED", "load"]

#: Errors whose message is the whole story (no traceback in the process's error).
EXPECTED: tuple[type[Exception], ...] = (RecipeError, SphereDataError)


def load(
    recipe: RecipeSpec, inputs: Sequence[Path] | Mapping[str, Sequence[Path]]
) -> tuple[SphereInputs, tuple[InputRecord, ...]]:
    """The inputs of a run by SOF tag, and one record per file with its tag."""
    loaded = SphereInputs.load(recipe, inputs)
    records = tuple(InputRecord(path=str(f.path.resolve()), role=f.role) for f in loaded.files)
    return loaded, records
