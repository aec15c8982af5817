"""Parameters and dispatch of the ADI post-processing shared by several hci recipes."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hcdc_kernel.hci.adi import AdiResult, adi_median, pca_annular, pca_full_frame
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec

__all__ = ["ADI_PARAMS", "ALGORITHM_BY_MODE", "algorithm_params", "post_process"]

#: hci recipe ``mode`` -> :mod:`hcdc_kernel.hci.adi` algorithm name.
ALGORITHM_BY_MODE = {
    "median": "adi_median",
    "full": "pca_full_frame",
    "annular": "pca_annular",
}

#: Input slots most hci recipes share.
CENTERED_CUBE_SLOT = InputSlot(
    "SCIENCE",
    ("HCI_CENTERED_CUBE", "IRD_SCIENCE_CUBE"),
    min_count=1,
    doc="Centred cube (with its angles), e.g. an IRDIS field from ird_preprocess.",
    primary=True,
)
ANGLES_SLOT = InputSlot(
    "ANGLES", ("HCI_ANGLES",), min_count=0, max_count=1, doc="Parallactic angles."
)
OFF_AXIS_PSF_SLOT = InputSlot(
    "PSF", ("HCI_PSF", "IRD_FLUX_RAW", "NACO_IMG_FLUX_RAW"), min_count=1, doc="Off-axis PSF."
)

ADI_PARAMS = (
    ParamSpec(
        "mode",
        "str",
        "full",
        "median: classical ADI; full: full-frame PCA; annular: annular PCA with a rotation "
        "threshold.",
        choices=tuple(ALGORITHM_BY_MODE),
    ),
    ParamSpec("ncomp", "int", 5, "Principal components (PCA modes).", minimum=1, maximum=500),
    ParamSpec(
        "delta_rot",
        "float",
        1.0,
        "Annular PCA: minimum rotation, in FWHM, between a frame and its library.",
        minimum=0.0,
        maximum=10.0,
    ),
    ParamSpec("asize", "float", 0.0, "Annular PCA: annulus width (px); 0 = one FWHM.", minimum=0.0),
    ParamSpec(
        "mask_center_px",
        "float",
        0.0,
        "Radius (px) of the central area masked (annular: inner radius); 0 = none.",
        minimum=0.0,
    ),
    ParamSpec(
        "interpolation",
        "str",
        "biquintic",
        "Rotation interpolation.",
        choices=("bilinear", "bicubic", "biquartic", "biquintic", "fft"),
    ),
)


def algorithm_params(run: RecipeRun, *, fwhm: float) -> tuple[str, dict[str, Any]]:
    """The :mod:`hcdc_kernel.hci.adi` algorithm name and its keyword parameters."""
    mode = str(run.params.get("mode", "full"))
    interpolation = str(run.params["interpolation"])
    mask = float(run.params["mask_center_px"]) or None
    if mode == "median":
        return "adi_median", {"mask_center_px": mask, "interpolation": interpolation}
    if mode == "full":
        return "pca_full_frame", {
            "ncomp": int(run.params["ncomp"]),
            "mask_center_px": mask,
            "interpolation": interpolation,
        }
    asize = float(run.params["asize"]) or None
    return "pca_annular", {
        "ncomp": int(run.params["ncomp"]),
        "fwhm": fwhm,
        "delta_rot": float(run.params["delta_rot"]),
        "asize": asize,
        "radius_int": int(mask or 0),
        "interpolation": interpolation,
    }


def post_process(
    run: RecipeRun,
    cube: NDArray[np.float64],
    angles: NDArray[np.float64],
    *,
    fwhm: float,
    reference: NDArray[np.float64] | None = None,
) -> AdiResult:
    """Run the ADI (or, with ``reference``, RDI) algorithm the parameters choose."""
    name, kwargs = algorithm_params(run, fwhm=fwhm)
    ncomp = kwargs.get("ncomp")
    library = cube.shape[0] if reference is None else reference.shape[0]
    if ncomp is not None and ncomp > library:
        raise RecipeError(f"ncomp={ncomp} exceeds the {library} frames of the PCA library")
    run.log.info("post-processing with %s %s", name, kwargs)
    if reference is not None:
        if name != "pca_full_frame":
            raise RecipeError("RDI runs with mode=full (full-frame PCA on the reference library)")
        return pca_full_frame(cube, angles, reference_cube=reference, **kwargs)
    if name == "adi_median":
        return adi_median(cube, angles, **kwargs)
    if name == "pca_full_frame":
        return pca_full_frame(cube, angles, **kwargs)
    return pca_annular(cube, angles, **kwargs)
