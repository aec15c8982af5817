"""Declaration of an IRDIS recipe.

An IRDIS recipe is a :class:`~hcdc_kernel.recipes.spec.RecipeSpec` made by :func:`sphere_recipe`
(:func:`~hcdc_kernel.recipes.inprocess.python_recipe` with the IRDIS entry and instrument):
typed parameters, input slots by SOF tag (the raw frame types and calibration products that
fill them), the product categories it writes, whether hcdc runs it on new raw frames by itself
(``auto_calibrate``) or asks a person to validate its products (``needs_validation``), and the
function that runs it on a :class:`~hcdc_kernel.recipes.inprocess.RecipeRun`.
"""

from __future__ import annotations

from functools import partial

from hcdc_kernel.recipes.inprocess import RecipeError, RecipeRun, python_recipe

__all__ = ["ENTRY", "RecipeError", "RecipeRun", "sphere_recipe"]

#: How the job runner calls every IRDIS recipe (``module:function``; stored with each spec).
ENTRY = "hcdc_kernel.recipes.sphere:run_job"

#: Declare an IRDIS recipe (see :func:`~hcdc_kernel.recipes.inprocess.python_recipe`).
sphere_recipe = partial(python_recipe, entry=ENTRY, instrument="SPHERE")
