"""``hci_frame_selection``: reject frames by flux, correlation and conditions, and say why."""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from hcdc_kernel.hci.frame_selection import select_frames
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun, hci_recipe
from hcdc_kernel.recipes.hci.inputs import Sequence3D
from hcdc_kernel.recipes.hci.outputs import (
    FWHM_PARAM,
    PXSCALE_PARAM,
    data_unit,
    table_unit,
    write_cube,
    write_table,
)
from hcdc_kernel.recipes.hci.processing import ANGLES_SLOT, CENTERED_CUBE_SLOT
from hcdc_kernel.recipes.spec import ParamSpec

_CONDITIONS = {
    "seeing": ("SEEING", ("ESO TEL AMBI FWHM START", "ESO TEL AMBI FWHM END")),
    "tau0": ("TAU0", ("ESO TEL AMBI TAU0",)),
}


def _values(text: str) -> NDArray[np.float64] | None:
    if not text.strip():
        return None
    try:
        return np.array([float(v) for v in text.replace(";", ",").split(",")], dtype=np.float64)
    except ValueError as exc:
        raise RecipeError(f"cannot read the values {text!r}: {exc}") from exc


def _conditions(run: RecipeRun, sequence: Sequence3D, name: str) -> NDArray[np.float64] | None:
    """Per-frame seeing or tau0: parameter, table column, or per-file header values."""
    given = _values(str(run.params[name]))
    if given is not None:
        return given
    column, keys = _CONDITIONS[name]
    pieces = []
    for item, count in zip(sequence.files, sequence.frames_per_file, strict=True):
        values = item.table_column((column,))
        if values is not None:
            pieces.append(values)
            continue
        found = [float(item.header[k]) for k in keys if k in item.header]
        if not found:
            return None
        pieces.append(np.full(count, float(np.mean(found))))
    return np.concatenate(pieces)


def run(run: RecipeRun) -> None:
    """Select frames; write the selection table and the cube of kept frames."""
    sequence = run.inputs.science()
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    fwhm = float(run.params["fwhm"]) or 4.0
    inner = float(run.params["inner_radius"])
    outer = float(run.params["outer_radius"]) or min(sequence.cube.shape[1:]) / 2.0 - 1.0
    seeing = _conditions(run, sequence, "seeing")
    tau0 = _conditions(run, sequence, "tau0")
    max_seeing = float(run.params["max_seeing"]) or None
    min_tau0 = float(run.params["min_tau0"]) or None
    if max_seeing is not None and seeing is None:
        raise RecipeError("max_seeing is set but no seeing values were found (param or headers)")
    if min_tau0 is not None and tau0 is None:
        raise RecipeError("min_tau0 is set but no tau0 values were found (param or headers)")
    run.progress(20.0, f"selecting among {sequence.cube.shape[0]} frames")
    flux_sigma = float(run.params["flux_sigma"]) or None
    corr_sigma = float(run.params["correlation_sigma"]) or None
    selection = select_frames(
        sequence.cube,
        inner_radius=inner,
        outer_radius=max(outer, inner + fwhm),
        flux_sigma=flux_sigma,
        min_correlation=float(run.params["min_correlation"]) or None,
        correlation_sigma=corr_sigma,
        seeing=seeing,
        max_seeing=max_seeing,
        tau0=tau0,
        min_tau0=min_tau0,
    )
    qc = {
        "n_frames": int(selection.keep.size),
        "n_kept": int(selection.keep.sum()),
        "n_rejected": selection.n_rejected,
    }
    meta = {"recipe": run.recipe.name, "thresholds": selection.thresholds}
    n = selection.keep.size
    table = Table(
        {
            "frame": np.arange(n),
            "parang": sequence.angles,
            "kept": selection.keep,
            "reasons": [",".join(r) for r in selection.reasons],
            "flux": selection.flux,
            "correlation": selection.correlation,
            "seeing": selection.seeing if selection.seeing is not None else np.full(n, np.nan),
            "tau0": selection.tau0 if selection.tau0 is not None else np.full(n, np.nan),
        },
        units={
            "frame": u.dimensionless_unscaled,
            "parang": "deg",
            "flux": table_unit(data_unit(sequence.headers[0] if sequence.headers else None)),
            "correlation": u.dimensionless_unscaled,
            "seeing": "arcsec",
            "tau0": "s",
        },
    )
    for index in selection.rejected_indices:
        run.log.info("frame %d rejected: %s", index, ", ".join(selection.reasons[index]))
    if not selection.keep.any():
        raise RecipeError(
            f"frame selection rejected all {n} frames; relax the thresholds "
            f"({selection.thresholds})"
        )
    if selection.keep.sum() < 2:
        raise RecipeError("frame selection kept fewer than 2 frames: ADI cannot run on them")
    write_table(
        run, "frame_selection.fits", table, category="HCI_FRAME_SELECTION", meta=meta, qc=qc
    )
    write_cube(
        run,
        "selected_cube.fits",
        sequence.cube[selection.keep],
        sequence.angles[selection.keep],
        category="HCI_CENTERED_CUBE",
        meta=meta,
        pixscale=pxscale,
        qc=qc,
    )
    run.qc.update(qc)


RECIPE = hci_recipe(
    name="hci_frame_selection",
    version="1.1",
    description="Reject frames by PSF flux, correlation to the median frame, seeing and tau0.",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
    ),
    params=(
        ParamSpec(
            "inner_radius", "float", 0.0, "Inner radius (px) of the measured annulus.", minimum=0.0
        ),
        ParamSpec("outer_radius", "float", 0.0, "Outer radius (px); 0 = frame edge.", minimum=0.0),
        ParamSpec(
            "flux_sigma",
            "float",
            3.0,
            "Flux outlier threshold (robust sigma); 0 = off.",
            minimum=0.0,
        ),
        ParamSpec(
            "min_correlation",
            "float",
            0.0,
            "Minimum correlation with the median frame; 0 = off.",
            minimum=0.0,
            maximum=1.0,
        ),
        ParamSpec(
            "correlation_sigma",
            "float",
            3.0,
            "Low-correlation outlier threshold (robust sigma); 0 = off.",
            minimum=0.0,
        ),
        ParamSpec("seeing", "str", "", "Seeing per frame (arcsec), comma-separated; '' = headers."),
        ParamSpec("max_seeing", "float", 0.0, "Maximum seeing (arcsec); 0 = off.", minimum=0.0),
        ParamSpec("tau0", "str", "", "tau0 per frame (s), comma-separated; '' = headers."),
        ParamSpec("min_tau0", "float", 0.0, "Minimum tau0 (s); 0 = off.", minimum=0.0),
        FWHM_PARAM,
        PXSCALE_PARAM,
    ),
    outputs=("HCI_FRAME_SELECTION", "HCI_CENTERED_CUBE"),
    run=run,
)
