"""PACO detection maps through vip-hci.

PACO (Flasseur et al. 2018, A&A 618, A138) models the background of each
small patch of the field by the mean and covariance of that patch across the
sequence (shrunk towards a diagonal covariance), then, for every position,
follows the trajectory a companion would draw during the field rotation and
combines the whitened patches into a maximum-likelihood flux estimate and its
S/N. vip-hci's ``FastPACO`` (algorithm 2 of the paper, Gomez Gonzalez et al.
2017, AJ 154, 7) does the work; this module checks the inputs and fixes the
centring convention.

vip-hci's PACO places the star at ``n / 2`` along its pixel grid, which is the
frame centre of the vip-hci convention only for even sizes: odd frames are
cropped by their last row and column (the star stays at ``n // 2``) and the
maps padded back with NaN.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.hci.validation import adi_inputs

__all__ = ["PacoResult", "paco_maps"]


@dataclass(frozen=True, eq=False)
class PacoResult:
    """Maps of a PACO run (NaN where PACO cannot follow a trajectory).

    Attributes
    ----------
    snr : numpy.ndarray, shape (ny, nx)
        Detection S/N ``b / sqrt(a)`` (Flasseur et al. 2018, eq. 24).
    flux : numpy.ndarray, shape (ny, nx)
        Flux estimate ``b / a`` (eq. 21) in units of the normalised PSF. The
        fast algorithm learns the background statistics with the companion
        in them, so this estimate is biased low near bright sources.
    flux_std : numpy.ndarray, shape (ny, nx)
        Standard deviation of the flux estimate, ``1 / sqrt(a)``.
    fwhm : float
        FWHM (px) used for the patches.
    """

    snr: NDArray[np.float64]
    flux: NDArray[np.float64]
    flux_std: NDArray[np.float64]
    fwhm: float


def paco_maps(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    psf: ArrayLike,
    *,
    fwhm: float,
    nproc: int = 1,
    subpixel_psf: bool = True,
) -> PacoResult:
    """S/N and flux maps of an ADI sequence with vip-hci's FastPACO.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube (star at the frame centre).
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees (vip-hci convention).
    psf : array_like, shape (s, s)
        Off-axis PSF (normalised inside vip-hci).
    fwhm : float
        FWHM (px): the patches are discs of radius ``int(fwhm)``.
    nproc : int
        Processes for the background statistics.
    subpixel_psf : bool
        Shift the PSF model to the sub-pixel position of the trajectory
        (better S/N, slower).

    Returns
    -------
    PacoResult
    """
    with warnings.catch_warnings():
        # vip-hci warns at import about optional bindings (OpenCV) it does not need here.
        warnings.simplefilter("ignore", ImportWarning)
        from vip_hci.invprob import FastPACO  # imported here: vip-hci takes seconds to load

    data, angles = adi_inputs(cube, angles_deg)
    stamp = np.asarray(psf, dtype=np.float64)
    if stamp.ndim != 2 or not np.all(np.isfinite(stamp)):
        raise ValueError("the PSF must be a finite 2-D image")
    if fwhm < 1:
        raise ValueError("fwhm must be at least one pixel")
    ny, nx = data.shape[1:]
    if ny != nx:
        raise ValueError(f"PACO needs square frames, got {ny} x {nx}")
    size = ny - (ny % 2)
    work = np.ascontiguousarray(data[:, :size, :size])
    # pixscale 1: vip-hci takes the FWHM in arcsec and divides by the pixel scale.
    model = FastPACO(
        cube=work, angles=angles, psf=stamp, fwhm=float(fwhm), pixscale=1.0, verbose=False
    )
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(invalid="ignore", divide="ignore"):
        snr, flux = model.run(cpu=int(nproc), use_subpixel_psf_astrometry=subpixel_psf)
        std = np.asarray(model.std, dtype=np.float64)

    def full(image: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full((ny, nx), np.nan)
        out[:size, :size] = image
        return out

    return PacoResult(
        snr=full(np.asarray(snr, dtype=np.float64)),
        flux=full(np.asarray(flux, dtype=np.float64)),
        flux_std=full(std),
        fwhm=float(fwhm),
    )
