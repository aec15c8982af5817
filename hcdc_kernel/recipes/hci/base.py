"""Declaration of an hci recipe and what a running recipe sees.

An hci recipe is a :class:`~hcdc_kernel.recipes.spec.RecipeSpec` made by :func:`hci_recipe`:
its typed parameters (:class:`~hcdc_kernel.recipes.spec.ParamSpec`, exportable as JSON
Schema), its input roles (:class:`~hcdc_kernel.recipes.spec.InputSlot`, tagged by role:
``SCIENCE``, ``PSF``, ``STAR_CENTER``...), the product categories it writes and the function
that runs it on a :class:`~hcdc_kernel.recipes.inprocess.RecipeRun`.
"""

from __future__ import annotations

from functools import partial

from hcdc_kernel.recipes.inprocess import RecipeError, RecipeRun, python_recipe

__all__ = ["HCI_ENTRY", "RecipeError", "RecipeRun", "hci_recipe"]

#: How the job runner calls every hci recipe (``module:function``; stored with each spec).
HCI_ENTRY = "hcdc_kernel.recipes.registry:run_hci"


#: Declare an hci recipe: :func:`~hcdc_kernel.recipes.inprocess.python_recipe` (name,
#: version, description, input roles, typed parameters, output categories, ``run``) with
#: the hci entry; the first role is primary.
hci_recipe = partial(python_recipe, entry=HCI_ENTRY)
