"""Small FITS files with SPHERE-like headers for ingest tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits


def write_frame(
    path: Path,
    *,
    dpr: tuple[str, str, str] = ("SCIENCE", "OBJECT", "IMAGE,DUAL"),
    date_obs: str = "2019-05-28T03:10:00",
    obj: str = "HD 95086",
    value: int = 0,
    obs_id: int = 100,
    dit: float = 16.0,
) -> Path:
    header = fits.Header()
    header["INSTRUME"] = "SPHERE"
    header["OBJECT"] = obj
    header["DATE-OBS"] = date_obs
    header["RA"] = 164.597
    header["DEC"] = -68.668
    header["HIERARCH ESO SEQ ARM"] = "IRDIS"
    (
        header["HIERARCH ESO DPR CATG"],
        header["HIERARCH ESO DPR TYPE"],
        header["HIERARCH ESO DPR TECH"],
    ) = dpr
    header["HIERARCH ESO DET SEQ1 DIT"] = dit
    header["HIERARCH ESO OBS ID"] = obs_id
    header["HIERARCH ESO OBS PROG ID"] = "0103.C-0123(A)"
    header["HIERARCH ESO TEL AMBI FWHM START"] = 0.7
    data = np.full((4, 6), value, dtype=np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=data, header=header).writeto(path)
    return path
