"""The public NACO beta Pictoris ADI sequence, dressed with the headers hcdc ingests.

The shared copy (``<shared>/data/naco_betapic``, from the VIP_extras repository; Absil et al.
2013, A&A 559, L12 for the AGPM observation) is three bare arrays: a cube, an off-axis PSF and
the parallactic angles. hcdc needs FITS headers to classify and browse them, so this module
writes copies with NACO keywords. The observation time is reconstructed from the angles:
the parallactic angle of beta Pic at Paranal takes each listed value once on the night of
2013-01-31 to 2013-02-01, which fixes the UTC of every frame.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import astropy.units as u
import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.demo.ephemeris import sky_position
from hcdc_kernel.demo.headers import add_card, iso_date

_log = logging.getLogger(__name__)

NACO_BETAPIC_FOLDER = Path("data") / "naco_betapic"
CUBE_FILE = "naco_betapic_cube.fits"
PSF_FILE = "naco_betapic_psf.fits"
ANGLES_FILE = "naco_betapic_pa.fits"
#: beta Pic, ICRS (SIMBAD), and the NACO L27 plate scale of this data set.
BETAPIC_RA_DEG = 86.82119875
BETAPIC_DEC_DEG = -51.06651433
NACO_L27_PIXEL_SCALE_ARCSEC = 0.02719
#: Window searched for the sequence (UTC), and when the PSF was taken before it.
_SEARCH_START = datetime(2013, 2, 1, 0, 0, 0)
_SEARCH_HOURS = 6.0
_PSF_LEAD = timedelta(minutes=12)


def write_naco_betapic(shared_dir: Path | None, dest: Path) -> tuple[Path, ...]:
    """Copy the NACO beta Pic cube, PSF and angles with headers into ``dest/raw/naco_betapic``.

    Parameters
    ----------
    shared_dir : pathlib.Path or None
        Folder holding ``data/naco_betapic/`` (the shared data root).
    dest : pathlib.Path
        Demo root; files go to ``dest/raw/naco_betapic/``.

    Returns
    -------
    tuple of pathlib.Path
        The cube, PSF and angles files written, or ``()`` (with a logged warning) when the
        shared data is absent.
    """
    source = None if shared_dir is None else Path(shared_dir) / NACO_BETAPIC_FOLDER
    if source is None or not all(
        (source / name).is_file() for name in (CUBE_FILE, PSF_FILE, ANGLES_FILE)
    ):
        _log.warning("NACO beta Pic data not found under %s; skipping it", source)
        return ()

    cube = np.asarray(fits.getdata(source / CUBE_FILE), dtype=np.float32)
    psf = np.asarray(fits.getdata(source / PSF_FILE), dtype=np.float32)
    angles = np.asarray(fits.getdata(source / ANGLES_FILE), dtype=np.float32).ravel()
    times = _frame_times(angles)
    start, end = times[0], times[-1]

    folder = Path(dest) / "raw" / "naco_betapic"
    folder.mkdir(parents=True, exist_ok=True)

    cube_header = _naco_header(start, end, object_type="OBJECT")
    add_card(
        cube_header,
        "HIERARCH ESO TEL PARANG START",
        round(float(angles[0]), 3),
        "[deg] Parallactic angle at start",
    )
    add_card(
        cube_header,
        "HIERARCH ESO TEL PARANG END",
        round(float(angles[-1]), 3),
        "[deg] Parallactic angle at end",
    )
    add_card(
        cube_header, "HIERARCH HCDC ANGLES FILE", ANGLES_FILE, "parallactic angle of each plane"
    )

    psf_start = start - _PSF_LEAD
    psf_header = _naco_header(psf_start, psf_start, object_type="OBJECT,FLUX")

    angles_header = _naco_header(start, end, object_type=None)
    add_card(angles_header, "HIERARCH HCDC PRO CATG", "HCI_ANGLES", "hcdc product category")
    add_card(angles_header, "BUNIT", "deg", "parallactic angle per plane of the cube")
    add_card(angles_header, "HIERARCH HCDC ANGLES CUBE", CUBE_FILE, "cube these angles belong to")

    written = []
    for name, data, header in (
        (CUBE_FILE, cube, cube_header),
        (PSF_FILE, psf, psf_header),
        (ANGLES_FILE, angles, angles_header),
    ):
        path = folder / name
        fits.PrimaryHDU(data=data, header=header).writeto(path, overwrite=True)
        written.append(path)
    return tuple(written)


def _frame_times(angles: npt.NDArray[np.float32]) -> list[datetime]:
    """UTC at which beta Pic had each parallactic angle at Paranal (monotonic across transit)."""
    offsets = np.arange(0.0, _SEARCH_HOURS * 3600.0, 20.0)
    grid = Time(_SEARCH_START, scale="utc") + offsets * u.s
    parang = sky_position(grid, ra_deg=BETAPIC_RA_DEG, dec_deg=BETAPIC_DEC_DEG).parallactic_angle
    # beta Pic transits south of the zenith: the angle grows monotonically through the night.
    seconds = np.interp(angles.astype(np.float64), parang, offsets)
    return [_SEARCH_START + timedelta(seconds=round(float(s), 1)) for s in seconds]


def _naco_header(start: datetime, end: datetime, *, object_type: str | None) -> fits.Header:
    """NACO keywords common to the three files; ``object_type`` None for the angles product.

    The stored cube is a temporally sub-sampled, cropped sequence: its integration time is
    unknown, so EXPTIME and the detector DIT are left out rather than invented.
    """
    header = fits.Header()
    add_card(header, "TELESCOP", "ESO-VLT-U4", "ESO Telescope Name")
    add_card(header, "INSTRUME", "NACO", "Instrument used")
    add_card(header, "OBJECT", "beta Pic", "Original target")
    add_card(header, "RA", BETAPIC_RA_DEG, "[deg] RA (J2000) pointing")
    add_card(header, "DEC", BETAPIC_DEC_DEG, "[deg] DEC (J2000) pointing")
    add_card(header, "DATE-OBS", iso_date(start), "Observing date")
    add_card(header, "MJD-OBS", round(float(Time(start, scale="utc").mjd), 8), "Obs start")
    add_card(
        header,
        "ARCFILE",
        f"NACO.{start.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}.fits",
        "Archive File Name",
    )
    if object_type is not None:
        add_card(header, "HIERARCH ESO DPR CATG", "SCIENCE", "Observation category")
        add_card(header, "HIERARCH ESO DPR TYPE", object_type, "Observation type")
        add_card(header, "HIERARCH ESO DPR TECH", "IMAGE", "Observation technique")
    add_card(header, "HIERARCH ESO OBS NAME", "betaPic_AGPM_Lp", "OB name")
    add_card(header, "HIERARCH ESO OBS TARG NAME", "beta Pic", "OB target name")
    add_card(header, "HIERARCH ESO INS OPTI7 NAME", "L27", "Camera")
    add_card(header, "HIERARCH ESO INS OPTI6 NAME", "L_prime", "Filter")
    add_card(header, "HIERARCH ESO INS CWLEN", 3.8, "[um] Central wavelength")
    add_card(header, "HIERARCH ESO DET MODE NAME", "HighWellDepth", "Detector readout mode")
    add_card(
        header, "HIERARCH HCDC PIXSCALE", NACO_L27_PIXEL_SCALE_ARCSEC, "[arcsec/px] plate scale"
    )
    add_card(header, "HIERARCH HCDC DATE-END", iso_date(end), "UTC of the last frame")
    return header
