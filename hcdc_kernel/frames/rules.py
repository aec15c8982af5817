"""Frame-type classification as a table of rules (see DOMAIN.md, "Frame types").

One :class:`FrameRule` per row; the first row that matches wins, so more specific rows come
first. Matching is on the normalised DPR keywords plus a few instrument keywords; nothing here
reads files, so every row is testable from a plain header dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "UNKNOWN"
ACQUISITION = "ACQUISITION"
#: SPHERE's AO real-time computer telemetry (``DPR TYPE = OBJECT,AO``): conditions, not images.
SPARTA = "SPH_SPARTA_RAW"

#: ``DPR TYPE = OBJECT,AO`` files by instrument: telemetry hcdc reads (SPHERE's SPARTA files);
#: any other instrument's stay acquisition frames, not reduced.
AO_TELEMETRY_TYPES: Mapping[str, str] = {"SPHERE": SPARTA}


@dataclass(frozen=True)
class FrameRule:
    """One row of the classification table.

    ``dpr_type`` and ``dpr_catg`` must equal the header values (after normalisation);
    ``tech_all`` must all be present among the comma-separated DPR TECH words and
    ``tech_none`` must all be absent. ``keyword_prefix`` maps a header keyword to a required
    prefix of its value, ``keyword_equals`` to a set of accepted values.
    """

    arm: str
    dpr_catg: str
    dpr_type: str
    frame_type: str
    tech_all: tuple[str, ...] = ()
    tech_none: tuple[str, ...] = ()
    keyword_prefix: Mapping[str, str] = field(default_factory=dict)
    keyword_equals: Mapping[str, frozenset[str]] = field(default_factory=dict)
    eso_tag: str | None = None

    def matches(
        self, arm: str, catg: str, dpr_type: str, tech: frozenset[str], header: Mapping[str, Any]
    ) -> bool:
        """Whether this row describes a frame with these normalised keywords."""
        if (arm, catg, dpr_type) != (self.arm, self.dpr_catg, self.dpr_type):
            return False
        if not all(word in tech for word in self.tech_all):
            return False
        if any(word in tech for word in self.tech_none):
            return False
        for key, prefix in self.keyword_prefix.items():
            if not _text(header.get(key)).startswith(prefix):
                return False
        return all(_text(header.get(key)) in ok for key, ok in self.keyword_equals.items())


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip().upper()


_IFS_MODE = "ESO INS2 COMB IFS"
_DROT_MODE = "ESO INS4 DROT2 MODE"

# IRDIS: DPR TECH distinguishes dual-band (DBI), polarimetric (DPI) and classical imaging.
_IRDIS: tuple[FrameRule, ...] = (
    FrameRule(
        "IRDIS",
        "SCIENCE",
        "OBJECT,CENTER",
        "IRD_STAR_CENTER_RAW",
        eso_tag="IRD_STAR_CENTER_WAFFLE_RAW",
    ),
    FrameRule("IRDIS", "SCIENCE", "OBJECT,FLUX", "IRD_FLUX_RAW", eso_tag="IRD_SCIENCE_DBI_RAW"),
    FrameRule(
        "IRDIS",
        "SCIENCE",
        "OBJECT",
        "IRD_SCIENCE_DPI_RAW",
        tech_all=("POLARIMETRY",),
        eso_tag="IRD_SCIENCE_DPI_RAW",
    ),
    FrameRule(
        "IRDIS",
        "SCIENCE",
        "OBJECT",
        "IRD_SCIENCE_DBI_RAW",
        tech_all=("IMAGE", "DUAL"),
        eso_tag="IRD_SCIENCE_DBI_RAW",
    ),
    FrameRule(
        "IRDIS",
        "SCIENCE",
        "OBJECT",
        "IRD_SCIENCE_IMAGING_RAW",
        tech_all=("IMAGE",),
        eso_tag="IRD_SCIENCE_IMAGING_RAW",
    ),
    FrameRule("IRDIS", "SCIENCE", "SKY", "IRD_SKY_RAW", eso_tag="IRD_SKY_BG_RAW"),
    FrameRule("IRDIS", "CALIB", "DARK", "IRD_DARK_RAW", eso_tag="IRD_DARK_RAW"),
    FrameRule("IRDIS", "CALIB", "DARK,BACKGROUND", "IRD_BACKGROUND_RAW", eso_tag="IRD_INS_BG_RAW"),
    FrameRule("IRDIS", "CALIB", "FLAT,LAMP", "IRD_FLAT_FIELD_RAW", eso_tag="IRD_FLAT_FIELD_RAW"),
)

# IFS: flats are told apart by the lamp/mode combination (`CAL_*` = detector flat).
_IFS: tuple[FrameRule, ...] = (
    FrameRule(
        "IFS",
        "SCIENCE",
        "OBJECT,CENTER",
        "IFS_STAR_CENTER_RAW",
        eso_tag="IFS_STAR_CENTER_WAFFLE_RAW",
    ),
    FrameRule("IFS", "SCIENCE", "OBJECT,FLUX", "IFS_FLUX_RAW", eso_tag="IFS_SCIENCE_DR_RAW"),
    FrameRule("IFS", "SCIENCE", "OBJECT", "IFS_SCIENCE_RAW", eso_tag="IFS_SCIENCE_DR_RAW"),
    FrameRule("IFS", "SCIENCE", "SKY", "IFS_SKY_RAW", eso_tag="IFS_SCIENCE_DR_RAW"),
    FrameRule("IFS", "CALIB", "DARK", "IFS_DARK_RAW", eso_tag="IFS_DARK_RAW"),
    FrameRule("IFS", "CALIB", "DARK,BACKGROUND", "IFS_BACKGROUND_RAW", eso_tag="IFS_DARK_RAW"),
    FrameRule(
        "IFS",
        "CALIB",
        "FLAT,LAMP",
        "IFS_DETECTOR_FLAT_RAW",
        keyword_prefix={_IFS_MODE: "CAL_"},
        eso_tag="IFS_DETECTOR_FLAT_FIELD_RAW",
    ),
    FrameRule(
        "IFS",
        "CALIB",
        "FLAT,LAMP",
        "IFS_FLAT_FIELD_RAW",
        keyword_prefix={_IFS_MODE: "OBS_"},
        eso_tag="IFS_FLAT_FIELD_RAW",
    ),
    FrameRule("IFS", "CALIB", "SPECPOS,LAMP", "IFS_SPECPOS_RAW", eso_tag="IFS_SPECPOS_RAW"),
    FrameRule("IFS", "CALIB", "WAVE,LAMP", "IFS_WAVECALIB_RAW", eso_tag="IFS_WAVECALIB_RAW"),
)

# ZIMPOL polarimetry: P1 has the derotator static (field rotates), P2 is field-stabilised.
_ZIMPOL: tuple[FrameRule, ...] = (
    FrameRule(
        "ZIMPOL",
        "SCIENCE",
        "OBJECT",
        "ZPL_SCIENCE_P1_RAW",
        tech_all=("POLARIMETRY",),
        keyword_equals={_DROT_MODE: frozenset({"STAT"})},
        eso_tag="ZPL_SCIENCE_P1_RAW",
    ),
    FrameRule(
        "ZIMPOL",
        "SCIENCE",
        "OBJECT",
        "ZPL_SCIENCE_P2_RAW",
        tech_all=("POLARIMETRY",),
        keyword_equals={_DROT_MODE: frozenset({"SKY", "ELEV"})},
        eso_tag="ZPL_SCIENCE_P2_RAW",
    ),
    FrameRule(
        "ZIMPOL",
        "SCIENCE",
        "OBJECT",
        "ZPL_SCIENCE_IMAGING_RAW",
        tech_all=("IMAGE",),
        eso_tag="ZPL_SCIENCE_IMAGING_RAW",
    ),
    FrameRule(
        "ZIMPOL",
        "CALIB",
        "DARK",
        "ZPL_DARK_IMAGING_RAW",
        tech_all=("IMAGE",),
        eso_tag="ZPL_DARK_IMAGING_RAW",
    ),
    FrameRule("ZIMPOL", "CALIB", "DARK", "ZPL_DARK_RAW", eso_tag="ZPL_DARK_RAW"),
    FrameRule(
        "ZIMPOL",
        "CALIB",
        "BIAS",
        "ZPL_BIAS_IMAGING_RAW",
        tech_all=("IMAGE",),
        eso_tag="ZPL_BIAS_IMAGING_RAW",
    ),
    FrameRule("ZIMPOL", "CALIB", "BIAS", "ZPL_BIAS_RAW", eso_tag="ZPL_BIAS_RAW"),
    FrameRule(
        "ZIMPOL",
        "CALIB",
        "FLAT,LAMP",
        "ZPL_INT_FLAT_FIELD_IMAGING_RAW",
        tech_all=("IMAGE",),
        eso_tag="ZPL_INT_FLAT_FIELD_IMAGING_RAW",
    ),
    FrameRule(
        "ZIMPOL", "CALIB", "FLAT,LAMP", "ZPL_INT_FLAT_FIELD_RAW", eso_tag="ZPL_INT_FLAT_FIELD_RAW"
    ),
)

# NACO: tags as `esorex --man-page naco_img_*` lists them.
_NACO: tuple[FrameRule, ...] = (
    FrameRule("NACO", "SCIENCE", "OBJECT,FLUX", "NACO_IMG_FLUX_RAW"),
    FrameRule("NACO", "SCIENCE", "OBJECT", "NACO_IMG_OBJECT_RAW", eso_tag="IM_JITTER_OBJ"),
    FrameRule("NACO", "SCIENCE", "SKY", "NACO_IMG_SKY_RAW", eso_tag="IM_JITTER_SKY"),
    FrameRule("NACO", "CALIB", "DARK", "NACO_IMG_DARK_RAW", eso_tag="CAL_DARK"),
    FrameRule("NACO", "CALIB", "FLAT,LAMP", "NACO_IMG_LAMP_FLAT_RAW", eso_tag="CAL_FLAT_LAMP"),
    FrameRule("NACO", "CALIB", "FLAT,SKY", "NACO_IMG_TWILIGHT_FLAT_RAW", eso_tag="CAL_FLAT_TWFLAT"),
)

FRAME_RULES: tuple[FrameRule, ...] = _IRDIS + _IFS + _ZIMPOL + _NACO

#: Every frame type the table can produce, plus the special ones.
FRAME_TYPES: frozenset[str] = frozenset(r.frame_type for r in FRAME_RULES) | {
    UNKNOWN,
    ACQUISITION,
    *AO_TELEMETRY_TYPES.values(),
}


def eso_tag_for(frame_type: str) -> str | None:
    """The ESO pipeline SOF tag for an hcdc frame type, where one exists."""
    for rule in FRAME_RULES:
        if rule.frame_type == frame_type:
            return rule.eso_tag
    return None
