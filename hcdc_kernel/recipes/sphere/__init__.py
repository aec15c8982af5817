"""The ``ird_*`` recipes: SPHERE/IRDIS from raw frames to centred cubes, in Python.

They run the reduction of :mod:`hcdc_kernel.sphere` as hcdc recipes, where ESO's SPHERE
esorex plugin (``sph_ird_*``, not in Debian) is absent:

* ``ird_master_dark``: master darks, instrument backgrounds and skies per DIT (and filter);
* ``ird_flat``: detector flat per filter;
* ``ird_star_center``: star centre per field from the waffle spots;
* ``ird_flux``: off-axis PSF and star flux per field;
* ``ird_preprocess``: the science sequence as a centred cube per field with its angles and
  the PSF at the science DIT, ready for the ``hci_*`` recipes.

:func:`run_sphere_recipe` runs one on files and writes its products, a log and
``manifest.json``; :func:`run_job` is how the job runner calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome
from hcdc_kernel.jobs.manifest import JobManifest
from hcdc_kernel.recipes.inprocess import execute, run_as_job
from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_kernel.recipes.sphere import (
    ird_flat,
    ird_flux,
    ird_master_dark,
    ird_preprocess,
    ird_star_center,
)
from hcdc_kernel.recipes.sphere.base import RecipeError, sphere_recipe
from hcdc_kernel.recipes.sphere.runner import EXPECTED, load

__all__ = [
    "SPHERE_RECIPES",
    "RecipeError",
    "run_job",
    "run_sphere_recipe",
    "sphere_recipe",
    "sphere_recipe_specs",
]

#: Every IRDIS recipe by name, in the order of a reduction.
SPHERE_RECIPES: dict[str, RecipeSpec] = {
    module.RECIPE.name: module.RECIPE
    for module in (ird_master_dark, ird_flat, ird_star_center, ird_flux, ird_preprocess)
}


def sphere_recipe_specs() -> tuple[RecipeSpec, ...]:
    """The registry's specs of the IRDIS recipes."""
    return tuple(SPHERE_RECIPES.values())


def run_sphere_recipe(
    name: str,
    *,
    inputs: Sequence[Path] | Mapping[str, Sequence[Path]],
    params: Mapping[str, str | float | int | bool] | None = None,
    output_dir: Path,
    progress: Callable[[float], None] | None = None,
) -> JobManifest:
    """Run an IRDIS recipe on FITS files; write its products and ``manifest.json``.

    Parameters
    ----------
    name : str
        Recipe name (a key of :data:`SPHERE_RECIPES`).
    inputs : sequence of Path, or mapping of SOF tag -> paths
        Input files; untagged files take the slot that accepts their frame type.
    params : mapping, optional
        Parameter values (strings from a command line are converted).
    output_dir : Path
        Folder for the products, ``recipe.log`` and ``manifest.json``.
    progress : callable, optional
        Called with the progress, 0 to 100.

    Returns
    -------
    JobManifest
        ``status="error"`` with a message naming the file and keyword at fault for bad
        inputs; the function never raises for them, and a failed run leaves no products.
    """
    return execute(
        SPHERE_RECIPES,
        name,
        inputs=inputs,
        params=params or {},
        output_dir=output_dir,
        load=load,
        family="IRDIS",
        expected=EXPECTED,
        progress=progress,
    )


def run_job(context: JobContext) -> RecipeOutcome | None:
    """Run an ``ird_*`` recipe as a job (the entry of their recipe specs)."""
    return run_as_job(context, run_sphere_recipe)
