"""``ird_flat``: the IRDIS detector flat of each filter combination, with its bad pixels.

What ESO's ``sph_ird_instrument_flat`` does, in Python
(:func:`hcdc_kernel.sphere.detector_flat_from_files`): lamp flats taken at several DITs give
the response of each pixel as the slope of a line through its counts; with a single DIT, the
master dark of that DIT is subtracted instead (one of the ``IRD_MASTER_DARK`` inputs). The flat
is normalised to a median of 1 in each field; dead, outlying and non-linear pixels are bad.
"""

from __future__ import annotations

from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeRun, sphere_recipe
from hcdc_kernel.recipes.sphere.io import badpix_hdu, read_master, write_product
from hcdc_kernel.sphere.calibration import MasterDark, detector_flat_from_files
from hcdc_kernel.sphere.errors import CalibrationMismatchError
from hcdc_kernel.sphere.exposures import (
    DIT_DECIMALS,
    DIT_KEY,
    FILTER_KEY,
    keyword_float,
    keyword_text,
    same_dit,
)


def _dark_for(run: RecipeRun, items: list, dits: set[float]) -> MasterDark | None:
    """The master dark of the flats' single DIT (None when they span several DITs)."""
    if len(dits) > 1:
        return None
    (dit,) = dits
    darks = [(read_master(path), path) for path in run.inputs.paths("IRD_MASTER_DARK")]
    for dark, path in darks:
        if dark.kind == "dark" and same_dit(dark.dit, dit):
            run.log.info("flats of one DIT (%g s): subtracting %s", dit, path.name)
            return dark
    available = ", ".join(f"{d.dit:g} s ({p.name})" for d, p in darks) or "none"
    raise CalibrationMismatchError(
        f"all flats share DIT {dit:g} s: a master dark of that DIT is needed "
        f"(master darks given: {available})",
        path=items[0].path,
        keyword=DIT_KEY,
    )


def run(run: RecipeRun) -> None:
    """One detector flat per filter combination."""
    groups: dict[str, list] = {}
    for item in run.inputs.of_role("IRD_FLAT_FIELD_RAW"):
        combination = keyword_text(item.header, FILTER_KEY, path=item.path)
        groups.setdefault(combination, []).append(item)
    for index, (combination, items) in enumerate(sorted(groups.items())):
        run.progress(100.0 * index / len(groups), f"{combination}: {len(items)} lamp flat(s)")
        dits = {round(keyword_float(i.header, DIT_KEY, path=i.path), DIT_DECIMALS) for i in items}
        flat = detector_flat_from_files(
            [item.path for item in items],
            dark=_dark_for(run, items, dits),
            dead_threshold=float(run.params["dead_threshold"]),
            outlier_sigma=float(run.params["outlier_sigma"]),
            nonlinear_sigma=float(run.params["nonlinear_sigma"]),
            box=int(run.params["box"]),
        )
        bad = int(flat.bad_pixels.sum())
        qc = {
            "flat_rms": flat.rms,
            "bad_pixels": bad,
            "dead_pixels": flat.dead_count,
            "outlier_pixels": flat.outlier_count,
            "nonlinear_pixels": flat.nonlinear_count,
            "rate_left": flat.rate[0],
            "rate_right": flat.rate[1],
            "n_dits": len(dits),
        }
        write_product(
            run,
            f"flat_{combination}.fits",
            flat.flat,
            category="IRD_FLAT_FIELD",
            source=items[0],
            qc=qc,
            bunit="",
            cards={FILTER_KEY: combination},
            extensions=[badpix_hdu(flat.bad_pixels)],
        )
        run.qc.update({f"{combination}_flat_rms": flat.rms, f"{combination}_bad_pixels": bad})
    run.qc["n_flats"] = len(groups)


RECIPE = sphere_recipe(
    name="ird_flat",
    version="1.0",
    description="IRDIS detector flat per filter from lamp flats (linear fit per pixel), "
    "with dead and non-linear pixels.",
    inputs=(
        InputSlot(
            "IRD_FLAT_FIELD_RAW",
            ("IRD_FLAT_FIELD_RAW",),
            min_count=1,
            doc="Raw lamp flats, at several DITs or one.",
            primary=True,
        ),
        InputSlot(
            "IRD_MASTER_DARK",
            ("IRD_MASTER_DARK",),
            min_count=0,
            doc="Master darks: the one of the flats' DIT is needed when they share one DIT.",
        ),
    ),
    params=(
        ParamSpec(
            "dead_threshold",
            "float",
            0.5,
            "Pixels of relative response below this are dead.",
            minimum=0.0,
            maximum=1.0,
        ),
        ParamSpec(
            "outlier_sigma",
            "float",
            5.0,
            "Departure from the local median flat (robust sigma) that makes a pixel bad.",
            minimum=2.0,
            maximum=50.0,
        ),
        ParamSpec(
            "nonlinear_sigma",
            "float",
            6.0,
            "With three DITs or more: excess departure from the line that makes a pixel "
            "non-linear (robust sigma).",
            minimum=2.0,
            maximum=50.0,
        ),
        ParamSpec("box", "int", 5, "Side (px) of the local median.", minimum=3, maximum=31),
    ),
    outputs=(OutputSpec("IRD_FLAT_FIELD", "detector flat and bad pixels (BADPIX) per filter"),),
    run=run,
    auto_calibrate=True,
    default_timeout_s=1800.0,
)
