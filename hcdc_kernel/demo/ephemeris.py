"""Where a star is in Paranal's sky: hour angle, altitude, azimuth and parallactic angle.

The parallactic angle is the exact spherical-trigonometry expression (e.g. Meeus 1998,
*Astronomical Algorithms*, eq. 14.1), the same one the SPHERE consortium's ``vlt-sphere``
package uses (Maire et al. 2016, SPIE 9908), applied to the star's apparent place: astropy
moves the ICRS position to the true equator of date (CIRS: precession, nutation, aberration)
and gives the Earth rotation angle, whose difference is the hour angle. The bundled IERS-B
table covers the dates used, so nothing here needs the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.coordinates import CIRS, SkyCoord
from astropy.time import Time

#: Paranal (VLT), geodetic, as in ESO headers (``TEL GEOLAT``/``TEL GEOLON``/``TEL GEOELEV``).
PARANAL_LATITUDE_DEG = -24.6272
PARANAL_LONGITUDE_DEG = -70.4045
PARANAL_ELEVATION_M = 2635.43

#: IRDIS derotation offsets (Maire et al. 2016): pupil offset in ``ELEV`` mode, true north.
IRDIS_PUPIL_OFFSET_DEG = 135.99
IRDIS_INSTRUMENT_OFFSET_DEG = 0.0
TRUE_NORTH_DEG = -1.75

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SkyPosition:
    """Local coordinates of a star at a set of times (all angles in degrees).

    ``parallactic_angle`` follows ESO's ``TEL PARANG`` convention: in (-180, 180], zero when
    the star transits south of the zenith, positive after transit.
    """

    hour_angle: FloatArray
    altitude: FloatArray
    azimuth: FloatArray
    parallactic_angle: FloatArray
    lst_seconds: FloatArray

    @property
    def airmass(self) -> FloatArray:
        """Plane-parallel airmass ``sec z`` (good to 1 % above 30° altitude)."""
        return np.asarray(1.0 / np.sin(np.radians(self.altitude)), dtype=np.float64)


def sky_position(
    times: Time,
    *,
    ra_deg: float,
    dec_deg: float,
    latitude_deg: float = PARANAL_LATITUDE_DEG,
    longitude_deg: float = PARANAL_LONGITUDE_DEG,
) -> SkyPosition:
    """Hour angle, altitude, azimuth, parallactic angle and LST of a star at ``times``.

    Parameters
    ----------
    times : astropy.time.Time
        UTC instants (scalar or array).
    ra_deg, dec_deg : float
        ICRS coordinates of the star.
    latitude_deg, longitude_deg : float
        Site; Paranal by default.

    Returns
    -------
    SkyPosition
        Arrays with the shape of ``times`` (at least 1-d).
    """
    longitude = longitude_deg * u.deg
    first = times if times.isscalar else times[0]
    # The apparent place drifts by well under an arcsecond over a night: one transform suffices.
    apparent = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg).transform_to(CIRS(obstime=first))
    era = np.atleast_1d(times.earth_rotation_angle(longitude).to_value(u.deg))
    hour_angle = (era - apparent.ra.to_value(u.deg) + 180.0) % 360.0 - 180.0
    lst = np.atleast_1d(times.sidereal_time("apparent", longitude=longitude).to_value(u.deg))
    dec_apparent = float(apparent.dec.to_value(u.deg))
    h = np.radians(hour_angle)
    d = np.radians(dec_apparent)
    phi = np.radians(latitude_deg)
    sin_alt = np.sin(phi) * np.sin(d) + np.cos(phi) * np.cos(d) * np.cos(h)
    altitude = np.degrees(np.arcsin(sin_alt))
    # Azimuth from north through east.
    azimuth = (
        np.degrees(
            np.arctan2(
                -np.cos(d) * np.sin(h),
                np.sin(d) * np.cos(phi) - np.cos(d) * np.cos(h) * np.sin(phi),
            )
        )
        % 360.0
    )
    return SkyPosition(
        hour_angle=hour_angle / 15.0,
        altitude=altitude,
        azimuth=azimuth,
        parallactic_angle=parallactic_angle(
            hour_angle, dec_deg=dec_apparent, latitude_deg=latitude_deg
        ),
        lst_seconds=lst / 15.0 * 3600.0,
    )


def parallactic_angle(
    hour_angle_deg: npt.ArrayLike, *, dec_deg: float, latitude_deg: float = PARANAL_LATITUDE_DEG
) -> FloatArray:
    """Parallactic angle q (degrees) from hour angle (degrees), declination and latitude.

    ``tan q = sin H / (tan φ cos δ − sin δ cos H)`` (Meeus 1998, eq. 14.1), evaluated with
    ``arctan2`` so that the quadrant is right on both sides of the meridian.
    """
    h = np.radians(np.asarray(hour_angle_deg, dtype=np.float64))
    d = np.radians(dec_deg)
    phi = np.radians(latitude_deg)
    q = np.arctan2(np.sin(h), np.tan(phi) * np.cos(d) - np.sin(d) * np.cos(h))
    return np.asarray(np.degrees(q), dtype=np.float64)


def irdis_derotation_angle(parallactic_angle_deg: npt.ArrayLike) -> FloatArray:
    """Angle that brings pupil-tracked (``ELEV``) IRDIS frames to north up, east left.

    ``parang + 135.99 + 0 − 1.75`` degrees (Maire et al. 2016). With vip-hci,
    ``cube_derotate(cube, angle)`` applies it; a source at sky position angle θ (east of
    north) appears in a raw frame at θ − angle, counted the same way from the detector's +y.
    """
    return np.asarray(
        np.asarray(parallactic_angle_deg, dtype=np.float64)
        + IRDIS_PUPIL_OFFSET_DEG
        + IRDIS_INSTRUMENT_OFFSET_DEG
        + TRUE_NORTH_DEG,
        dtype=np.float64,
    )
