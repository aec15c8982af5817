"""``hci_frame_selection``: reject frames by flux, correlation and conditions, and say why.

Conditions per frame come from the parameters, else from the ``CONDITIONS`` input (the time
series the dispatcher writes from the database: each frame gets the mean over its DIT, by the
``MJD`` of the cube's ``ANGLES`` table), else from the cube's tables or the headers.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from hcdc_kernel.conditions import (
    CONDITIONS_CATEGORY,
    CONDITIONS_TAG,
    index_series,
    read_conditions_file,
    values_per_frame,
)
from hcdc_kernel.hci.frame_selection import position_drift, select_frames
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
from hcdc_kernel.recipes.spec import InputSlot, ParamSpec

#: Per-frame conditions by name: (table column, header keywords) read when nothing else says.
_CONDITIONS = {
    "seeing": ("SEEING", ("ESO TEL AMBI FWHM START", "ESO TEL AMBI FWHM END")),
    "tau0": ("TAU0", ("ESO TEL AMBI TAU0",)),
    "strehl": ("STREHL", ()),
}
_DIT_KEYS = ("ESO DET SEQ1 DIT", "ESO DET DIT")
#: MJD of the unix epoch.
_MJD_UNIX = 40587.0

CONDITIONS_SLOT = InputSlot(
    CONDITIONS_TAG,
    (CONDITIONS_CATEGORY,),
    min_count=0,
    max_count=1,
    doc="Conditions time series (seeing, tau0, Strehl, DTTS) of the night; the dispatcher "
    "writes it from the database.",
)


def _values(text: str) -> NDArray[np.float64] | None:
    if not text.strip():
        return None
    try:
        return np.array([float(v) for v in text.replace(";", ",").split(",")], dtype=np.float64)
    except ValueError as exc:
        raise RecipeError(f"cannot read the values {text!r}: {exc}") from exc


def _windows(sequence: Sequence3D) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Start and end (unix s) of each frame: its ``MJD`` (middle of the DIT) +- DIT / 2."""
    starts, ends = [], []
    for item, count in zip(sequence.files, sequence.frames_per_file, strict=True):
        mjd = item.table_column(("MJD",))
        if mjd is None or mjd.size != count:
            return None
        dit = next((float(item.header[k]) for k in _DIT_KEYS if k in item.header), 0.0)
        middle = (mjd - _MJD_UNIX) * 86400.0
        starts.append(middle - dit / 2.0)
        ends.append(middle + dit / 2.0)
    return np.concatenate(starts), np.concatenate(ends)


def _telemetry(run: RecipeRun, sequence: Sequence3D) -> dict[str, NDArray[np.float64]]:
    """Per-frame conditions from the conditions input, by name (``dtts_drift`` in px)."""
    files = run.inputs.of_role("CONDITIONS")
    if not files:
        return {}
    windows = _windows(sequence)
    if windows is None:
        run.log.warning(
            "a conditions file was given but the science cube has no MJD per frame: not used"
        )
        return {}
    series = index_series(s for item in files for s in read_conditions_file(item.path))
    per_frame = values_per_frame(series, *windows)
    found = {parameter.value: values for parameter, values in per_frame.items()}
    if "dtts_x" in found and "dtts_y" in found:
        found["dtts_drift"] = position_drift(found["dtts_x"], found["dtts_y"])
    return found


def _conditions(
    run: RecipeRun,
    sequence: Sequence3D,
    name: str,
    telemetry: dict[str, NDArray[np.float64]],
    sources: dict[str, str],
) -> NDArray[np.float64] | None:
    """Per-frame condition: parameter, conditions file, table column, or header values."""
    given = _values(str(run.params[name])) if name in run.params else None
    if given is not None:
        sources[name] = "parameter"
        return given
    if name in telemetry:
        sources[name] = "conditions file"
        return telemetry[name]
    if name not in _CONDITIONS:
        return None
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
    sources[name] = "headers"
    return np.concatenate(pieces)


def run(run: RecipeRun) -> None:
    """Select frames; write the selection table and the cube of kept frames."""
    sequence = run.inputs.science()
    pxscale = run.inputs.pixscale(float(run.params["pxscale"]))
    fwhm = float(run.params["fwhm"]) or 4.0
    inner = float(run.params["inner_radius"])
    outer = float(run.params["outer_radius"]) or min(sequence.cube.shape[1:]) / 2.0 - 1.0
    telemetry = _telemetry(run, sequence)
    sources: dict[str, str] = {}
    found = {
        name: _conditions(run, sequence, name, telemetry, sources)
        for name in ("seeing", "tau0", "strehl", "dtts_drift")
    }
    limits = {
        "seeing": float(run.params["max_seeing"]) or None,
        "tau0": float(run.params["min_tau0"]) or None,
        "strehl": float(run.params["min_strehl"]) or None,
        "dtts_drift": float(run.params["max_dtts_drift"]) or None,
    }
    for name, limit in limits.items():
        if limit is not None and found[name] is None:
            raise RecipeError(
                f"a {name} limit is set but no {name} values were found "
                "(parameter, conditions input or headers)"
            )
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
        seeing=found["seeing"],
        max_seeing=limits["seeing"],
        tau0=found["tau0"],
        min_tau0=limits["tau0"],
        strehl=found["strehl"],
        min_strehl=limits["strehl"],
        dtts_drift=found["dtts_drift"],
        max_dtts_drift=limits["dtts_drift"],
    )
    qc = {
        "n_frames": int(selection.keep.size),
        "n_kept": int(selection.keep.sum()),
        "n_rejected": selection.n_rejected,
    }
    meta = {
        "recipe": run.recipe.name,
        "thresholds": selection.thresholds,
        "conditions_source": sources,
        "unknown_conditions": {k: list(v) for k, v in selection.unknown.items()},
    }
    n = selection.keep.size

    def column(values: NDArray[np.float64] | None) -> NDArray[np.float64]:
        return values if values is not None else np.full(n, np.nan)

    table = Table(
        {
            "frame": np.arange(n),
            "parang": sequence.angles,
            "kept": selection.keep,
            "reasons": [",".join(r) for r in selection.reasons],
            "flux": selection.flux,
            "correlation": selection.correlation,
            "seeing": column(selection.seeing),
            "tau0": column(selection.tau0),
            "strehl": column(selection.strehl),
            "dtts_drift": column(selection.dtts_drift),
        },
        units={
            "frame": u.dimensionless_unscaled,
            "parang": "deg",
            "flux": table_unit(data_unit(sequence.headers[0] if sequence.headers else None)),
            "correlation": u.dimensionless_unscaled,
            "seeing": "arcsec",
            "tau0": "s",
            "strehl": u.dimensionless_unscaled,
            "dtts_drift": "pix",
        },
    )
    for name, source in sorted(sources.items()):
        run.log.info("%s per frame from the %s", name, source)
    for index in selection.rejected_indices:
        why = []
        for reason in selection.reasons[index]:
            values = found.get(reason)
            value = f" {values[index]:.4g}" if values is not None else ""
            limit = limits.get(reason)
            why.append(f"{reason}{value}" + (f" (limit {limit:g})" if limit is not None else ""))
        run.log.info("frame %d rejected: %s", index, ", ".join(why))
    for name, indices in selection.unknown.items():
        run.log.warning(
            "%s unknown for frame(s) %s (no conditions in their window): kept",
            name,
            ", ".join(str(i) for i in indices),
        )
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
    version="1.2",
    description="Reject frames by PSF flux, correlation to the median frame, seeing, tau0, "
    "AO Strehl and DTTS drift.",
    inputs=(
        CENTERED_CUBE_SLOT,
        ANGLES_SLOT,
        CONDITIONS_SLOT,
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
        ParamSpec(
            "seeing",
            "str",
            "",
            "Seeing per frame (arcsec), comma-separated; '' = conditions input, else headers.",
        ),
        ParamSpec("max_seeing", "float", 0.0, "Maximum seeing (arcsec); 0 = off.", minimum=0.0),
        ParamSpec(
            "tau0",
            "str",
            "",
            "tau0 per frame (s), comma-separated; '' = conditions input, else headers.",
        ),
        ParamSpec("min_tau0", "float", 0.0, "Minimum tau0 (s); 0 = off.", minimum=0.0),
        ParamSpec(
            "min_strehl",
            "float",
            0.0,
            "Minimum AO Strehl estimate (0-1, SPARTA, from the conditions input); 0 = off.",
            minimum=0.0,
            maximum=1.0,
        ),
        ParamSpec(
            "max_dtts_drift",
            "float",
            0.0,
            "Maximum distance (DTTS px) of the star from its median position on the "
            "differential tip-tilt sensor (conditions input); 0 = off.",
            minimum=0.0,
        ),
        FWHM_PARAM,
        PXSCALE_PARAM,
    ),
    outputs=("HCI_FRAME_SELECTION", "HCI_CENTERED_CUBE"),
    run=run,
)
