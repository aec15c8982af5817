"""``hci_adi_pca``: ADI by median subtraction, full-frame PCA or annular PCA."""

from __future__ import annotations

import numpy as np

from hcdc_kernel.products.images import FinalImageProduct
from hcdc_kernel.recipes.hci.base import RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    describe,
    resolve_fwhm,
    star_at_centre,
    write_image_product,
)
from hcdc_kernel.recipes.hci.processing import (
    ADI_PARAMS,
    ANGLES_SLOT,
    CENTERED_CUBE_SLOT,
    post_process,
)
from hcdc_kernel.recipes.spec import InputSlot


def run(run: RecipeRun) -> None:
    """Post-process the centred cube and write the final derotated image.

    The FWHM (the parameter, the PSF's, or the one the centred cube records) is written in
    the final image's header (``HIERARCH HCDC FWHM``) and QC, for the S/N map that follows.
    """
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=False)
    fwhm = resolve_fwhm(run, psf, required=run.params["mode"] == "annular")
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
    qc: dict[str, object] = {
        "final_std": float(np.std(result.final)),
        "algorithm": result.algorithm,
    }
    if fwhm:
        qc["fwhm_px"] = fwhm
    description = describe(
        run,
        pixscale=pxscale,
        star_xy=star_at_centre(result.final.shape),
        north_up=True,
        fwhm=fwhm or None,
        centred=True,
    )
    product = FinalImageProduct.create(result.final, meta=meta, description=description)
    write_image_product(run, "final_image.fits", product, qc=qc)
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_adi_pca",
    version="1.1",
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
