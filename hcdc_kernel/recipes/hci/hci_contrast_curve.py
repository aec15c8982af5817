"""``hci_contrast_curve``: detection limit against separation with algorithmic throughput.

Runs :func:`hcdc_kernel.hci.contrast.contrast_curve` (noise of the processed
image, throughput from injected fake companions, Student small-sample
correction of Mawet et al. 2014, star flux from the off-axis PSF times the
exposure ratio) and writes the curve as FITS and ECSV.
"""

from __future__ import annotations

import numpy as np

from hcdc_kernel.hci.contrast import contrast_curve
from hcdc_kernel.hci.fakes import psf_aperture_flux
from hcdc_kernel.products.contrast_curve import CONTRAST_CURVE_CATEGORY, ContrastCurve
from hcdc_kernel.recipes.hci.base import HciRecipe, RecipeRun
from hcdc_kernel.recipes.hci.outputs import FWHM_PARAM, PXSCALE_PARAM, resolve_fwhm
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
    exposure_ratio = float(run.params["exposure_ratio"])
    starphot = float(run.params["starphot"]) or psf_aperture_flux(psf, fwhm=fwhm) * exposure_ratio
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
        "exposure_ratio": exposure_ratio,
        "inputs": [f.path.name for f in run.inputs.files],
    }
    curve = ContrastCurve.from_result(result, extra=extra)
    finite = np.isfinite(curve.contrast) & (curve.contrast < 1)
    qc = {
        "n_separations": int(curve.contrast.size),
        "best_contrast": float(np.min(curve.contrast[finite])) if finite.any() else 1.0,
        "sigma": float(run.params["sigma"]),
        "algorithm": algorithm,
    }
    fits_path = curve.write_fits(run.path("contrast_curve.fits"))
    ecsv_path = curve.write_ecsv(run.path("contrast_curve.ecsv"))
    run.add_product(fits_path, CONTRAST_CURVE_CATEGORY, qc)
    run.add_product(ecsv_path, CONTRAST_CURVE_CATEGORY, qc)
    run.qc.update(qc)


RECIPE = HciRecipe(
    name="hci_contrast_curve",
    version="1.0",
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
        ParamSpec(
            "exposure_ratio",
            "float",
            1.0,
            "Science over PSF exposure (DIT ratio / ND transmission).",
            minimum=0.0,
        ),
        ParamSpec(
            "starphot",
            "float",
            0.0,
            "Star flux in a 1xFWHM aperture; 0 = from the PSF.",
            minimum=0.0,
        ),
    ),
    outputs=(CONTRAST_CURVE_CATEGORY,),
    run=run,
)
