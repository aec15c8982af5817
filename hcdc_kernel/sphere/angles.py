"""Frame times, parallactic angles and derotation angles of IRDIS (and IFS) exposures.

* Time of each frame of a cube: the middle of its DIT,
  ``DATE-OBS + i (DET FRAM UTC − DATE-OBS) / NDIT + DET DITDELAY + DIT / 2``, as the SPHERE
  consortium's pipeline time-stamps frames (Maire et al. 2016, SPIE 9908; ``vlt-sphere``'s
  ``compute_times``).
* Parallactic angle of each frame: ``TEL PARANG START`` (at ``DATE-OBS``) and
  ``TEL PARANG END`` (at ``DET FRAM UTC``) interpolated linearly in time, across the ±180°
  wrap when the star transits north of the zenith. As a cross-check, or instead, the angle is
  computed from the pointing (``RA``, ``DEC``, ICRS), the local sidereal time (``LST`` at
  ``DATE-OBS``, advanced at the sidereal rate) and Paranal's latitude (−24.6272°):
  ``tan q = sin H / (tan φ cos δ − sin δ cos H)`` (Meeus 1998, *Astronomical Algorithms*,
  eq. 14.1), with ``(α, δ)`` moved to the true equator and equinox of date by astropy (no
  network needed).
* Derotation angle (north up, east left, with ``vip_hci.preproc.cube_derotate``):
  parallactic angle + pupil offset (135.99° in ``ELEV``; −100.48° + ``INS4 DROT2 POSANG`` in
  ``SKY``; −100.48° in ``STAT``) + instrument offset (IRDIS 0°, IFS −100.48°) + true north
  (−1.75°) (Maire et al. 2016). Before 2016-07-12 a derotator drift is corrected as
  vlt-sphere does: ``atan(tan(TEL ALT − 2 INS4 DROT2 BEGIN))``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import TETE, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from hcdc_kernel.sphere.errors import KeywordError
from hcdc_kernel.sphere.exposures import (
    DIT_KEY,
    NDIT_KEY,
    HeaderLike,
    keyword_float,
    keyword_time,
)

__all__ = [
    "INSTRUMENT_OFFSET_DEG",
    "PARANAL_LATITUDE_DEG",
    "PARANAL_LONGITUDE_DEG",
    "PUPIL_OFFSET_DEG",
    "SKY_MODE_OFFSET_DEG",
    "TRUE_NORTH_DEG",
    "AngleSource",
    "ParallacticAngles",
    "derotation_angles",
    "frame_times",
    "parallactic_angle",
    "parallactic_angles",
    "pointing_parallactic_angles",
]

FloatArray = npt.NDArray[np.float64]
AngleSource = Literal["header", "ephemeris", "auto"]

#: Paranal (VLT UT3), geodetic, as ``TEL GEOLAT`` / ``TEL GEOLON`` give it.
PARANAL_LATITUDE_DEG = -24.6272
PARANAL_LONGITUDE_DEG = -70.4045
#: Offsets of Maire et al. (2016), degrees.
PUPIL_OFFSET_DEG = 135.99
SKY_MODE_OFFSET_DEG = -100.48
TRUE_NORTH_DEG = -1.75
INSTRUMENT_OFFSET_DEG: dict[str, float] = {"IRDIS": 0.0, "IFS": -100.48}
#: Date from which the derotator no longer drifts (vlt-sphere's ``compute_angles``).
_DEROTATOR_FIX = Time("2016-07-12T00:00:00", scale="utc")
_SIDEREAL_PER_SOLAR = 1.00273790935

PARANG_START = "HIERARCH ESO TEL PARANG START"
PARANG_END = "HIERARCH ESO TEL PARANG END"
FRAME_UTC = "HIERARCH ESO DET FRAM UTC"
DIT_DELAY = "HIERARCH ESO DET DITDELAY"
DEROTATOR_MODE = "HIERARCH ESO INS4 DROT2 MODE"
DEROTATOR_POSANG = "HIERARCH ESO INS4 DROT2 POSANG"
DEROTATOR_BEGIN = "HIERARCH ESO INS4 DROT2 BEGIN"
TEL_ALT = "HIERARCH ESO TEL ALT"


def _wrap(angle: npt.ArrayLike) -> FloatArray:
    """Angles in (−180, 180]."""
    wrapped = -((180.0 - np.asarray(angle, dtype=np.float64)) % 360.0) + 180.0
    return np.asarray(wrapped, dtype=np.float64)


def frame_times(header: HeaderLike, *, path: Path | None = None, collapse: bool = False) -> Time:
    """UTC of the middle of each DIT of an exposure (or of the whole cube when collapsed).

    Parameters
    ----------
    header : astropy.io.fits.Header
        Primary header of the raw file.
    path : pathlib.Path, optional
        Named in error messages.
    collapse : bool
        One time for the mean of the cube: the middle between the start of the first DIT and
        the end of the last.

    Returns
    -------
    astropy.time.Time, shape (NDIT,) or (1,)
    """
    start = keyword_time(header, "DATE-OBS", path=path)
    end = keyword_time(header, FRAME_UTC, path=path)
    dit = keyword_float(header, DIT_KEY, path=path)
    ndit = int(keyword_float(header, NDIT_KEY, path=path, default=1.0))
    delay = keyword_float(header, DIT_DELAY, path=path, default=0.0)
    if ndit < 1:
        raise KeywordError(f"must be at least 1, found {ndit}", path=path, keyword=NDIT_KEY)
    span = (end - start).to_value(u.s)
    if span <= 0:
        raise KeywordError(
            f"is not after DATE-OBS ({end.isot} <= {start.isot})", path=path, keyword=FRAME_UTC
        )
    period = span / ndit
    if collapse:
        offsets = np.array([delay + ((ndit - 1) * period + dit) / 2.0])
    else:
        offsets = np.arange(ndit) * period + delay + dit / 2.0
    result: Time = start + offsets * u.s
    return result


def parallactic_angle(
    hour_angle_deg: npt.ArrayLike,
    *,
    dec_deg: float,
    latitude_deg: float = PARANAL_LATITUDE_DEG,
) -> FloatArray:
    """Parallactic angle (degrees, ESO's convention, in (−180, 180]) of a star.

    ``tan q = sin H / (tan φ cos δ − sin δ cos H)`` (Meeus 1998, eq. 14.1), with ``arctan2`` for
    the quadrant: zero at transit south of the zenith, positive after the transit.
    """
    h = np.radians(np.asarray(hour_angle_deg, dtype=np.float64))
    d = np.radians(dec_deg)
    phi = np.radians(latitude_deg)
    q = np.arctan2(np.sin(h), np.tan(phi) * np.cos(d) - np.sin(d) * np.cos(h))
    return _wrap(np.degrees(q))


@functools.lru_cache(maxsize=256)
def _apparent_place(ra_deg: float, dec_deg: float, jd: float) -> tuple[float, float]:
    """ICRS to the true equator and equinox of date (precession, nutation, aberration).

    Cached per 0.01 day: the apparent place moves by milliarcseconds in that time.
    """
    apparent = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs").transform_to(
        TETE(obstime=Time(jd, format="jd", scale="utc"))
    )
    return float(apparent.ra.to_value(u.deg)), float(apparent.dec.to_value(u.deg))


def pointing_parallactic_angles(
    header: HeaderLike,
    times: Time,
    *,
    path: Path | None = None,
    latitude_deg: float = PARANAL_LATITUDE_DEG,
    longitude_deg: float = PARANAL_LONGITUDE_DEG,
) -> FloatArray:
    """Parallactic angles at ``times`` from ``RA``, ``DEC`` and ``LST`` of a header.

    ``LST`` (seconds, at ``DATE-OBS``) is advanced at the sidereal rate; without it the
    apparent sidereal time is computed by astropy at ``longitude_deg`` from its bundled Earth
    orientation tables (no download).

    Raises
    ------
    KeywordError
        When ``RA`` or ``DEC`` is absent or corrupt.
    """
    ra = keyword_float(header, "RA", path=path)
    dec = keyword_float(header, "DEC", path=path)
    if not -90.0 <= dec <= 90.0:
        raise KeywordError(f"outside [-90, 90]: {dec}", path=path, keyword="DEC")
    times = Time(np.atleast_1d(times.utc.jd), format="jd", scale="utc")
    ra_apparent, dec_apparent = _apparent_place(ra, dec, round(float(times[0].jd), 2))
    if "LST" in header:
        lst0 = keyword_float(header, "LST", path=path)
        start = keyword_time(header, "DATE-OBS", path=path)
        elapsed = (times - start).to_value(u.s)
        lst_deg = (lst0 + elapsed * _SIDEREAL_PER_SOLAR) / 240.0
    else:
        with iers.conf.set_temp("auto_download", False):
            lst_deg = times.sidereal_time("apparent", longitude=longitude_deg * u.deg).to_value(
                u.deg
            )
    hour_angle = lst_deg - ra_apparent
    return parallactic_angle(hour_angle, dec_deg=dec_apparent, latitude_deg=latitude_deg)


def _header_parallactic_angles(header: HeaderLike, times: Time, *, path: Path | None) -> FloatArray:
    values = []
    for keyword in (PARANG_START, PARANG_END):
        value = keyword_float(header, keyword, path=path)
        if not -180.0 <= value <= 180.0:
            raise KeywordError(f"outside [-180, 180]: {value}", path=path, keyword=keyword)
        values.append(value)
    start_angle, end_angle = values
    start = keyword_time(header, "DATE-OBS", path=path)
    end = keyword_time(header, FRAME_UTC, path=path)
    fraction = (times - start).to_value(u.s) / (end - start).to_value(u.s)
    change = float(_wrap(end_angle - start_angle))
    return _wrap(start_angle + fraction * change)


def _drift_correction(header: HeaderLike, times: Time, *, path: Path | None) -> float:
    if float(times.mjd.min()) > _DEROTATOR_FIX.mjd:
        return 0.0
    if TEL_ALT not in header or DEROTATOR_BEGIN not in header:
        return 0.0
    alt = keyword_float(header, TEL_ALT, path=path)
    drot = keyword_float(header, DEROTATOR_BEGIN, path=path)
    return float(np.degrees(np.arctan(np.tan(np.radians(alt - 2.0 * drot)))))


@dataclass(frozen=True, eq=False)
class ParallacticAngles:
    """Parallactic angle of each frame of an exposure.

    Attributes
    ----------
    times : astropy.time.Time, shape (n,)
        UTC of each frame (middle of the DIT, or of the cube when collapsed).
    degrees : numpy.ndarray, shape (n,)
        Parallactic angles in (−180, 180], including the derotator drift correction.
    source : {"header", "ephemeris"}
        ``TEL PARANG START/END`` interpolated, or computed from ``RA``/``DEC``/``LST``.
    ephemeris_difference_deg : float or None
        QC: largest |header − pointing| over the frames, when both could be computed.
    """

    times: Time
    degrees: FloatArray
    source: Literal["header", "ephemeris"]
    ephemeris_difference_deg: float | None


def parallactic_angles(
    header: HeaderLike,
    *,
    path: Path | None = None,
    collapse: bool = False,
    source: AngleSource = "header",
    tolerance_deg: float | None = 1.0,
    latitude_deg: float = PARANAL_LATITUDE_DEG,
) -> ParallacticAngles:
    """Parallactic angle of each frame of a raw exposure.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Primary header of the raw file.
    path : pathlib.Path, optional
        Named in error messages.
    collapse : bool
        One angle for the mean of the cube (see :func:`frame_times`).
    source : {"header", "ephemeris", "auto"}
        ``"header"``: ``TEL PARANG START/END`` (an error when they are absent or corrupt);
        ``"ephemeris"``: ``RA``/``DEC``/``LST``; ``"auto"``: the header, falling back to the
        pointing when PARANG is absent or corrupt.
    tolerance_deg : float or None
        Largest accepted disagreement between the header and the pointing (when both exist);
        None accepts any.
    latitude_deg : float
        Site latitude; Paranal by default.

    Returns
    -------
    ParallacticAngles

    Raises
    ------
    KeywordError
        Naming the file and the keyword: PARANG absent or corrupt (``source="header"``),
        ``RA``/``DEC`` absent (``source="ephemeris"``), a bad date, or a disagreement beyond
        ``tolerance_deg``.
    """
    times = frame_times(header, path=path, collapse=collapse)
    try:
        pointing: FloatArray | None = pointing_parallactic_angles(
            header, times, path=path, latitude_deg=latitude_deg
        )
        pointing_error: KeywordError | None = None
    except KeywordError as error:
        pointing, pointing_error = None, error

    chosen: Literal["header", "ephemeris"]
    if source == "ephemeris":
        if pointing is None:
            assert pointing_error is not None
            raise pointing_error
        angles, chosen, difference = pointing, "ephemeris", None
    elif source in ("header", "auto"):
        try:
            angles = _header_parallactic_angles(header, times, path=path)
            chosen = "header"
        except KeywordError:
            if source == "header" or pointing is None:
                raise
            angles, chosen = pointing, "ephemeris"
        difference = None
        if chosen == "header" and pointing is not None:
            difference = float(np.max(np.abs(_wrap(angles - pointing))))
            if tolerance_deg is not None and difference > tolerance_deg:
                raise KeywordError(
                    f"TEL PARANG START/END disagree with RA/DEC/LST by {difference:.3f} deg "
                    f"(tolerance {tolerance_deg} deg); use source='ephemeris' if the header "
                    "interpolation is at fault (e.g. a transit near the zenith)",
                    path=path,
                    keyword=PARANG_START,
                )
    else:
        raise ValueError(f"unknown source {source!r}; use 'header', 'ephemeris' or 'auto'")
    correction = _drift_correction(header, times, path=path)
    return ParallacticAngles(
        times=times,
        degrees=_wrap(angles + correction),
        source=chosen,
        ephemeris_difference_deg=difference,
    )


def derotation_angles(
    parallactic_deg: npt.ArrayLike,
    *,
    derotator_mode: str,
    posang_deg: float = 0.0,
    arm: str = "IRDIS",
    true_north_deg: float = TRUE_NORTH_DEG,
) -> FloatArray:
    """Angles that rotate frames to north up, east left (``vip_hci`` ``cube_derotate``).

    Parameters
    ----------
    parallactic_deg : array_like, shape (n,)
        Parallactic angles of the frames of a sequence, in time order.
    derotator_mode : str
        ``INS4 DROT2 MODE``: ``"ELEV"`` (pupil tracking), ``"SKY"`` (field tracking) or
        ``"STAT"``.
    posang_deg : float
        ``INS4 DROT2 POSANG`` (used in ``SKY`` mode).
    arm : {"IRDIS", "IFS"}
        ``SEQ ARM``; sets the instrument offset.
    true_north_deg : float
        True-north correction (−1.75° ± 0.08°, Maire et al. 2016).

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``parang + pupil offset + instrument offset + true north``, unwrapped along the
        sequence (no jump of 360° between consecutive frames).
    """
    mode = derotator_mode.strip().upper()
    if mode == "ELEV":
        pupil = PUPIL_OFFSET_DEG
    elif mode == "SKY":
        pupil = SKY_MODE_OFFSET_DEG + posang_deg
    elif mode == "STAT":
        pupil = SKY_MODE_OFFSET_DEG
    else:
        raise ValueError(f"unknown derotator mode {derotator_mode!r}; use ELEV, SKY or STAT")
    if arm not in INSTRUMENT_OFFSET_DEG:
        raise ValueError(f"unknown arm {arm!r}; use {', '.join(INSTRUMENT_OFFSET_DEG)}")
    angles = (
        np.asarray(parallactic_deg, dtype=np.float64).reshape(-1)
        + pupil
        + INSTRUMENT_OFFSET_DEG[arm]
        + true_north_deg
    )
    return np.asarray(np.unwrap(angles, period=360.0), dtype=np.float64)
