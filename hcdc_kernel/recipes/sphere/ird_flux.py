"""``ird_flux``: the off-axis PSF and the star flux of each IRDIS field.

Each flux exposure (``DPR TYPE = OBJECT,FLUX``, the star off the coronagraph, usually through
a neutral density) is calibrated and collapsed; in each field the star is fitted, its local
background removed and its flux measured in an aperture of one FWHM diameter and within
``total_radius_lambda_d``, divided by the DIT and by the transmission of the neutral density
(``INS4 FILT2 NAME``; the measured curves, or 10⁻ᴺᴰ with ``nd_model=nominal``)
(:func:`hcdc_kernel.sphere.exposure_off_axis_psf`). With several flux exposures (before and
after the sequence) the PSF is their mean and their spread is a QC value.

The product holds the PSF stamp of each field (ADU/s without neutral density, star on the
centre pixel) and a ``STAR_FLUX`` table; ``ird_preprocess`` scales it to the DIT of the
science frames, which gives the star flux the contrast curves divide by.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeError, RecipeRun, sphere_recipe
from hcdc_kernel.recipes.sphere.common import (
    BACKGROUND_SLOT,
    DARK_SLOT,
    FLAT_SLOT,
    KERNEL_PARAM,
    Calibrations,
)
from hcdc_kernel.recipes.sphere.io import table_hdu, write_product
from hcdc_kernel.sphere.exposures import FILTER_KEY
from hcdc_kernel.sphere.filters import IRDIS_PIXEL_SCALE_MAS, lambda_over_d_px
from hcdc_kernel.sphere.photometry import OffAxisPsf, exposure_off_axis_psf

__all__ = ["RECIPE", "STAR_FLUX_EXTENSION"]

STAR_FLUX_EXTENSION = "STAR_FLUX"


def run(run: RecipeRun) -> None:
    """Measure the PSF and star flux of each flux exposure; write their mean."""
    calibrations = Calibrations.load(run)
    items = sorted(
        run.inputs.of_role("IRD_FLUX_RAW"), key=lambda f: str(f.header.get("DATE-OBS", ""))
    )
    results: list[OffAxisPsf] = []
    rows = []
    combination = ""
    for index, item in enumerate(items):
        run.progress(90.0 * index / len(items), f"off-axis PSF of {item.path.name}")
        exposure = calibrations.preprocess(
            item.path, collapse=True, kernel_sigma=float(run.params["kernel_sigma"])
        )
        if combination and exposure.filter_combination != combination:
            raise RecipeError(
                f"{item.path.name}: filter {exposure.filter_combination!r} differs from "
                f"{combination!r} of {items[0].path.name} ({FILTER_KEY})"
            )
        combination = exposure.filter_combination
        size = int(run.params["stamp_size"])
        if size <= 0:
            longest = max(c.wavelength_um for c in exposure.channels)
            size = 2 * round(6.0 * lambda_over_d_px(longest)) + 1
        try:
            psf = exposure_off_axis_psf(
                exposure,
                nd_model=str(run.params["nd_model"]),  # type: ignore[arg-type]
                total_radius_lambda_d=float(run.params["total_radius_lambda_d"]),
                background_annulus_lambda_d=(
                    float(run.params["annulus_inner_lambda_d"]),
                    float(run.params["annulus_outer_lambda_d"]),
                ),
                stamp_size=size | 1,
            )
        except ValueError as error:
            raise RecipeError(f"{item.path.name}: {error}") from None
        results.append(psf)
        for side, channel in zip(("left", "right"), psf.channels, strict=True):
            rows.append(
                {
                    "file": item.path.name,
                    "mjd": float(exposure.times.mjd[0]),
                    "channel": side,
                    "filter": channel.name,
                    "wavelength_um": channel.wavelength_um,
                    "x": channel.x,
                    "y": channel.y,
                    "fwhm_px": channel.fwhm_px,
                    "aperture_flux": channel.aperture_flux_adu_s,
                    "total_flux": channel.total_flux_adu_s,
                    "background": channel.background_adu,
                    "nd_filter": psf.nd_filter,
                    "nd_transmission": channel.nd_transmission,
                    "dit": psf.dit,
                }
            )
    shapes = {c.psf.shape for r in results for c in r.channels}
    if len(shapes) != 1:
        raise RecipeError(f"the PSF stamps differ in size {sorted(shapes)}: set stamp_size")
    stamps = np.stack([np.mean([r.channels[i].psf for r in results], axis=0) for i in range(2)])
    table = Table(rows)
    for column in ("x", "y", "fwhm_px"):
        table[column].unit = "pix"
    table["aperture_flux"].unit = table["total_flux"].unit = "adu / s"
    table["dit"].unit = "s"
    qc: dict[str, float | int | str] = {
        "n_exposures": len(items),
        "nd_filter": results[0].nd_filter,
    }
    for i, side in enumerate(("left", "right")):
        fluxes = np.array([r.channels[i].aperture_flux_adu_s for r in results])
        qc[f"star_flux_{side}"] = float(np.mean(fluxes))
        qc[f"fwhm_{side}"] = float(np.mean([r.channels[i].fwhm_px for r in results]))
        qc[f"flux_spread_{side}"] = (
            float(np.ptp(fluxes) / np.mean(fluxes)) if len(fluxes) > 1 else 0.0
        )
    half = stamps.shape[-1] // 2
    write_product(
        run,
        "off_axis_psf.fits",
        stamps,
        category="IRD_PSF",
        source=items[0],
        qc=qc,
        bunit="adu / s",
        pixscale=IRDIS_PIXEL_SCALE_MAS / 1000.0,
        star_xy=(float(half), float(half)),
        fwhm=float(qc["fwhm_left"]),
        centred=True,
        cards={FILTER_KEY: combination},
        extensions=[table_hdu(table, STAR_FLUX_EXTENSION)],
    )
    run.qc.update(qc)


RECIPE = sphere_recipe(
    name="ird_flux",
    version="1.0",
    description="IRDIS off-axis PSF and star flux per field from flux frames, corrected for "
    "DIT and neutral density.",
    inputs=(
        InputSlot(
            "IRD_FLUX_RAW",
            ("IRD_FLUX_RAW",),
            min_count=1,
            doc="Flux exposures (OBJECT,FLUX): the star off the coronagraph.",
            primary=True,
        ),
        DARK_SLOT,
        BACKGROUND_SLOT,
        FLAT_SLOT,
    ),
    params=(
        ParamSpec(
            "nd_model",
            "str",
            "measured",
            "Neutral-density transmission: the measured curves over each filter, or nominal "
            "(10^-ND).",
            choices=("measured", "nominal"),
        ),
        ParamSpec(
            "total_radius_lambda_d",
            "float",
            12.0,
            "Radius (lambda/D) of the aperture of the total star flux.",
            minimum=1.0,
            maximum=100.0,
        ),
        ParamSpec(
            "annulus_inner_lambda_d",
            "float",
            14.0,
            "Inner radius (lambda/D) of the background annulus.",
            minimum=1.0,
            maximum=200.0,
        ),
        ParamSpec(
            "annulus_outer_lambda_d",
            "float",
            18.0,
            "Outer radius (lambda/D) of the background annulus.",
            minimum=2.0,
            maximum=250.0,
        ),
        ParamSpec(
            "stamp_size",
            "int",
            0,
            "Side (px, odd) of the PSF stamp; 0 = about 12 lambda/D.",
            minimum=0,
            maximum=1023,
        ),
        KERNEL_PARAM,
    ),
    outputs=(OutputSpec("IRD_PSF", "off-axis PSF per field (ADU/s) and star flux table"),),
    run=run,
    default_timeout_s=1800.0,
)
