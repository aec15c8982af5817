"""The conditions hcdc tracks: one symbol per parameter, with its unit and its sources.

SPARTA (the SPHERE AO real-time computer) estimates the turbulence seen by the AO system; the
site monitor (MASS-DIMM, the meteo tower) measures the sky beside the telescope. Both are time
series; a frame gets the statistics of each parameter over its exposure window.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PREFERRED_SOURCES", "UNITS", "ConditionParameter", "ConditionSource"]


class ConditionParameter(StrEnum):
    """A measured condition (the stored and serialised name is the value)."""

    SEEING = "seeing"  # arcsec at 500 nm, line of sight
    R0 = "r0"  # m at 500 nm
    TAU0 = "tau0"  # s
    WIND_SPEED = "wind_speed"  # m/s
    STREHL = "strehl"  # fraction (0-1), SPARTA's estimate at the IR science wavelength
    WFS_FLUX = "wfs_flux"  # ADU per frame on the visible wavefront sensor (whole pupil)
    DTTS_FLUX = "dtts_flux"  # ADU on the differential tip-tilt sensor
    DTTS_X = "dtts_x"  # px, PSF centroid on the DTTS image
    DTTS_Y = "dtts_y"  # px
    HUMIDITY = "humidity"  # percent


class ConditionSource(StrEnum):
    """Where a time series comes from."""

    SPARTA = "sparta"
    SITE = "site"  # the Paranal site monitor: MASS-DIMM and meteo tower
    HEADER = "header"  # the frame's own header (TEL AMBI FWHM / TAU0), where nothing else is


#: Unit of each parameter as stored (astropy unit strings).
UNITS: dict[ConditionParameter, str] = {
    ConditionParameter.SEEING: "arcsec",
    ConditionParameter.R0: "m",
    ConditionParameter.TAU0: "s",
    ConditionParameter.WIND_SPEED: "m / s",
    ConditionParameter.STREHL: "",
    ConditionParameter.WFS_FLUX: "adu",
    ConditionParameter.DTTS_FLUX: "adu",
    ConditionParameter.DTTS_X: "pix",
    ConditionParameter.DTTS_Y: "pix",
    ConditionParameter.HUMIDITY: "%",
}

#: Which source a frame's value comes from when both measured it, best first. MASS-DIMM is
#: the site's reference for seeing and tau0 (what ESO grades observations by); the wind that
#: matters to the AO is SPARTA's turbulence-weighted one rather than the tower's ground wind.
PREFERRED_SOURCES: dict[ConditionParameter, tuple[ConditionSource, ...]] = {
    ConditionParameter.SEEING: (ConditionSource.SITE, ConditionSource.SPARTA),
    ConditionParameter.TAU0: (ConditionSource.SITE, ConditionSource.SPARTA),
    ConditionParameter.WIND_SPEED: (ConditionSource.SPARTA, ConditionSource.SITE),
    ConditionParameter.HUMIDITY: (ConditionSource.SITE,),
}
for _parameter in ConditionParameter:
    PREFERRED_SOURCES.setdefault(_parameter, (ConditionSource.SPARTA,))
