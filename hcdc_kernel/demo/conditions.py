"""Synthetic observing conditions for the demo nights: SPARTA files and site-monitor tables.

The turbulence follows a smooth random walk with one bad spell (seeing up, tau0 and Strehl
down, the star drifting on the DTTS) so that frame selection by conditions has something to
reject. SPARTA files carry the extensions vlt-sphere reads (``AtmPerfParams``,
``VisLoopParams``, ``IRLoopParams``, ``IRPixelAvgFrame``); the site-monitor table is the
CSV of the ESO ambient query form for MASS-DIMM with meteo columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from hcdc_kernel.conditions.sparta import DTTS_SIZE, WFS_WAVELENGTH_M

__all__ = [
    "ConditionsTrack",
    "conditions_track",
    "write_night_conditions",
    "write_site_monitor_csv",
    "write_sparta_file",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ConditionsTrack:
    """The true conditions at each sample time (unix s)."""

    times: FloatArray
    r0: FloatArray  # m at 500 nm
    wind: FloatArray  # m/s
    strehl: FloatArray
    wfs_flux: FloatArray
    dtts_flux: FloatArray
    dtts_x: FloatArray  # px
    dtts_y: FloatArray

    @property
    def seeing(self) -> FloatArray:
        result: FloatArray = np.rad2deg(WFS_WAVELENGTH_M / self.r0) * 3600.0
        return result

    @property
    def tau0(self) -> FloatArray:
        result: FloatArray = 0.314 * self.r0 / self.wind
        return result


def _unix(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def conditions_track(
    start: datetime,
    end: datetime,
    *,
    seeing_arcsec: float = 0.74,
    tau0_s: float = 0.0049,
    step_s: float = 30.0,
    seed: int = 0,
    bad_spell: tuple[float, float] | None = (0.55, 0.75),
) -> ConditionsTrack:
    """Realistic, varying conditions between ``start`` and ``end`` around the typical
    ``seeing_arcsec`` and ``tau0_s``; ``bad_spell`` (fractions of the span) worsens them: r0
    and wind make tau0 fall to about a third, Strehl drops, the star drifts by about 1.5 DTTS
    px."""
    rng = np.random.default_rng(seed)
    times = np.arange(_unix(start), _unix(end) + step_s / 2, step_s)
    n = times.size
    walk = np.cumsum(rng.normal(0.0, 0.02, n))
    walk -= np.linspace(0.0, walk[-1], n)  # no trend: the night ends as it started
    typical_r0 = np.rad2deg(WFS_WAVELENGTH_M) * 3600.0 / seeing_arcsec
    r0 = typical_r0 * np.exp(walk)
    typical_wind = 0.314 * typical_r0 / tau0_s
    wind = typical_wind * (1.0 + 0.2 * np.sin(np.linspace(0.0, 3.0, n)))
    wind += rng.normal(0.0, 0.03 * typical_wind, n)
    drift = np.zeros(n)
    if bad_spell is not None:
        phase = (times - times[0]) / max(times[-1] - times[0], 1.0)
        bad = (phase >= bad_spell[0]) & (phase <= bad_spell[1])
        r0 = np.where(bad, r0 * 0.55, r0)
        wind = np.where(bad, wind * 1.9, wind)
        drift = np.where(bad, 1.5, 0.0)
    # H-band Strehl falls with the seeing (Marechal-like, SPHERE's ~0.8 in good seeing)
    strehl = np.clip(0.85 * np.exp(-((0.5 / (r0 / 0.14)) ** 2) * 0.45), 0.06, 0.95)
    wfs_flux = 2.0e5 * (1.0 + rng.normal(0.0, 0.02, n))
    dtts_flux = 6.0e4 * strehl / 0.85 * (1.0 + rng.normal(0.0, 0.02, n))
    centre = (DTTS_SIZE - 1) / 2.0
    dtts_x = centre + drift + rng.normal(0.0, 0.05, n)
    dtts_y = centre + rng.normal(0.0, 0.05, n)
    return ConditionsTrack(times, r0, wind, strehl, wfs_flux, dtts_flux, dtts_x, dtts_y)


def _dtts_images(x: FloatArray, y: FloatArray, flux: FloatArray) -> FloatArray:
    yy, xx = np.mgrid[:DTTS_SIZE, :DTTS_SIZE]
    sigma = 1.6
    images = np.exp(
        -((xx[None] - x[:, None, None]) ** 2 + (yy[None] - y[:, None, None]) ** 2) / (2 * sigma**2)
    )
    images *= (flux / images.sum(axis=(1, 2)))[:, None, None]
    return images


def _time_columns(times: FloatArray) -> list[fits.Column]:
    seconds = np.floor(times).astype(np.int64)
    micro = np.round((times - seconds) * 1e6).astype(np.int64)
    return [fits.Column("Sec", "K", array=seconds), fits.Column("USec", "K", array=micro)]


def write_sparta_file(
    path: Path,
    track: ConditionsTrack,
    *,
    header: fits.Header | None = None,
    omit: Sequence[str] = (),
) -> Path:
    """A SPARTA file of ``track`` (``omit``: extension names to leave out)."""
    primary = fits.PrimaryHDU(header=header.copy() if header is not None else fits.Header())
    hdr = primary.header
    hdr.setdefault("INSTRUME", "SPHERE")
    hdr["HIERARCH ESO DPR CATG"] = "SCIENCE"
    hdr["HIERARCH ESO DPR TYPE"] = "OBJECT,AO"
    hdr["HIERARCH ESO DPR TECH"] = "IMAGE"
    hdr.remove("HIERARCH ESO SEQ ARM", ignore_missing=True)
    start = datetime.fromtimestamp(float(track.times[0]), UTC).replace(tzinfo=None)
    hdr["DATE-OBS"] = start.isoformat(timespec="milliseconds")
    times = track.times
    tables = {
        "AtmPerfParams": [
            *_time_columns(times),
            fits.Column("R0", "E", array=track.r0),
            fits.Column("WindSpeed", "E", array=track.wind),
            fits.Column("StrehlRatio", "E", array=track.strehl),
        ],
        "VisLoopParams": [
            *_time_columns(times),
            fits.Column("Flux_avg", "E", array=track.wfs_flux),
        ],
        "IRLoopParams": [
            *_time_columns(times),
            fits.Column("Flux_avg", "E", array=track.dtts_flux),
        ],
        "IRPixelAvgFrame": [
            *_time_columns(times),
            fits.Column(
                "Pixels",
                f"{DTTS_SIZE * DTTS_SIZE}E",
                array=_dtts_images(track.dtts_x, track.dtts_y, track.dtts_flux).reshape(
                    times.size, -1
                ),
            ),
        ],
    }
    hdus: list[fits.hdu.base.ExtensionHDU] = []
    for name, columns in tables.items():
        if name in omit:
            continue
        hdu = fits.BinTableHDU.from_columns(columns)
        hdu.name = name
        hdus.append(hdu)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([primary, *hdus]).writeto(path, overwrite=True)
    return path


def write_site_monitor_csv(
    path: Path,
    track: ConditionsTrack,
    *,
    step: int = 2,
    seeing_factor: float = 0.95,
    humidity: float = 12.0,
) -> Path:
    """The ESO ambient query form's CSV (MASS-DIMM and 30 m meteo) sampling ``track`` every
    ``step`` samples; MASS-DIMM sees the free atmosphere plus the ground layer, a little
    better than the AO's line of sight (``seeing_factor``)."""
    lines = [
        "# Paranal MASS-DIMM and meteo (ESO ambient conditions query form)",
        "# Times are UT",
        'Date time,MASS-DIMM Seeing ["],MASS-DIMM Tau0 [s],MASS Tau0 [s],'
        "Wind Speed at 30m [m/s],Relative Humidity at 30m [%]",
    ]
    for index in range(0, track.times.size, step):
        when = datetime.fromtimestamp(float(track.times[index]), UTC).replace(tzinfo=None)
        lines.append(
            f"{when.isoformat(timespec='seconds')},"
            f"{track.seeing[index] * seeing_factor:.3f},{track.tau0[index]:.5f},"
            f"{track.tau0[index] * 1.3:.5f},{track.wind[index] * 0.6:.2f},{humidity:.1f}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_night_conditions(
    folder: Path,
    *,
    start: datetime,
    end: datetime,
    seeing_arcsec: float,
    tau0_s: float,
    seed: int,
    header: fits.Header | None = None,
    chunk_s: float = 1800.0,
    step_s: float = 30.0,
) -> tuple[list[Path], Path]:
    """The telemetry of a night's sequence (SPARTA files of ``chunk_s`` each, as the real-time
    computer writes them during an OB) and the site monitor's table; 5 minutes either side."""
    margin = timedelta(minutes=5)
    track = conditions_track(
        start - margin,
        end + margin,
        seeing_arcsec=seeing_arcsec,
        tau0_s=tau0_s,
        seed=seed,
        step_s=step_s,
    )
    sparta: list[Path] = []
    first = float(track.times[0])
    chunks = np.floor((track.times - first) / chunk_s).astype(int)
    for chunk in np.unique(chunks):
        part = chunks == chunk
        piece = ConditionsTrack(
            *(getattr(track, name)[part] for name in ConditionsTrack.__dataclass_fields__)
        )
        when = datetime.fromtimestamp(float(piece.times[0]), UTC).replace(tzinfo=None)
        name = f"SPHER.{when.isoformat(timespec='milliseconds')}.SPARTA.fits"
        sparta.append(write_sparta_file(folder / name, piece, header=header))
    night = start.date().isoformat()
    table = write_site_monitor_csv(folder / f"ambient_{night}.csv", track)
    return sparta, table
