"""``hci_companion_characterization``: S/N-map detection, then NEGFC astrometry and photometry.

The centred cube is post-processed (``mode``), its S/N map computed (Mawet et
al. 2014), sources above ``threshold`` detected (one per local maximum), and
each characterised by negative fake companion with uncertainties
(:func:`hcdc_kernel.hci.characterization.negfc`, Wertz et al. 2017).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from hcdc_kernel.hci.characterization import detect_sources, negfc
from hcdc_kernel.hci.fakes import normalize_psf, psf_aperture_flux
from hcdc_kernel.hci.snr import snr_map
from hcdc_kernel.products.companions import COMPANION_TABLE_CATEGORY, CompanionTable
from hcdc_kernel.products.images import FinalImageProduct, SnrMapProduct
from hcdc_kernel.recipes.hci.base import HciRecipe, RecipeRun
from hcdc_kernel.recipes.hci.outputs import FWHM_PARAM, PXSCALE_PARAM, resolve_fwhm
from hcdc_kernel.recipes.hci.processing import (
    ADI_PARAMS,
    ANGLES_SLOT,
    CENTERED_CUBE_SLOT,
    OFF_AXIS_PSF_SLOT,
    post_process,
)
from hcdc_kernel.recipes.spec import ParamSpec


def run(run: RecipeRun) -> None:
    """Detect and characterise companions; write the companion table, final image and S/N map."""
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=True)
    assert psf is not None  # required=True raises otherwise
    fwhm = resolve_fwhm(run, psf)
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    exposure_ratio = float(run.params["exposure_ratio"])
    starphot = float(run.params["starphot"]) or psf_aperture_flux(psf, fwhm=fwhm) * exposure_ratio
    run.progress(5.0, "post-processing")
    result = post_process(run, sequence.cube, sequence.angles, fwhm=fwhm)
    snr = snr_map(result.final, fwhm=fwhm)
    run.progress(30.0, "S/N map done")
    detections = detect_sources(
        snr,
        fwhm=fwhm,
        threshold=float(run.params["threshold"]),
        min_separation_px=float(run.params["min_separation_fwhm"]) * fwhm,
    )
    run.log.info("%d source(s) above S/N %.1f", len(detections), float(run.params["threshold"]))
    psf_norm = normalize_psf(psf, fwhm=fwhm, size=int(np.ceil(4 * fwhm)) // 2 * 2 + 1)
    rows = []
    errors = []
    for index, det in enumerate(detections):
        run.progress(30.0 + 65.0 * index / max(len(detections), 1), f"NEGFC on source {index}")
        fit = negfc(
            sequence.cube,
            sequence.angles,
            psf_norm,
            x=det.x,
            y=det.y,
            fwhm=fwhm,
            ncomp=int(run.params["negfc_ncomp"]),
            annulus_width=float(run.params["annulus_width_fwhm"]) * fwhm,
            aperture_radius=float(run.params["aperture_radius_fwhm"]),
            uncertainty=str(run.params["uncertainty"]),  # type: ignore[arg-type]
            n_injections=int(run.params["n_injections"]),
        )
        contrast = fit.flux / starphot
        rows.append(
            {
                "x": fit.x,
                "y": fit.y,
                "sep_px": fit.sep_px,
                "sep_arcsec": fit.sep_px * pxscale,
                "pa_deg": fit.pa_deg,
                "flux": fit.flux,
                "flux_err": fit.flux_err,
                "contrast": contrast,
                "delta_mag": -2.5 * np.log10(contrast) if contrast > 0 else np.nan,
                "snr": det.snr,
            }
        )
        errors.append((fit.sep_err, fit.pa_err, fit.flux_err / starphot))
        run.log.info("source %d: %s", index, fit)
    meta = {
        "recipe": run.recipe.name,
        "algorithm": result.algorithm,
        "params": dict(result.params),
        "fwhm_px": fwhm,
        "pxscale_arcsec": pxscale,
        "star_flux": starphot,
        "threshold": float(run.params["threshold"]),
        "negfc": {
            "ncomp": int(run.params["negfc_ncomp"]),
            "annulus_width_fwhm": float(run.params["annulus_width_fwhm"]),
            "aperture_radius_fwhm": float(run.params["aperture_radius_fwhm"]),
            "uncertainty": str(run.params["uncertainty"]),
            "reference": "Wertz et al. 2017, A&A 598, A83",
        },
    }
    table = CompanionTable.from_rows(rows, meta=meta)
    error_array = np.array(errors, dtype=np.float64).reshape(-1, 3)
    table.table["sep_px_err"] = error_array[:, 0] * u.pix
    table.table["pa_deg_err"] = error_array[:, 1] * u.deg
    table.table["contrast_err"] = error_array[:, 2] * u.dimensionless_unscaled
    qc = {"n_companions": len(rows), "snr_max": float(np.max(snr))}
    # FITS first: it is what the data center ingests and links as the process output.
    run.add_product(table.write_fits(run.path("companions.fits")), COMPANION_TABLE_CATEGORY, qc)
    run.add_product(table.write(run.path("companions.ecsv")), COMPANION_TABLE_CATEGORY, qc)
    final_path = run.path("final_image.fits")
    FinalImageProduct.create(result.final, meta=meta).write(final_path)
    run.add_product(final_path, FinalImageProduct.category)
    snr_path = run.path("snr_map.fits")
    SnrMapProduct.create(snr, meta=meta).write(snr_path)
    run.add_product(snr_path, SnrMapProduct.category)
    run.qc.update(qc)


RECIPE = HciRecipe(
    name="hci_companion_characterization",
    version="1.0",
    description="Detection above a threshold in the S/N map, then NEGFC position and flux "
    "with uncertainties.",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
        OFF_AXIS_PSF_SLOT,
    ),
    params=(
        *ADI_PARAMS,
        FWHM_PARAM,
        PXSCALE_PARAM,
        ParamSpec("threshold", "float", 5.0, "Detection threshold on the S/N.", minimum=0.0),
        ParamSpec(
            "min_separation_fwhm",
            "float",
            2.0,
            "Innermost separation searched, in FWHM.",
            minimum=1.0,
        ),
        ParamSpec(
            "negfc_ncomp", "int", 5, "Principal components of the NEGFC annulus PCA.", minimum=1
        ),
        ParamSpec("annulus_width_fwhm", "float", 4.0, "NEGFC annulus width in FWHM.", minimum=1.0),
        ParamSpec(
            "aperture_radius_fwhm", "float", 2.0, "NEGFC aperture radius in FWHM.", minimum=0.5
        ),
        ParamSpec(
            "uncertainty",
            "str",
            "noise",
            "noise (fast, residual noise at the separation) or injection (Wertz et al. 2017).",
            choices=("noise", "injection", "none"),
        ),
        ParamSpec(
            "n_injections", "int", 8, "Fake companions for uncertainty=injection.", minimum=2
        ),
        ParamSpec("exposure_ratio", "float", 1.0, "Science over PSF exposure ratio.", minimum=0.0),
        ParamSpec(
            "starphot",
            "float",
            0.0,
            "Star flux in a 1xFWHM aperture; 0 = from the PSF.",
            minimum=0.0,
        ),
    ),
    outputs=(COMPANION_TABLE_CATEGORY, "HCI_FINAL_IMAGE", "HCI_SNR_MAP"),
    run=run,
)
