"""``ird_master_dark``: master darks, instrument backgrounds and skies with their hot pixels.

What ESO's ``sph_ird_master_dark`` does, in Python (:func:`hcdc_kernel.sphere.master_dark`):
the raw frames are grouped by kind (``DPR TYPE`` ``DARK``, ``DARK,BACKGROUND`` or ``SKY``),
DIT and, for backgrounds and skies, filter combination; each group gives one master (a
per-pixel sigma-clipped median) with its hot pixels. A workflow hands all the darks of a night
to one run; a launch on a selection runs once per DIT and filter.
"""

from __future__ import annotations

from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeRun, sphere_recipe
from hcdc_kernel.recipes.sphere.io import KIND_KEY, badpix_hdu, write_product
from hcdc_kernel.sphere.calibration import master_dark_from_files
from hcdc_kernel.sphere.exposures import (
    DIT_DECIMALS,
    DIT_KEY,
    DPR_TYPE_KEY,
    FILTER_KEY,
    keyword_float,
    keyword_text,
)

CATEGORY_OF_KIND = {
    "dark": "IRD_MASTER_DARK",
    "background": "IRD_MASTER_BACKGROUND",
    "sky": "IRD_MASTER_SKY",
}
_KIND_OF_DPR_TYPE = {"DARK": "dark", "DARK,BACKGROUND": "background", "SKY": "sky"}


def run(run: RecipeRun) -> None:
    """Combine each group of frames into a master; write it with its bad-pixel map."""
    groups: dict[tuple[str, float, str], list] = {}
    for item in run.inputs.of_role("IRD_DARK_RAW"):
        dpr_type = keyword_text(item.header, DPR_TYPE_KEY, path=item.path).replace(" ", "")
        kind = _KIND_OF_DPR_TYPE.get(dpr_type.upper(), "dark")
        dit = round(keyword_float(item.header, DIT_KEY, path=item.path), DIT_DECIMALS)
        combination = keyword_text(item.header, FILTER_KEY, path=item.path, default="")
        groups.setdefault((kind, dit, "" if kind == "dark" else combination), []).append(item)
    for index, ((kind, dit, combination), items) in enumerate(sorted(groups.items())):
        run.progress(100.0 * index / len(groups), f"{kind} {dit:g} s: {len(items)} file(s)")
        master = master_dark_from_files(
            [item.path for item in items],
            clip_sigma=float(run.params["clip_sigma"]),
            hot_sigma=float(run.params["hot_sigma"]),
            box=int(run.params["box"]),
        )
        qc = {
            "level": master.level,
            "noise": master.noise,
            "hot_pixels": master.hot_pixel_count,
            "nframes": master.n_frames,
            "dit": master.dit,
        }
        suffix = f"_{combination}" if combination else ""
        category = CATEGORY_OF_KIND[kind]
        write_product(
            run,
            f"master_{kind}_{dit:g}s{suffix}.fits",
            master.image,
            category=category,
            source=items[0],
            qc=qc,
            cards={
                KIND_KEY: kind,
                DIT_KEY: master.dit,
                FILTER_KEY: master.filter_combination,
            },
            extensions=[badpix_hdu(master.bad_pixels)],
        )
        label = f"{kind}_{dit:g}s"
        run.qc.update(
            {
                f"{label}_level": master.level,
                f"{label}_hot_pixels": master.hot_pixel_count,
            }
        )
    run.qc["n_masters"] = len(groups)


RECIPE = sphere_recipe(
    name="ird_master_dark",
    version="1.0",
    description="IRDIS master darks, instrument backgrounds and skies per DIT (and filter), "
    "with hot pixels.",
    inputs=(
        InputSlot(
            "IRD_DARK_RAW",
            ("IRD_DARK_RAW", "IRD_BACKGROUND_RAW", "IRD_SKY_RAW"),
            min_count=1,
            doc="Raw darks, instrument backgrounds and skies.",
            primary=True,
        ),
    ),
    params=(
        ParamSpec(
            "clip_sigma",
            "float",
            5.0,
            "Per-pixel clipping of the combination (sigma).",
            minimum=1.0,
            maximum=20.0,
        ),
        ParamSpec(
            "hot_sigma",
            "float",
            5.0,
            "Hot pixels: departure from the local median, in robust standard deviations.",
            minimum=2.0,
            maximum=50.0,
        ),
        ParamSpec(
            "box",
            "int",
            5,
            "Side (px) of the local median of the hot-pixel search.",
            minimum=3,
            maximum=31,
        ),
    ),
    outputs=(
        OutputSpec("IRD_MASTER_DARK", "master dark and hot pixels (BADPIX) per DIT"),
        OutputSpec("IRD_MASTER_BACKGROUND", "instrument background per DIT and filter"),
        OutputSpec("IRD_MASTER_SKY", "sky background per DIT and filter"),
    ),
    run=run,
    auto_calibrate=True,
    default_timeout_s=1800.0,
)
