"""FITS header -> :class:`FrameInfo`: what hcdc knows about a frame without reading its data."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hcdc_kernel.frames.header_io import extract_keywords, read_header_file
from hcdc_kernel.frames.rules import ACQUISITION, AO_TELEMETRY_TYPES, FRAME_RULES, UNKNOWN
from hcdc_kernel.frames.standards import is_standard_star

#: ESO archive convention: the night of a frame is the date of (UTC - 12 h).
NIGHT_OFFSET = timedelta(hours=12)
_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)

_INSTRUMENT_ALIASES = {"NAOS+CONICA": "NACO", "NACO": "NACO", "SPHERE": "SPHERE"}

#: Filter keyword per instrument arm, first present wins.
_FILTER_KEYS: Mapping[str, tuple[str, ...]] = {
    "IRDIS": ("ESO INS COMB IFLT", "ESO INS1 FILT NAME"),
    "IFS": ("ESO INS2 COMB IFS", "ESO INS2 FILT NAME"),
    "ZIMPOL": ("ESO INS3 OPTI5 NAME", "ESO INS3 OPTI6 NAME"),
    "NACO": ("ESO INS OPTI6 NAME", "ESO INS OPTI5 NAME", "ESO INS OPTI4 NAME", "FILTER"),
}
_DIT_KEYS = ("ESO DET SEQ1 DIT", "ESO DET DIT")
_READOUT_KEYS = ("ESO DET READ CURNAME", "ESO DET MODE NAME")

#: Every keyword :func:`frame_info_from_header` reads; ingest decodes only these.
WANTED_KEYWORDS: frozenset[str] = frozenset(
    {
        "INSTRUME",
        "TELESCOP",
        "OBJECT",
        "DATE-OBS",
        "MJD-OBS",
        "RA",
        "DEC",
        "EXPTIME",
        "NAXIS",
        "NAXIS1",
        "NAXIS2",
        "NAXIS3",
        "ARCFILE",
        "ORIGFILE",
        "FILTER",
        "ESO DPR CATG",
        "ESO DPR TYPE",
        "ESO DPR TECH",
        "ESO SEQ ARM",
        "ESO DET NDIT",
        "ESO DET NCORRS",
        "ESO OBS PROG ID",
        "ESO OBS ID",
        "ESO OBS NAME",
        "ESO OBS TARG NAME",
        "ESO OBS PI-COI NAME",
        "ESO INS COMB ICOR",
        "ESO INS1 MODE",
        "ESO INS1 OPTI2 NAME",
        "ESO INS4 DROT2 MODE",
        "ESO INS4 DROT2 POSANG",
        "ESO INS OPTI7 NAME",
        "ESO TEL AIRM START",
        "ESO TEL AIRM END",
        "ESO TEL AMBI FWHM START",
        "ESO TEL AMBI FWHM END",
        "ESO TEL AMBI TAU0",
        "ESO TEL PARANG START",
        "ESO TEL PARANG END",
        "ESO PRO CATG",
        "HCDC PRO CATG",
        *_DIT_KEYS,
        *_READOUT_KEYS,
        *(key for keys in _FILTER_KEYS.values() for key in keys),
    }
)


@dataclass(frozen=True)
class FrameInfo:
    """Header-derived description of one data file (null where the header is silent)."""

    frame_type: str
    classification_reason: str | None
    instrument: str | None
    arm: str | None
    category: str | None  # DPR CATG for raw frames, ``PRODUCT`` for pipeline products
    dpr_type: str | None
    dpr_tech: str | None
    object: str | None
    target_name: str | None
    date_obs: datetime | None
    mjd_obs: float | None
    obs_night: date | None
    ra: float | None
    dec: float | None
    instrument_filter: str | None
    dit: float | None
    ndit: int | None
    exptime: float | None
    prog_id: str | None
    obs_id: int | None
    obs_name: str | None
    pi_coi: str | None
    readout_mode: str | None
    derotator_mode: str | None
    coronagraph: str | None
    airmass: float | None
    seeing: float | None
    tau0: float | None
    naxis: tuple[int, ...]
    arcfile: str | None

    @property
    def is_standard(self) -> bool:
        """Whether the frame observes a standard star (``DPR TYPE`` or ``OBJECT``)."""
        return is_standard_star(self.dpr_type, self.object)


def observation_night(when: datetime) -> date:
    """The observation night of a UTC time: the date of ``when - 12 h`` (see DOMAIN.md)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return (when - NIGHT_OFFSET).date()


def parse_date_obs(value: Any) -> datetime | None:
    """DATE-OBS as a naive UTC datetime, or None when absent or unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip("Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def mjd_to_datetime(mjd: float) -> datetime:
    """Naive UTC datetime of a modified Julian date (UTC scale, as ESO headers carry it)."""
    return (_MJD_EPOCH + timedelta(days=mjd)).replace(tzinfo=None)


def classify(header: Mapping[str, Any]) -> tuple[str, str | None]:
    """Frame type and, for ``UNKNOWN``, the reason, from a header mapping (astropy key names)."""
    product = _text(header.get("HCDC PRO CATG")) or _text(header.get("ESO PRO CATG"))
    if product:
        return product, None
    catg = _text(header.get("ESO DPR CATG"))
    dpr_type = _text(header.get("ESO DPR TYPE"))
    tech_text = _text(header.get("ESO DPR TECH"))
    instrument, arm = instrument_and_arm(header)
    if dpr_type == "OBJECT,AO":
        return AO_TELEMETRY_TYPES.get(instrument or "", ACQUISITION), None
    if catg == "ACQUISITION":
        return ACQUISITION, None
    if not catg or not dpr_type:
        missing = [k for k, v in (("DPR CATG", catg), ("DPR TYPE", dpr_type)) if not v]
        return UNKNOWN, f"missing HIERARCH ESO {' and '.join(missing)} (INSTRUME={instrument})"
    if arm is None:
        return (
            UNKNOWN,
            f"unknown instrument or arm (INSTRUME={header.get('INSTRUME')!r}, "
            f"SEQ ARM={header.get('ESO SEQ ARM')!r})",
        )
    tech = frozenset(word.strip() for word in tech_text.split(",") if word.strip())
    for rule in FRAME_RULES:
        if rule.matches(arm, catg, dpr_type, tech, header):
            return rule.frame_type, None
    return UNKNOWN, (
        f"no frame-type rule for arm={arm} DPR CATG={catg} DPR TYPE={dpr_type} "
        f"DPR TECH={tech_text or '-'}"
    )


def instrument_and_arm(header: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Instrument (``SPHERE``, ``NACO``) and arm (``IRDIS``, ``IFS``, ``ZIMPOL``, ``NACO``)."""
    raw = _text(header.get("INSTRUME"))
    instrument = _INSTRUMENT_ALIASES.get(raw, raw or None)
    if instrument == "NACO":
        return instrument, "NACO"
    if instrument == "SPHERE":
        arm = _text(header.get("ESO SEQ ARM"))
        return instrument, arm if arm in ("IRDIS", "IFS", "ZIMPOL") else None
    return instrument, None


def frame_info_from_header(header: Mapping[str, Any]) -> FrameInfo:
    """Build a :class:`FrameInfo` from a header mapping (astropy keys, e.g. ``ESO DPR CATG``)."""
    frame_type, reason = classify(header)
    instrument, arm = instrument_and_arm(header)
    is_product = bool(_text(header.get("HCDC PRO CATG")) or _text(header.get("ESO PRO CATG")))
    date_obs = parse_date_obs(header.get("DATE-OBS"))
    mjd = _float(header.get("MJD-OBS"))
    if date_obs is None and mjd is not None:
        date_obs = mjd_to_datetime(mjd)
    naxis = tuple(
        int(header[f"NAXIS{i}"])
        for i in range(1, (_int(header.get("NAXIS")) or 0) + 1)
        if _int(header.get(f"NAXIS{i}")) is not None
    )
    return FrameInfo(
        frame_type=frame_type,
        classification_reason=reason,
        instrument=instrument,
        arm=arm,
        category="PRODUCT" if is_product else (_text(header.get("ESO DPR CATG")) or None),
        dpr_type=_str(header.get("ESO DPR TYPE")),
        dpr_tech=_str(header.get("ESO DPR TECH")),
        object=_str(header.get("OBJECT")),
        target_name=_str(header.get("ESO OBS TARG NAME")) or _str(header.get("OBJECT")),
        date_obs=date_obs,
        mjd_obs=mjd,
        obs_night=observation_night(date_obs) if date_obs else None,
        ra=_float(header.get("RA")),
        dec=_float(header.get("DEC")),
        instrument_filter=_first(header, _FILTER_KEYS.get(arm or "", ("FILTER",))),
        dit=_float(_first_value(header, _DIT_KEYS)),
        ndit=_int(header.get("ESO DET NDIT")),
        exptime=_float(header.get("EXPTIME")),
        prog_id=_str(header.get("ESO OBS PROG ID")),
        obs_id=_int(header.get("ESO OBS ID")),
        obs_name=_str(header.get("ESO OBS NAME")),
        pi_coi=_str(header.get("ESO OBS PI-COI NAME")),
        readout_mode=_first(header, _READOUT_KEYS),
        derotator_mode=_str(header.get("ESO INS4 DROT2 MODE")),
        coronagraph=_str(header.get("ESO INS COMB ICOR")),
        airmass=_mean(header, "ESO TEL AIRM START", "ESO TEL AIRM END"),
        seeing=_mean(header, "ESO TEL AMBI FWHM START", "ESO TEL AMBI FWHM END"),
        tau0=_float(header.get("ESO TEL AMBI TAU0")),
        naxis=naxis,
        arcfile=_str(header.get("ARCFILE")),
    )


def read_frame_info(path: Path) -> FrameInfo:
    """Read the primary header of ``path`` and describe the frame.

    Raises :class:`~hcdc_kernel.frames.header_io.FitsFormatError` for empty, truncated or
    non-FITS files.
    """
    return frame_info_from_header(extract_keywords(read_header_file(path), WANTED_KEYWORDS))


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip().upper()


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number == int(number) else None


def _first_value(header: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if header.get(key) is not None:
            return header[key]
    return None


def _first(header: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _str(header.get(key))
        if value and value.upper() not in ("EMPTY", "OPEN"):
            return value
    return None


def _mean(header: Mapping[str, Any], start: str, end: str) -> float | None:
    values = [v for v in (_float(header.get(start)), _float(header.get(end))) if v is not None]
    return sum(values) / len(values) if values else None
