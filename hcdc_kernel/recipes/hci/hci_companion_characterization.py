"""``hci_companion_characterization``: S/N-map detection, then NEGFC astrometry and photometry.

The centred cube is post-processed (``mode``), its S/N map computed (Mawet et
al. 2014), sources above ``threshold`` detected (one per local maximum), and
each characterised by negative fake companion with uncertainties
(:func:`hcdc_kernel.hci.characterization.negfc`, Wertz et al. 2017). Fits
that end within one FWHM of a brighter source are that source
(:func:`~hcdc_kernel.hci.characterization.merge_sources`). Contrasts need the
star's flux: the ``starphot`` parameter or the PSF scaled to the science
frames (:mod:`hcdc_kernel.recipes.hci.photometry`); without either the recipe
refuses.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from hcdc_kernel.hci.characterization import NegfcResult, detect_sources, merge_sources, negfc
from hcdc_kernel.hci.fakes import normalize_psf
from hcdc_kernel.hci.snr import snr_map
from hcdc_kernel.products.companions import COMPANION_TABLE_CATEGORY, CompanionTable
from hcdc_kernel.products.images import FinalImageProduct, SnrMapProduct
from hcdc_kernel.products.preview import SNR_RANGE
from hcdc_kernel.recipes.hci.base import RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    describe,
    resolve_fwhm,
    star_at_centre,
    write_image_product,
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
    star = resolve_star_flux(run, psf, fwhm=fwhm)
    starphot = star.value
    run.log.info("star flux: %s", star.detail)
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
    fits_: list[NegfcResult] = []
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
        fits_.append(fit)
        run.log.info("source %d: %s", index, fit)
    # Maxima more than a FWHM apart can be one companion: their fits then meet.
    kept = merge_sources(
        [f.x for f in fits_], [f.y for f in fits_], [d.snr for d in detections], min_distance=fwhm
    )
    if len(kept) < len(fits_):
        run.log.info(
            "%d fit(s) within one FWHM of a brighter source merged into it",
            len(fits_) - len(kept),
        )
    rows = []
    errors = []
    for index in kept:
        fit, det = fits_[index], detections[index]
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
    meta = {
        "recipe": run.recipe.name,
        "algorithm": result.algorithm,
        "params": dict(result.params),
        "fwhm_px": fwhm,
        "pxscale_arcsec": pxscale,
        "star_flux": starphot,
        "star_flux_source": star.source,
        "star_flux_detail": star.detail,
        "threshold": float(run.params["threshold"]),
        "n_merged": len(fits_) - len(kept),
        "negfc": {
            "ncomp": int(run.params["negfc_ncomp"]),
            "annulus_width_fwhm": float(run.params["annulus_width_fwhm"]),
            "aperture_radius_fwhm": float(run.params["aperture_radius_fwhm"]),
            "uncertainty": str(run.params["uncertainty"]),
            "reference": "Wertz et al. 2017, A&A 598, A83",
        },
    }
    centre = star_at_centre(result.final.shape)
    description = describe(
        run, pixscale=pxscale, star_xy=centre, north_up=True, fwhm=fwhm, centred=True
    )
    table = CompanionTable.from_rows(rows, meta=meta, description=description)
    error_array = np.array(errors, dtype=np.float64).reshape(-1, 3)
    table.table["sep_px_err"] = error_array[:, 0] * u.pix
    table.table["pa_deg_err"] = error_array[:, 1] * u.deg
    table.table["contrast_err"] = error_array[:, 2] * u.dimensionless_unscaled
    qc = {
        "n_companions": len(rows),
        "snr_max": float(np.max(snr)),
        "star_flux": starphot,
        "star_flux_source": star.source,
    }
    # FITS first: it is what the data center ingests and links as the process output.
    run.add_product(table.write_fits(run.path("companions.fits")), COMPANION_TABLE_CATEGORY, qc)
    run.add_product(table.write(run.path("companions.ecsv")), COMPANION_TABLE_CATEGORY, qc)
    final = FinalImageProduct.create(result.final, meta=meta, description=description)
    write_image_product(run, "final_image.fits", final)
    snr_product = SnrMapProduct.create(snr, meta=meta, description=description.replace(bunit=""))
    write_image_product(run, "snr_map.fits", snr_product, value_range=SNR_RANGE)
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_companion_characterization",
    version="1.1",
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
        EXPOSURE_RATIO_PARAM,
        STARPHOT_PARAM,
    ),
    outputs=(COMPANION_TABLE_CATEGORY, "HCI_FINAL_IMAGE", "HCI_SNR_MAP"),
    run=run,
)
