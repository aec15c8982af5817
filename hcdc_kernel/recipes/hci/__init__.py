"""The ``hci_*`` high-contrast imaging recipes.

:data:`HCI_RECIPES` maps each recipe name to its
:class:`~hcdc_kernel.recipes.spec.RecipeSpec` (parameters, input roles,
outputs, the function that runs it); :func:`run_hci_recipe` runs one on FITS
files and writes its products, a log and ``manifest.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome
from hcdc_kernel.jobs.manifest import JobManifest
from hcdc_kernel.recipes.hci import (
    hci_adi_pca,
    hci_companion_characterization,
    hci_contrast_curve,
    hci_frame_selection,
    hci_paco,
    hci_polarimetry,
    hci_rdi_pca,
    hci_snr_map,
    hci_star_center,
)
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.runner import load
from hcdc_kernel.recipes.inprocess import execute, run_as_job
from hcdc_kernel.recipes.spec import RecipeSpec

__all__ = [
    "HCI_RECIPES",
    "RecipeError",
    "RecipeRun",
    "hci_recipe",
    "run_hci_recipe",
    "run_job",
]

#: Every hci recipe by name.
HCI_RECIPES: dict[str, RecipeSpec] = {
    module.RECIPE.name: module.RECIPE
    for module in (
        hci_star_center,
        hci_frame_selection,
        hci_adi_pca,
        hci_rdi_pca,
        hci_paco,
        hci_snr_map,
        hci_contrast_curve,
        hci_companion_characterization,
        hci_polarimetry,
    )
}


def run_hci_recipe(
    name: str,
    *,
    inputs: Sequence[Path] | Mapping[str, Sequence[Path]],
    params: Mapping[str, str | float | int | bool],
    output_dir: Path,
    progress: Callable[[float], None] | None = None,
) -> JobManifest:
    """Run an hci recipe on FITS files and write its products and ``manifest.json``.

    Parameters
    ----------
    name : str
        Recipe name (a key of :data:`HCI_RECIPES`).
    inputs : sequence of Path, or mapping of tag -> paths
        Input FITS files. A file's role comes from its header
        (``HIERARCH HCDC PRO CATG``, else ``HIERARCH ESO DPR TYPE``); a tag
        naming a role (``SCIENCE``, ``PSF``, ``ANGLES``, ``STAR_CENTER``,
        ``REFERENCE``, ``FINAL_IMAGE``, ``DPI``) overrides it.
    params : mapping
        Parameter values (strings from a command line are converted).
    output_dir : Path
        Folder for the products, ``recipe.log`` and ``manifest.json``.
    progress : callable, optional
        Called with the progress, 0 to 100.

    Returns
    -------
    JobManifest
        ``status`` is ``"error"`` with a message for bad inputs or parameters
        (or any failure): the function never raises for them, and a failed run
        leaves no products.
    """
    return execute(
        HCI_RECIPES,
        name,
        inputs=inputs,
        params=params,
        output_dir=output_dir,
        load=load,
        family="hci",
        progress=progress,
    )


def run_job(context: JobContext) -> RecipeOutcome | None:
    """Run an ``hci_*`` recipe as a job (what the entry of their specs calls)."""
    return run_as_job(context, run_hci_recipe)
