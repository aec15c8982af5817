"""``hci_adi_pca``: ADI by median subtraction, full-frame PCA or annular PCA."""

from __future__ import annotations

import numpy as np

from hcdc_kernel.products.images import FinalImageProduct
from hcdc_kernel.recipes.hci.base import HciRecipe, RecipeRun
from hcdc_kernel.recipes.hci.outputs import FWHM_PARAM, PXSCALE_PARAM, resolve_fwhm
from hcdc_kernel.recipes.hci.processing import (
    ADI_PARAMS,
    ANGLES_SLOT,
    CENTERED_CUBE_SLOT,
    post_process,
)
from hcdc_kernel.recipes.spec import InputSlot


def run(run: RecipeRun) -> None:
    """Post-process the centred cube and write the final derotated image."""
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=False)
    needs_fwhm = run.params["mode"] == "annular"
    fwhm = resolve_fwhm(run, psf) if needs_fwhm or float(run.params["fwhm"]) > 0 else 0.0
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    run.progress(10.0, f"{run.params['mode']} ADI on {sequence.cube.shape[0]} frames")
    result = post_process(run, sequence.cube, sequence.angles, fwhm=fwhm)
    run.progress(90.0, "writing the final image")
    meta = {
        "recipe": run.recipe.name,
        "algorithm": result.algorithm,
        "params": dict(result.params),
        "fwhm_px": fwhm or None,
        "pxscale_arcsec": pxscale,
        "n_frames": int(sequence.cube.shape[0]),
        "rotation_deg": float(np.ptp(sequence.angles)),
    }
    path = run.path("final_image.fits")
    product = FinalImageProduct.create(result.final, meta=meta)
    product.write(path)
    qc = {"final_std": float(np.std(result.final)), "algorithm": result.algorithm}
    run.add_product(path, FinalImageProduct.category, qc)
    run.qc.update(qc)


RECIPE = HciRecipe(
    name="hci_adi_pca",
    version="1.0",
    description="ADI: median subtraction, full-frame PCA or annular PCA (rotation threshold).",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
        InputSlot("PSF", ("HCI_PSF",), min_count=0, max_count=1, doc="PSF (for the FWHM)."),
    ),
    params=(*ADI_PARAMS, FWHM_PARAM, PXSCALE_PARAM),
    outputs=("HCI_FINAL_IMAGE",),
    run=run,
)
