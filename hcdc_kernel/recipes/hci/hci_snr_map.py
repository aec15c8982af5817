"""``hci_snr_map``: S/N map of a final image with the statistics of Mawet et al. 2014."""

from __future__ import annotations

import json

import numpy as np

from hcdc_kernel.hci.characterization import detect_sources
from hcdc_kernel.hci.snr import snr_map
from hcdc_kernel.products.images import SnrMapProduct
from hcdc_kernel.products.preview import SNR_RANGE
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.inputs import instrument_pixscale
from hcdc_kernel.recipes.hci.outputs import (
    describe,
    recorded_fwhm,
    star_at_centre,
    write_image_product,
)
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec


def run(run: RecipeRun) -> None:
    """Compute the S/N map of the final image."""
    (item,) = run.inputs.of_role("FINAL_IMAGE")
    image = run.inputs.cube_of([item], what="final image")
    if image.shape[0] != 1:
        raise RecipeError(f"{item.path.name} is a cube, a single final image is expected")
    meta = json.loads(item.header.get("HCDC META", "{}"))
    fwhm = float(run.params["fwhm"]) or recorded_fwhm(item.header)
    if not fwhm > 0:
        raise RecipeError(
            f"the FWHM is unknown: {item.path.name} does not record it (HIERARCH HCDC FWHM); "
            "give the fwhm parameter"
        )
    run.progress(10.0, f"S/N map, FWHM {fwhm:.2f} px")
    snr = snr_map(
        image[0], fwhm=fwhm, exclude_negative_lobes=bool(run.params["exclude_negative_lobes"])
    )
    detections = detect_sources(snr, fwhm=fwhm, threshold=float(run.params["threshold"]))
    iy, ix = np.unravel_index(int(np.argmax(snr)), snr.shape)
    qc = {
        "snr_max": float(snr[iy, ix]),
        "snr_max_x": int(ix),
        "snr_max_y": int(iy),
        "n_detections": len(detections),
    }
    out_meta = {
        "recipe": run.recipe.name,
        "source": item.path.name,
        "source_meta": meta,
        "fwhm_px": fwhm,
        "statistics": "Mawet et al. 2014 two-sample t-test",
        "exclude_negative_lobes": bool(run.params["exclude_negative_lobes"]),
    }
    description = describe(
        run,
        source=item,
        bunit="",
        pixscale=instrument_pixscale(item.header),
        star_xy=star_at_centre(snr.shape),
        north_up=True,
        fwhm=fwhm,
    )
    product = SnrMapProduct.create(snr, meta=out_meta, description=description)
    write_image_product(run, "snr_map.fits", product, qc=qc, value_range=SNR_RANGE)
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_snr_map",
    version="1.1",
    description="S/N map with the small-sample statistics of Mawet et al. 2014.",
    inputs=(
        InputSlot(
            "FINAL_IMAGE",
            ("HCI_FINAL_IMAGE",),
            min_count=1,
            max_count=1,
            doc="Final image.",
            primary=True,
        ),
    ),
    params=(
        ParamSpec(
            "fwhm", "float", 0.0, "FWHM (px); 0 = from the final image's metadata.", minimum=0.0
        ),
        ParamSpec(
            "exclude_negative_lobes", "bool", False, "Leave out the apertures next to the test one."
        ),
        ParamSpec("threshold", "float", 5.0, "S/N counted as a detection in the QC.", minimum=0.0),
    ),
    outputs=("HCI_SNR_MAP",),
    run=run,
)
