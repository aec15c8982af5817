"""Spectral and spatial coverage of a file from its instrument and filter (ObsCore em_*, s_*)."""

from __future__ import annotations

from dataclasses import dataclass

#: NACO filters (ESO NACO User Manual): central wavelength and width, µm.
_NACO_FILTERS: dict[str, tuple[float, float]] = {
    "J": (1.265, 0.25),
    "H": (1.66, 0.33),
    "Ks": (2.18, 0.35),
    "L_prime": (3.80, 0.62),
    "NB_4.05": (4.05, 0.02),
    "M_prime": (4.78, 0.59),
}
#: NACO's pixel scale, arcsec (DOMAIN.md: camera L27, the beta Pic data).
NACO_PIXEL_SCALE_ARCSEC = 0.02719


@dataclass(frozen=True)
class Band:
    """Wavelength range, metres."""

    em_min: float
    em_max: float


def band(instrument: str | None, filter_name: str | None) -> Band | None:
    """The band a file covers (both IRDIS fields for a dual-band combination); ``None`` when
    the filter is unknown."""
    if not filter_name:
        return None
    if instrument == "NACO":
        found = _NACO_FILTERS.get(filter_name)
        if found is None:
            return None
        centre, width = found
        return Band((centre - width / 2) * 1e-6, (centre + width / 2) * 1e-6)
    # hcdc_kernel.sphere is imported here, not at module level: its package pulls in the
    # reduction code (seconds), which the API's start-up must not pay for.
    from hcdc_kernel.sphere.filters import filter_channels

    try:
        channels = filter_channels(filter_name)
    except (KeyError, ValueError):
        return None
    low = min(c.wavelength_um - c.bandwidth_um / 2 for c in channels)
    high = max(c.wavelength_um + c.bandwidth_um / 2 for c in channels)
    return Band(low * 1e-6, high * 1e-6)


def pixel_scale_arcsec(instrument: str | None) -> float | None:
    if instrument == "NACO":
        return NACO_PIXEL_SCALE_ARCSEC
    if instrument == "SPHERE":
        from hcdc_kernel.sphere.filters import IRDIS_PIXEL_SCALE_MAS

        return IRDIS_PIXEL_SCALE_MAS / 1000.0
    return None
