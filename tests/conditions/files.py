"""Synthetic files with known conditions: SPARTA telemetry, site-monitor tables, exposures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits

from hcdc_kernel.demo.conditions import ConditionsTrack

#: The night of the synthetic sequences: telemetry every 30 s from 03:00:00 UTC.
START = datetime(2019, 5, 28, 3, 0, 0)
STEP_S = 30.0


def at(seconds: float) -> datetime:
    """START + seconds."""
    return START + timedelta(seconds=seconds)


def unix(when: datetime) -> float:
    return when.replace(tzinfo=UTC).timestamp()


def linear_track(n: int = 61, *, step_s: float = STEP_S) -> ConditionsTrack:
    """Conditions whose every value is known: r0 rises linearly, wind is constant, so that a
    window's mean is the value at its middle sample."""
    times = unix(START) + step_s * np.arange(n)
    i = np.arange(n, dtype=np.float64)
    return ConditionsTrack(
        times=times,
        r0=0.10 + 0.001 * i,
        wind=np.full(n, 10.0),
        strehl=0.50 + 0.005 * i,
        wfs_flux=1.0e5 + 100.0 * i,
        dtts_flux=5.0e4 + 10.0 * i,
        dtts_x=np.full(n, 15.5),
        dtts_y=np.full(n, 15.5),
    )


def write_exposure(
    path: Path,
    *,
    start: datetime,
    exptime: float,
    seeing: float | None = 0.9,
    tau0: float | None = 0.004,
    airmass: float = 1.1,
    dpr: tuple[str, str, str] = ("SCIENCE", "OBJECT", "IMAGE,DUAL"),
    value: int = 0,
) -> Path:
    """An IRDIS exposure of ``exptime`` s starting at ``start`` (headers' DIMM values given)."""
    header = fits.Header()
    header["INSTRUME"] = "SPHERE"
    header["OBJECT"] = "HD 95086"
    header["DATE-OBS"] = start.isoformat(timespec="milliseconds")
    header["EXPTIME"] = exptime
    header["RA"] = 164.597
    header["DEC"] = -68.668
    header["HIERARCH ESO SEQ ARM"] = "IRDIS"
    (
        header["HIERARCH ESO DPR CATG"],
        header["HIERARCH ESO DPR TYPE"],
        header["HIERARCH ESO DPR TECH"],
    ) = dpr
    header["HIERARCH ESO DET SEQ1 DIT"] = exptime
    header["HIERARCH ESO DET NDIT"] = 1
    header["HIERARCH ESO OBS ID"] = 200
    header["HIERARCH ESO TEL AIRM START"] = airmass
    header["HIERARCH ESO TEL AIRM END"] = airmass
    if seeing is not None:
        header["HIERARCH ESO TEL AMBI FWHM START"] = seeing
        header["HIERARCH ESO TEL AMBI FWHM END"] = seeing
    if tau0 is not None:
        header["HIERARCH ESO TEL AMBI TAU0"] = tau0
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=np.full((4, 6), value, dtype=np.int16), header=header).writeto(path)
    return path


def site_csv(rows: list[tuple[datetime, float, float, float, float]]) -> str:
    """An ESO ambient form answer: (time, seeing ", tau0 s, wind m/s, humidity %)."""
    lines = [
        "# MASS-DIMM query, ESO archive",
        "#",
        'Date time,MASS-DIMM Seeing ["],MASS-DIMM Tau0 [s],Wind Speed at 30m [m/s],'
        "Relative Humidity at 30m [%]",
    ]
    lines += [f"{t.isoformat()},{s},{tau},{w},{h}" for t, s, tau, w, h in rows]
    lines.append(f"# A total of {len(rows)} records were found")
    return "\n".join(lines) + "\n"
