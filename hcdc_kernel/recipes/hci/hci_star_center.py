"""``hci_star_center``: star position per frame and the recentred cube.

With star-center (waffle) frames the star is at the intersection of the
diagonals of the four satellite spots (:func:`hcdc_kernel.hci.centering.waffle_centers`),
measured on those frames and applied to every science frame; otherwise a 2-D
Gaussian or Moffat is fitted to the stellar core of each frame, or to the
dark hole of a vortex coronagraph, as vip-hci's ``cube_recenter_2dfit``
(:func:`hcdc_kernel.hci.centering.locate_star`; by default, ``method=auto``,
the median frame tells a core from a dark hole). A cube whose header says it
is centred (``HIERARCH HCDC CENTRED = T``, as this recipe writes it) is passed
through unshifted (``method=none`` does so for any cube).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table

from hcdc_kernel.hci.centering import (
    StarCenters,
    locate_star,
    recenter_cube,
    waffle_centers,
)
from hcdc_kernel.products.description import CENTRED_KEY
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    describe,
    resolve_fwhm,
    star_at_centre,
    write_cube,
    write_image,
    write_table,
)
from hcdc_kernel.recipes.hci.processing import ANGLES_SLOT
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec

SCIENCE_TYPES = (
    "IRD_SCIENCE_DBI_RAW",
    "IRD_SCIENCE_IMAGING_RAW",
    "IFS_SCIENCE_RAW",
    "NACO_IMG_OBJECT_RAW",
    "HCI_CENTERED_CUBE",
)


def _marked_centred(run: RecipeRun) -> bool:
    """Whether every science input says its star is already on the frame centre."""
    science = run.inputs.of_role("SCIENCE")
    return bool(science) and all(f.header.get(CENTRED_KEY) is True for f in science)


def _centers(run: RecipeRun, cube: np.ndarray, fwhm: float) -> StarCenters:
    method = str(run.params["method"])
    if method == "auto":
        if run.inputs.has("STAR_CENTER"):
            method = "waffle"
        elif _marked_centred(run):
            method = "none"
    if method == "none":
        n = cube.shape[0]
        x, y = star_at_centre(cube.shape)
        return StarCenters(
            x=np.full(n, x),
            y=np.full(n, y),
            method="none",
            frame_shape=(cube.shape[1], cube.shape[2]),
            fwhm=np.full(n, fwhm),
        )
    x0, y0 = float(run.params["x"]), float(run.params["y"])
    xy = (x0, y0) if x0 >= 0 and y0 >= 0 else None
    box = int(run.params["box"]) or None
    if method == "waffle":
        frames = run.inputs.cube_of(run.inputs.of_role("STAR_CENTER"), what="star-center")
        if frames.shape[1:] != cube.shape[1:]:
            raise RecipeError(
                f"star-center frames are {frames.shape[1:]}, science frames {cube.shape[1:]}"
            )
        separation = float(run.params["spot_separation"]) or None
        spots = waffle_centers(frames, fwhm=fwhm, xy=xy, spot_separation=separation, box=box)
        run.log.info("waffle centre per star-center frame: x=%s y=%s", spots.x, spots.y)
        n = cube.shape[0]
        return StarCenters(
            x=np.full(n, float(np.median(spots.x))),
            y=np.full(n, float(np.median(spots.y))),
            method="waffle",
            frame_shape=spots.frame_shape,
            fwhm=np.full(n, float(np.median(spots.fwhm))),
            spots=spots.spots,
        )
    model = str(run.params["model"])
    kind = "auto" if method == "auto" else method
    try:
        centers = locate_star(cube, fwhm=fwhm, xy=xy, box=box, model=model, kind=kind)  # type: ignore[arg-type]
    except ValueError as exc:
        raise RecipeError(f"centring failed: {exc}") from exc
    if centers.fallback:
        run.log.warning(
            "the fit failed in frame(s) %s: they take the median centre", list(centers.fallback)
        )
    return centers


def run(run: RecipeRun) -> None:
    """Measure the star centres, write the centres table and the recentred cube."""
    sequence = run.inputs.science()
    psf = run.inputs.psf(required=False)
    fwhm = resolve_fwhm(run, psf)
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    run.progress(10.0, f"{sequence.cube.shape[0]} science frames, FWHM {fwhm:.2f} px")
    centers = _centers(run, sequence.cube, fwhm)
    run.progress(60.0, f"centres measured ({centers.method})")
    recentred = sequence.cube if centers.method == "none" else recenter_cube(sequence.cube, centers)
    meta = {
        "recipe": run.recipe.name,
        "method": centers.method,
        "fwhm_px": fwhm,
        "inputs": [str(f.path.name) for f in sequence.files],
        "fallback_frames": list(centers.fallback),
    }
    qc = {
        "n_frames": int(sequence.cube.shape[0]),
        "mean_shift_x": float(np.mean(centers.shift_x)),
        "mean_shift_y": float(np.mean(centers.shift_y)),
        "rms_center_x": float(np.std(centers.x)),
        "rms_center_y": float(np.std(centers.y)),
        "n_fallback": len(centers.fallback),
        "fwhm_px": fwhm,
    }
    table = Table(
        {
            "frame": np.arange(centers.x.shape[0]),
            "x": centers.x,
            "y": centers.y,
            "shift_x": centers.shift_x,
            "shift_y": centers.shift_y,
            "fwhm": centers.fwhm,
            "parang": sequence.angles,
        },
        units={
            "frame": u.dimensionless_unscaled,
            "x": "pix",
            "y": "pix",
            "shift_x": "pix",
            "shift_y": "pix",
            "fwhm": "pix",
            "parang": "deg",
        },
    )
    centred = describe(
        run,
        pixscale=pxscale,
        star_xy=star_at_centre(recentred.shape),
        fwhm=fwhm,
        centred=True,
    )
    write_table(
        run,
        "star_centers.fits",
        table,
        category="HCI_STAR_CENTERS",
        meta=meta,
        qc=qc,
        description=centred.replace(bunit=None, star_xy=None),
    )
    write_cube(
        run,
        "centered_cube.fits",
        recentred,
        sequence.angles,
        category="HCI_CENTERED_CUBE",
        meta=meta,
        pixscale=pxscale,
        qc=qc,
        description=centred,
    )
    write_image(
        run,
        "angles.fits",
        sequence.angles,
        category="HCI_ANGLES",
        meta=meta,
        pixscale=pxscale,
        description=centred.replace(bunit="deg", star_xy=None, centred=None),
    )
    if psf is not None:
        psf_file = run.inputs.of_role("PSF")[0]
        write_image(
            run,
            "psf.fits",
            psf,
            category="HCI_PSF",
            meta=meta,
            pixscale=pxscale,
            description=describe(run, source=psf_file, pixscale=pxscale, fwhm=fwhm),
        )
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_star_center",
    version="1.1",
    description="Star position per frame (waffle spots or 2-D fit of the core/dark hole) "
    "and the recentred cube.",
    inputs=(
        InputSlot(
            "SCIENCE", SCIENCE_TYPES, min_count=1, doc="Science frames or cube.", primary=True
        ),
        ANGLES_SLOT,
        InputSlot(
            "STAR_CENTER",
            ("IRD_STAR_CENTER_RAW", "IFS_STAR_CENTER_RAW"),
            min_count=0,
            doc="Star-center (waffle) frames.",
        ),
        InputSlot(
            "PSF",
            ("IRD_FLUX_RAW", "NACO_IMG_FLUX_RAW", "HCI_PSF"),
            min_count=0,
            doc="Off-axis PSF.",
        ),
    ),
    params=(
        ParamSpec(
            "method",
            "str",
            "auto",
            "auto (waffle with star-center frames; none for a cube marked HCDC CENTRED; "
            "else core or dark hole, told from the median frame), waffle, core, dark_hole "
            "(vortex coronagraph), or none (already centred: no shift).",
            choices=("auto", "waffle", "core", "dark_hole", "none"),
        ),
        ParamSpec(
            "model",
            "str",
            "gaussian",
            "Profile fitted to the core.",
            choices=("gaussian", "moffat"),
        ),
        FWHM_PARAM,
        ParamSpec("box", "int", 0, "Fitting box side (px); 0 = about 3 FWHM.", minimum=0),
        ParamSpec("x", "float", -1.0, "First guess of the star x (px); -1 = frame centre."),
        ParamSpec("y", "float", -1.0, "First guess of the star y (px); -1 = frame centre."),
        ParamSpec(
            "spot_separation",
            "float",
            0.0,
            "Approximate spot distance from the star (px); 0 = search everywhere.",
            minimum=0.0,
        ),
        PXSCALE_PARAM,
    ),
    outputs=("HCI_STAR_CENTERS", "HCI_CENTERED_CUBE", "HCI_ANGLES", "HCI_PSF"),
    run=run,
)
