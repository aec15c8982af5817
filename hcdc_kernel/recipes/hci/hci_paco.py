"""``hci_paco``: PACO S/N and flux maps through vip-hci (Flasseur et al. 2018)."""

from __future__ import annotations

import numpy as np

from hcdc_kernel.hci.characterization import detect_sources
from hcdc_kernel.hci.paco import paco_maps
from hcdc_kernel.products.images import SnrMapProduct
from hcdc_kernel.products.preview import SNR_RANGE
from hcdc_kernel.recipes.hci.base import RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    describe,
    resolve_fwhm,
    star_at_centre,
    write_image,
    write_image_product,
)
from hcdc_kernel.recipes.hci.processing import ANGLES_SLOT, CENTERED_CUBE_SLOT, OFF_AXIS_PSF_SLOT
from hcdc_kernel.recipes.spec import ParamSpec


def run(run: RecipeRun) -> None:
    """Run FastPACO; write the S/N map and the flux map."""
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=True)
    assert psf is not None  # required=True raises otherwise
    fwhm = resolve_fwhm(run, psf)
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    run.progress(10.0, f"PACO on {sequence.cube.shape[0]} frames, FWHM {fwhm:.2f} px")
    result = paco_maps(
        sequence.cube,
        sequence.angles,
        psf,
        fwhm=fwhm,
        nproc=int(run.params["nproc"]),
        subpixel_psf=bool(run.params["subpixel_psf"]),
    )
    run.progress(90.0, "writing the maps")
    snr = np.nan_to_num(result.snr, nan=0.0)
    detections = detect_sources(snr, fwhm=fwhm, threshold=float(run.params["threshold"]))
    meta = {
        "recipe": run.recipe.name,
        "algorithm": "paco",
        "fwhm_px": fwhm,
        "pxscale_arcsec": pxscale,
        "threshold": float(run.params["threshold"]),
    }
    qc = {
        "snr_max": float(np.nanmax(result.snr)),
        "n_detections": len(detections),
    }
    description = describe(
        run, pixscale=pxscale, star_xy=star_at_centre(snr.shape), north_up=True, fwhm=fwhm
    )
    product = SnrMapProduct.create(snr, meta=meta, description=description.replace(bunit=""))
    write_image_product(run, "paco_snr_map.fits", product, qc=qc, value_range=SNR_RANGE)
    write_image(
        run,
        "paco_flux_map.fits",
        np.nan_to_num(result.flux),
        category="HCI_FLUX_MAP",
        meta=meta,
        description=description,
    )
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_paco",
    version="1.1",
    description="PACO detection (S/N) and flux maps through vip-hci's FastPACO.",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
        OFF_AXIS_PSF_SLOT,
    ),
    params=(
        FWHM_PARAM,
        PXSCALE_PARAM,
        ParamSpec("nproc", "int", 1, "Processes for the patch statistics.", minimum=1, maximum=256),
        ParamSpec("subpixel_psf", "bool", True, "Sub-pixel PSF model along the trajectory."),
        ParamSpec("threshold", "float", 5.0, "S/N counted as a detection in the QC.", minimum=0.0),
    ),
    outputs=("HCI_SNR_MAP", "HCI_FLUX_MAP"),
    run=run,
)
