"""hcdc's built-in recipes: NACO and SPHERE esorex recipes, the ird_* and hci_* Python recipes
and trivial test recipes.

A recipe whose esorex plugin is missing here (SPHERE's ``sph_*`` are not in Debian) is still
declared, with ``unavailable`` saying why: listing it never fails, launching it is refused.
The server stores these specs in its ``recipes`` table, where new versions can be added.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from hcdc_kernel.jobs.context import JobContext, RecipeOutcome
from hcdc_kernel.recipes.esorex import unavailable_reason
from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec, RecipeSpec

_log = logging.getLogger(__name__)

ANY_FRAME = "*"

_NACO_VERSION = "4.4.11"
_SPHERE_VERSION = "0.44.0"
_HCDC_VERSION = "1.0"

_NACO_DARK = RecipeSpec(
    name="naco_img_dark",
    version=_NACO_VERSION,
    kind="esorex",
    entry="naco_img_dark",
    instrument="NACO",
    description="NACO imaging master dark, hot/cold/deviant pixel maps and read-out noise.",
    inputs=(InputSlot("CAL_DARK", ("NACO_IMG_DARK_RAW",), min_count=1, primary=True),),
    params=(
        ParamSpec("r", "str", "200 200 200 200", "Rejected left right bottom and top border [px]."),
        ParamSpec("hot_t", "float", 10.0, "Hot pixel map threshold.", minimum=0.0),
        ParamSpec("cold_t", "float", 6.0, "Cold pixel map threshold.", minimum=0.0),
        ParamSpec("dev_t", "float", 5.0, "Deviant pixel map threshold.", minimum=0.0),
        ParamSpec("nsamples", "int", 100, "Number of samples for RON computation.", minimum=1),
        ParamSpec("hsize", "int", 2, "Half size of the window for RON computation.", minimum=1),
    ),
    outputs=(
        OutputSpec("NACO_IMG_DARK_AVG", "master dark"),
        OutputSpec("NACO_IMG_DARK_HOT", "hot pixel map"),
        OutputSpec("NACO_IMG_DARK_COLD", "cold pixel map"),
        OutputSpec("NACO_IMG_DARK_DEV", "deviant pixel map"),
    ),
    presets={"small_frames": {"r": "10 10 10 10"}},
    auto_calibrate=True,
    default_timeout_s=1800.0,
)

_NACO_LAMPFLAT = RecipeSpec(
    name="naco_img_lampflat",
    version=_NACO_VERSION,
    kind="esorex",
    entry="naco_img_lampflat",
    instrument="NACO",
    description="NACO imaging flat field from lamp on/off frames.",
    inputs=(InputSlot("CAL_FLAT_LAMP", ("NACO_IMG_LAMP_FLAT_RAW",), min_count=2, primary=True),),
    outputs=(OutputSpec("NACO_IMG_LAMP_FLAT", "master flat"),),
    auto_calibrate=True,
)

_NACO_TWFLAT = RecipeSpec(
    name="naco_img_twflat",
    version=_NACO_VERSION,
    kind="esorex",
    entry="naco_img_twflat",
    instrument="NACO",
    description="NACO imaging flat field from twilight frames.",
    inputs=(
        InputSlot("CAL_FLAT_TWFLAT", ("NACO_IMG_TWILIGHT_FLAT_RAW",), min_count=3, primary=True),
    ),
    outputs=(OutputSpec("NACO_IMG_TWFLAT", "master flat"),),
)

_NACO_JITTER = RecipeSpec(
    name="naco_img_jitter",
    version=_NACO_VERSION,
    kind="esorex",
    entry="naco_img_jitter",
    instrument="NACO",
    description="NACO jitter imaging: sky subtraction, registration and stacking.",
    inputs=(
        InputSlot("IM_JITTER_OBJ", ("NACO_IMG_OBJECT_RAW",), min_count=1, primary=True),
        InputSlot("IM_JITTER_SKY", ("NACO_IMG_SKY_RAW",), min_count=0),
        InputSlot("MASTER_IMG_FLAT", ("NACO_IMG_LAMP_FLAT", "NACO_IMG_TWFLAT"), min_count=0),
    ),
    outputs=(OutputSpec("NACO_IMG_JITTER_COMB", "combined image"),),
    needs_validation=True,
)


def _sphere(
    name: str,
    description: str,
    inputs: tuple[InputSlot, ...],
    outputs: tuple[str, ...],
    *,
    needs_validation: bool = False,
    params: tuple[ParamSpec, ...] = (),
) -> RecipeSpec:
    return RecipeSpec(
        name=name,
        version=_SPHERE_VERSION,
        kind="esorex",
        entry=name,
        instrument="SPHERE",
        description=description,
        inputs=inputs,
        params=params,
        outputs=tuple(OutputSpec(c) for c in outputs),
        needs_validation=needs_validation,
        auto_calibrate=not needs_validation,
    )


_IRD_CALS = (
    InputSlot("IRD_MASTER_DARK_FILE", ("IRD_MASTER_DARK",), min_count=1, max_count=1),
    InputSlot("IRD_FLAT_FIELD_FILE", ("IRD_FLAT_FIELD",), min_count=1, max_count=1),
    InputSlot("IRD_STATIC_BADPIXELMAP_FILE", ("IRD_STATIC_BADPIXELMAP",), min_count=0, max_count=1),
)

_SPHERE_RECIPES = (
    _sphere(
        "sph_ird_master_dark",
        "IRDIS master dark and static bad pixel map.",
        (InputSlot("IRD_DARK_RAW", ("IRD_DARK_RAW",), primary=True),),
        ("IRD_MASTER_DARK", "IRD_STATIC_BADPIXELMAP"),
    ),
    _sphere(
        "sph_ird_instrument_flat",
        "IRDIS instrument flat field.",
        (
            InputSlot("IRD_FLAT_FIELD_RAW", ("IRD_FLAT_FIELD_RAW",), primary=True),
            _IRD_CALS[2],
        ),
        ("IRD_FLAT_FIELD", "IRD_NON_LINEAR_BADPIXELMAP"),
    ),
    _sphere(
        "sph_ird_star_center",
        "IRDIS star centre from waffle-spot frames.",
        (
            InputSlot("IRD_STAR_CENTER_WAFFLE_RAW", ("IRD_STAR_CENTER_RAW",), primary=True),
            *_IRD_CALS,
        ),
        ("IRD_STAR_CENTER",),
    ),
    _sphere(
        "sph_ird_science_dbi",
        "IRDIS dual-band imaging science reduction.",
        (
            InputSlot("IRD_SCIENCE_DBI_RAW", ("IRD_SCIENCE_DBI_RAW",), primary=True),
            *_IRD_CALS,
            InputSlot("IRD_STAR_CENTER_WAFFLE_RAW", ("IRD_STAR_CENTER_RAW",), min_count=0),
            InputSlot("IRD_SKY_BG_RAW", ("IRD_SKY_RAW",), min_count=0),
        ),
        ("IRD_SCIENCE_DBI_LEFT_CUBE", "IRD_SCIENCE_DBI_RIGHT_CUBE"),
        needs_validation=True,
    ),
)

_TRIVIAL = (
    RecipeSpec(
        name="hcdc_sleep",
        version=_HCDC_VERSION,
        kind="python",
        entry="hcdc_kernel.recipes.trivial:run_sleep",
        description="Sleep, then succeed or fail on purpose (tests and benchmarks).",
        inputs=(InputSlot("ANY", (ANY_FRAME,), min_count=0, primary=True),),
        params=(
            ParamSpec("seconds", "float", 0.0, "How long to sleep.", minimum=0.0, maximum=86400),
            ParamSpec(
                "fail",
                "str",
                "none",
                "How to end: normally, with an exception, a usage error or a hard crash.",
                choices=("none", "raise", "usage", "crash"),
            ),
            ParamSpec(
                "record",
                "path",
                "",
                "File in the job directory to which each run appends its process id.",
            ),
        ),
        presets={"quick": {"seconds": 0.0}, "slow": {"seconds": 5.0}},
        hidden=True,
        default_timeout_s=600.0,
    ),
    RecipeSpec(
        name="hcdc_echo",
        version=_HCDC_VERSION,
        kind="python",
        entry="hcdc_kernel.recipes.trivial:run_echo",
        description="Write one small FITS product describing the inputs (tests, workflows).",
        inputs=(InputSlot("ANY", (ANY_FRAME,), min_count=0, primary=True),),
        params=(
            ParamSpec("category", "str", "HCDC_ECHO", "Product category (HCDC PRO CATG)."),
            ParamSpec("message", "str", "", "Free text stored as QC MESSAGE."),
        ),
        outputs=(OutputSpec("HCDC_ECHO", "echo product"),),
        hidden=True,
        default_timeout_s=600.0,
    ),
)


def run_hci(context: JobContext) -> RecipeOutcome | None:
    """Run one of the ``hci_*`` Python recipes (the entry stored with their specs)."""
    from hcdc_kernel.recipes.hci import run_job

    return run_job(context)


def hci_recipe_specs() -> tuple[RecipeSpec, ...]:
    """RecipeSpecs of the ``hci_*`` recipes (none when the package does not provide them)."""
    try:
        from hcdc_kernel.recipes.hci import HCI_RECIPES
    except ImportError:
        return ()
    return tuple(HCI_RECIPES.values())


def with_availability(spec: RecipeSpec) -> RecipeSpec:
    """The spec with ``unavailable`` set for this installation."""
    reason = unavailable_reason(spec.entry) if spec.kind == "esorex" else None
    return dataclasses.replace(spec, unavailable=reason)


def irdis_recipe_specs() -> tuple[RecipeSpec, ...]:
    """RecipeSpecs of the ``ird_*`` Python recipes (IRDIS without the SPHERE plugin)."""
    from hcdc_kernel.recipes.sphere import sphere_recipe_specs

    return sphere_recipe_specs()


def builtin_recipes(*, include_hci: bool = True) -> tuple[RecipeSpec, ...]:
    """Every built-in recipe spec, with availability checked here.

    ``include_hci`` also lists the Python science recipes (``hci_*`` and ``ird_*``).
    """
    specs: Iterable[RecipeSpec] = (
        _NACO_DARK,
        _NACO_LAMPFLAT,
        _NACO_TWFLAT,
        _NACO_JITTER,
        *_SPHERE_RECIPES,
        *_TRIVIAL,
        *(irdis_recipe_specs() if include_hci else ()),
        *(hci_recipe_specs() if include_hci else ()),
    )
    return tuple(with_availability(s) for s in specs)


def accepts(slot: InputSlot, frame_type: str) -> bool:
    """Whether a frame of ``frame_type`` may go into ``slot``."""
    return ANY_FRAME in slot.frame_types or frame_type in slot.frame_types
