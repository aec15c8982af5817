"""SPHERE SPARTA files (``DPR TYPE = OBJECT,AO``): AO telemetry -> condition time series.

A SPARTA file holds binary-table extensions, each row a time sample (``Sec`` + ``USec``,
unix time) averaged by the real-time computer (the layout vlt-sphere's ``sphere.SPARTA`` reads,
after Milli et al. 2017, arXiv:1707.06200):

============== =============================== =========================================
extension      columns read                    what hcdc makes of them
============== =============================== =========================================
AtmPerfParams  ``R0``, ``WindSpeed``,          r0 (m), wind speed (m/s), Strehl; then
               ``StrehlRatio``                 tau0 = 0.314 r0 / v and seeing = λ/r0 at 500 nm
VisLoopParams  ``Flux_avg``                    visible WFS flux (ADU, whole pupil)
IRLoopParams   ``Flux_avg``                    DTTS flux (ADU)
IRPixelAvgFrame ``Pixels`` (32 × 32 per row)   DTTS PSF centroid x, y (px)
============== =============================== =========================================

Values outside physical bounds are dropped as vlt-sphere does (Strehl outside (0.05, 0.98],
r0 outside (0, 0.9] m, wind outside (0, 50] m/s). A missing extension or column is reported
by name and the rest of the file is still read.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from hcdc_kernel.conditions.parameters import ConditionParameter as P
from hcdc_kernel.conditions.parameters import ConditionSource
from hcdc_kernel.conditions.series import ConditionSeries, ReadResult, gap_messages

__all__ = [
    "ATMOSPHERE_EXTENSION",
    "DTTS_IMAGE_EXTENSION",
    "IR_LOOP_EXTENSION",
    "SPARTA_EXTENSIONS",
    "VIS_LOOP_EXTENSION",
    "WFS_WAVELENGTH_M",
    "dtts_centroids",
    "read_sparta",
    "seeing_from_r0",
    "tau0_from_r0",
]

ATMOSPHERE_EXTENSION = "AtmPerfParams"
VIS_LOOP_EXTENSION = "VisLoopParams"
IR_LOOP_EXTENSION = "IRLoopParams"
DTTS_IMAGE_EXTENSION = "IRPixelAvgFrame"
SPARTA_EXTENSIONS = (
    ATMOSPHERE_EXTENSION,
    VIS_LOOP_EXTENSION,
    IR_LOOP_EXTENSION,
    DTTS_IMAGE_EXTENSION,
)
#: Wavelength at which SPARTA's r0 (hence the seeing) is given.
WFS_WAVELENGTH_M = 500e-9
DTTS_SIZE = 32

_BOUNDS = {
    P.STREHL: (0.05, 0.98),
    P.R0: (0.0, 0.9),
    P.WIND_SPEED: (0.0, 50.0),
}


def seeing_from_r0(r0_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Seeing (arcsec) of a Fried parameter at 500 nm: λ / r0."""
    result: NDArray[np.float64] = np.rad2deg(WFS_WAVELENGTH_M / r0_m) * 3600.0
    return result


def tau0_from_r0(r0_m: NDArray[np.float64], wind_m_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Coherence time (s): 0.314 r0 / v (Roddier 1981)."""
    result: NDArray[np.float64] = 0.314 * r0_m / wind_m_s
    return result


def dtts_centroids(images: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centroid (x, y, px) of each DTTS image: centre of light above the image's median.

    An image with no light above its median gives NaN (dropped from the series).
    """
    cube = np.asarray(images, dtype=np.float64)
    light = np.clip(cube - np.median(cube, axis=(1, 2), keepdims=True), 0.0, None)
    total = light.sum(axis=(1, 2))
    yy, xx = np.mgrid[: cube.shape[1], : cube.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(total > 0, (light * xx).sum(axis=(1, 2)) / total, np.nan)
        y = np.where(total > 0, (light * yy).sum(axis=(1, 2)) / total, np.nan)
    return x, y


def _within(values: NDArray[np.float64], parameter: P) -> NDArray[np.float64]:
    low, high = _BOUNDS[parameter]
    return np.where((values > low) & (values <= high), values, np.nan)


def _times(table: fits.FITS_rec) -> NDArray[np.float64]:
    seconds = np.asarray(table["Sec"], dtype=np.float64)
    micro = np.asarray(table["USec"], dtype=np.float64)
    return seconds + micro * 1e-6


def _atmosphere(table: fits.FITS_rec) -> list[ConditionSeries]:
    times = _times(table)
    r0 = _within(np.asarray(table["R0"], dtype=np.float64), P.R0)
    wind = _within(np.asarray(table["WindSpeed"], dtype=np.float64), P.WIND_SPEED)
    strehl = _within(np.asarray(table["StrehlRatio"], dtype=np.float64), P.STREHL)
    with np.errstate(invalid="ignore", divide="ignore"):
        seeing = seeing_from_r0(r0)
        tau0 = tau0_from_r0(r0, wind)
    src = ConditionSource.SPARTA
    return [
        ConditionSeries.build(P.R0, src, times, r0),
        ConditionSeries.build(P.WIND_SPEED, src, times, wind),
        ConditionSeries.build(P.STREHL, src, times, strehl),
        ConditionSeries.build(P.SEEING, src, times, seeing),
        ConditionSeries.build(P.TAU0, src, times, tau0),
    ]


def _flux(parameter: P) -> Callable[[fits.FITS_rec], list[ConditionSeries]]:
    def read(table: fits.FITS_rec) -> list[ConditionSeries]:
        flux = np.asarray(table["Flux_avg"], dtype=np.float64)
        return [ConditionSeries.build(parameter, ConditionSource.SPARTA, _times(table), flux)]

    return read


def _dtts(table: fits.FITS_rec) -> list[ConditionSeries]:
    pixels = np.asarray(table["Pixels"], dtype=np.float64)
    if pixels.size % (DTTS_SIZE * DTTS_SIZE):
        raise ValueError(f"Pixels rows are not {DTTS_SIZE} x {DTTS_SIZE} images")
    x, y = dtts_centroids(pixels.reshape(-1, DTTS_SIZE, DTTS_SIZE))
    times = _times(table)
    src = ConditionSource.SPARTA
    return [
        ConditionSeries.build(P.DTTS_X, src, times, x),
        ConditionSeries.build(P.DTTS_Y, src, times, y),
    ]


_Reader = Callable[[fits.FITS_rec], list[ConditionSeries]]
_TIME = ("Sec", "USec")

#: Extension -> (the parameters it gives, the columns it needs, how to read them).
_READERS: dict[str, tuple[tuple[P, ...], tuple[str, ...], _Reader]] = {
    ATMOSPHERE_EXTENSION: (
        (P.R0, P.WIND_SPEED, P.STREHL, P.SEEING, P.TAU0),
        (*_TIME, "R0", "WindSpeed", "StrehlRatio"),
        _atmosphere,
    ),
    VIS_LOOP_EXTENSION: ((P.WFS_FLUX,), (*_TIME, "Flux_avg"), _flux(P.WFS_FLUX)),
    IR_LOOP_EXTENSION: ((P.DTTS_FLUX,), (*_TIME, "Flux_avg"), _flux(P.DTTS_FLUX)),
    DTTS_IMAGE_EXTENSION: ((P.DTTS_X, P.DTTS_Y), (*_TIME, "Pixels"), _dtts),
}


def read_sparta(path: Path) -> ReadResult:
    """Every condition series a SPARTA file holds, with a message per part it lacks.

    Never raises for a bad extension: the message names the file, the extension and what is
    missing, and the other extensions are still read. An unreadable file gives no series and
    one message.
    """
    name = Path(path).name
    series: list[ConditionSeries] = []
    messages: list[str] = []
    # astropy warns of a truncated file rather than failing: the warning becomes a message.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=False)
        except (OSError, ValueError) as exc:
            return ReadResult(name, (), (f"{name}: not a readable FITS file: {exc}",))
        with hdul:
            _read_extensions(name, hdul, series, messages)
    for warning in caught:
        text = f"{name}: {warning.message}"
        if text not in messages:
            messages.append(text)
    kept = [s for s in series if len(s)]
    return ReadResult(name, tuple(kept), (*messages, *gap_messages(name, kept)))


def _read_extensions(
    name: str, hdul: fits.HDUList, series: list[ConditionSeries], messages: list[str]
) -> None:
    """Read each known extension into ``series``; what cannot be read into ``messages``."""
    present = {hdu.name.upper(): hdu for hdu in hdul[1:]}
    for extension, (parameters, columns, reader) in _READERS.items():
        hdu = present.get(extension.upper())
        lost = ", ".join(parameters)
        if hdu is None or not isinstance(hdu, fits.BinTableHDU):
            messages.append(f"{name}: no {extension} table extension ({lost} not available)")
            continue
        try:
            if hdu.data is None or len(hdu.data) == 0:
                messages.append(f"{name}: {extension} has no rows ({lost} not available)")
                continue
            missing = [c for c in columns if c not in hdu.columns.names]
            if missing:
                messages.append(
                    f"{name}: {extension} lacks column(s) {', '.join(missing)} "
                    f"({lost} not available)"
                )
                continue
            series.extend(reader(hdu.data))
        except (OSError, ValueError, TypeError, IndexError) as exc:
            # A truncated or malformed table: this extension is lost, the others are read.
            messages.append(f"{name}: {extension} unreadable: {exc} ({lost} not available)")
