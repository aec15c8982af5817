"""``hci_contrast_curve``: detection limit against separation with algorithmic throughput.

Runs :func:`hcdc_kernel.hci.contrast.contrast_curve` (noise of the processed
image, throughput from injected fake companions, Student small-sample
correction of Mawet et al. 2014) and writes the curve as FITS and ECSV. The
star's flux is the ``starphot`` parameter or the off-axis PSF scaled to the
science frames (:mod:`hcdc_kernel.recipes.hci.photometry`); without either the
recipe refuses.
"""

from __future__ import annotations

import numpy as np

from hcdc_kernel.hci.contrast import contrast_curve
from hcdc_kernel.products.contrast_curve import CONTRAST_CURVE_CATEGORY, ContrastCurve
from hcdc_kernel.recipes.hci.base import RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    data_unit,
    describe,
    resolve_fwhm,
    table_unit,
)
from hcdc_kernel.recipes.hci.photometry import (
    EXPOSURE_RATIO_PARAM,
    STARPHOT_PARAM,
    resolve_star_flux,
)
from hcdc_kernel.recipes.hci.processing import (
    ADI_PARAMS,
    ANGLES_SLOT,
    CENTERED_CUBE_SLOT,
    OFF_AXIS_PSF_SLOT,
    algorithm_params,
)
from hcdc_kernel.recipes.spec import ParamSpec


def run(run: RecipeRun) -> None:
    """Compute the contrast curve; write it as FITS and ECSV."""
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=True)
    assert psf is not None  # required=True raises otherwise
    fwhm = resolve_fwhm(run, psf)
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    algorithm, algo_params = algorithm_params(run, fwhm=fwhm)
    algo_params.pop("fwhm", None)  # contrast_curve adds it
    star = resolve_star_flux(run, psf, fwhm=fwhm)
    starphot = star.value
    run.log.info("star flux: %s", star.detail)
    run.progress(10.0, f"contrast curve with {algorithm}, star flux {starphot:.4g}")
    result = contrast_curve(
        sequence.cube,
        sequence.angles,
        psf,
        fwhm=fwhm,
        pxscale=pxscale,
        starphot=starphot,
        algorithm=algorithm,
        algo_params=algo_params,
        sigma=float(run.params["sigma"]),
        nbranch=int(run.params["nbranch"]),
        fc_snr=float(run.params["fc_snr"]),
        student=bool(run.params["student"]),
    )
    run.progress(90.0, "writing the curve")
    extra = {
        "recipe": run.recipe.name,
        "exposure_ratio": star.exposure_ratio,
        "star_flux_source": star.source,
        "star_flux_detail": star.detail,
        "inputs": [f.path.name for f in run.inputs.files],
    }
    description = describe(run, pixscale=pxscale, fwhm=fwhm)
    curve = ContrastCurve.from_result(
        result,
        extra=extra,
        flux_unit=table_unit(data_unit(sequence.headers[0] if sequence.headers else None)),
        description=description,
    )
    finite = np.isfinite(curve.contrast) & (curve.contrast < 1)
    qc = {
        "n_separations": int(curve.contrast.size),
        "best_contrast": float(np.min(curve.contrast[finite])) if finite.any() else 1.0,
        "sigma": float(run.params["sigma"]),
        "algorithm": algorithm,
        "star_flux": starphot,
        "star_flux_source": star.source,
    }
    fits_path = curve.write_fits(run.path("contrast_curve.fits"))
    ecsv_path = curve.write_ecsv(run.path("contrast_curve.ecsv"))
    run.add_product(fits_path, CONTRAST_CURVE_CATEGORY, qc)
    run.add_product(ecsv_path, CONTRAST_CURVE_CATEGORY, qc)
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_contrast_curve",
    version="1.1",
    description="Contrast curve: sigma-level detection limit with algorithmic throughput.",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
        OFF_AXIS_PSF_SLOT,
    ),
    params=(
        *ADI_PARAMS,
        FWHM_PARAM,
        PXSCALE_PARAM,
        ParamSpec(
            "sigma",
            "float",
            5.0,
            "Gaussian-equivalent confidence level.",
            minimum=1.0,
            maximum=10.0,
        ),
        ParamSpec("nbranch", "int", 1, "Directions of injected companions.", minimum=1, maximum=12),
        ParamSpec(
            "fc_snr",
            "float",
            100.0,
            "Fake companion flux in units of the local noise.",
            minimum=1.0,
        ),
        ParamSpec("student", "bool", True, "Small-sample correction (Mawet et al. 2014)."),
        EXPOSURE_RATIO_PARAM,
        STARPHOT_PARAM,
    ),
    outputs=(CONTRAST_CURVE_CATEGORY,),
    run=run,
)
