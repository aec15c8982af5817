"""Association rules as data: which calibrations go with which frames, per recipe.

Following ESO's EDPS and the SPHERE consortium's pipeline (DOMAIN.md, "Calibration
association"): a calibration must agree with the frames it serves on the rule's match keys
(DIT rounded to 0.01 s, filter combination, readout mode, ...); among those, the best
*level* wins: 0 = same night, 1 = within ±1 day, 2 = within ±N days, 3 = any time; within
a level the closest in time is taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: EDPS association levels.
LEVEL_NAMES: Mapping[int, str] = {
    0: "same night",
    1: "within ±1 day",
    2: "within ±N days",
    3: "any time",
}

Selection = Literal["closest", "closest_night"]


@dataclass(frozen=True)
class MatchKey:
    """A frame attribute that must be equal (numbers compared after rounding to ``step``)."""

    field: str
    step: float | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.field


DIT = MatchKey("dit", step=0.01, label="DIT")
FILTER = MatchKey("instrument_filter", label="filter")
READOUT = MatchKey("readout_mode", label="readout mode")
OBS_ID = MatchKey("obs_id", label="OBS ID")
TARGET = MatchKey("object", label="target")


@dataclass(frozen=True)
class AssociationRule:
    """How to find the frames of one calibration slot.

    ``select="closest"`` takes the ``count`` frames closest in time; ``"closest_night"``
    takes every matching frame of the night of the closest one (a calibration set).
    ``window_days`` is EDPS's N (level 2).
    """

    tag: str
    frame_types: tuple[str, ...]
    match: tuple[MatchKey, ...] = ()
    select: Selection = "closest"
    count: int | None = 1
    window_days: float = 7.0
    max_level: int = 3
    required: bool = True


@dataclass(frozen=True)
class RecipeAssociation:
    """Rules of one recipe: how its primary frames group into runs, and its calibrations."""

    recipe: str
    group_by: tuple[MatchKey, ...] = ()
    calibrations: tuple[AssociationRule, ...] = ()


_IRD_MASTER_DARK = AssociationRule(
    "IRD_MASTER_DARK_FILE", ("IRD_MASTER_DARK",), match=(DIT, FILTER), required=True
)
_IRD_FLAT = AssociationRule("IRD_FLAT_FIELD_FILE", ("IRD_FLAT_FIELD",), match=(FILTER,))
_IRD_BADPIX = AssociationRule(
    "IRD_STATIC_BADPIXELMAP_FILE", ("IRD_STATIC_BADPIXELMAP",), required=False
)

#: Calibrations of the IRDIS Python recipes (ird_*), products of ird_master_dark and ird_flat.
_IRD_DARK = AssociationRule("IRD_MASTER_DARK", ("IRD_MASTER_DARK",), match=(DIT,))
_IRD_BACKGROUND = AssociationRule(
    "IRD_MASTER_BACKGROUND",
    ("IRD_MASTER_BACKGROUND", "IRD_MASTER_SKY"),
    match=(DIT, FILTER),
    required=False,
)
_IRD_FLAT_FIELD = AssociationRule("IRD_FLAT_FIELD", ("IRD_FLAT_FIELD",), match=(FILTER,))
_IRD_ON_SKY = (_IRD_DARK, _IRD_BACKGROUND, _IRD_FLAT_FIELD)

ASSOCIATIONS: Mapping[str, RecipeAssociation] = {
    # NACO (Debian cpl-plugin-naco)
    "naco_img_dark": RecipeAssociation("naco_img_dark", group_by=(DIT, READOUT)),
    "naco_img_lampflat": RecipeAssociation("naco_img_lampflat", group_by=(FILTER,)),
    "naco_img_twflat": RecipeAssociation("naco_img_twflat", group_by=(FILTER,)),
    "naco_img_jitter": RecipeAssociation(
        "naco_img_jitter",
        group_by=(FILTER, DIT),
        calibrations=(
            AssociationRule(
                "IM_JITTER_SKY",
                ("NACO_IMG_SKY_RAW",),
                match=(DIT, FILTER),
                select="closest_night",
                count=None,
                max_level=0,
                required=False,
            ),
            AssociationRule("MASTER_IMG_FLAT", ("NACO_IMG_LAMP_FLAT",), match=(FILTER,)),
        ),
    ),
    # SPHERE IRDIS (sph_ird_*; the plugin is not in Debian)
    "sph_ird_master_dark": RecipeAssociation("sph_ird_master_dark", group_by=(DIT, FILTER)),
    "sph_ird_instrument_flat": RecipeAssociation(
        "sph_ird_instrument_flat", group_by=(FILTER,), calibrations=(_IRD_BADPIX,)
    ),
    "sph_ird_star_center": RecipeAssociation(
        "sph_ird_star_center",
        group_by=(FILTER, DIT),
        calibrations=(_IRD_MASTER_DARK, _IRD_FLAT, _IRD_BADPIX),
    ),
    "sph_ird_science_dbi": RecipeAssociation(
        "sph_ird_science_dbi",
        group_by=(OBS_ID, FILTER, DIT),
        calibrations=(
            _IRD_MASTER_DARK,
            _IRD_FLAT,
            _IRD_BADPIX,
            AssociationRule(
                "IRD_STAR_CENTER_WAFFLE_RAW",
                ("IRD_STAR_CENTER_RAW",),
                match=(TARGET, FILTER),
                max_level=1,
                required=False,
            ),
            AssociationRule(
                "IRD_SKY_BG_RAW",
                ("IRD_SKY_RAW",),
                match=(DIT, FILTER),
                select="closest_night",
                count=None,
                max_level=0,
                required=False,
            ),
        ),
    ),
    # SPHERE IRDIS in Python (ird_*), used where the SPHERE plugin is absent
    "ird_master_dark": RecipeAssociation("ird_master_dark", group_by=(DIT, FILTER)),
    "ird_flat": RecipeAssociation(
        "ird_flat",
        group_by=(FILTER,),
        calibrations=(
            # Needed when the lamp flats share one DIT (then that DIT's dark is subtracted).
            AssociationRule("IRD_MASTER_DARK", ("IRD_MASTER_DARK",), match=(DIT,), required=False),
        ),
    ),
    "ird_star_center": RecipeAssociation(
        "ird_star_center", group_by=(TARGET, FILTER, DIT), calibrations=_IRD_ON_SKY
    ),
    "ird_flux": RecipeAssociation(
        "ird_flux", group_by=(TARGET, FILTER, DIT), calibrations=_IRD_ON_SKY
    ),
    "ird_preprocess": RecipeAssociation(
        "ird_preprocess",
        group_by=(OBS_ID, FILTER, DIT),
        calibrations=(
            *_IRD_ON_SKY,
            # Star centre and flux: same target and filter, same night (every star-centre
            # product of the night, interpolated in time; the closest flux product).
            AssociationRule(
                "IRD_STAR_CENTER",
                ("IRD_STAR_CENTER",),
                match=(TARGET, FILTER),
                select="closest_night",
                count=None,
                max_level=0,
            ),
            AssociationRule(
                "IRD_PSF", ("IRD_PSF",), match=(TARGET, FILTER), max_level=0, required=False
            ),
        ),
    ),
}


def association_for(recipe: str) -> RecipeAssociation:
    """The rules of ``recipe`` (none: its inputs are given by hand or by a workflow)."""
    return ASSOCIATIONS.get(recipe, RecipeAssociation(recipe))
