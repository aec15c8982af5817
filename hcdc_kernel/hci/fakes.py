"""Fake companions: PSF normalisation and injection into ADI cubes.

Fluxes are in units of the normalised PSF, i.e. the flux in a circular
aperture of diameter one FWHM centred on the PSF, as vip-hci's
``normalize_psf`` and ``cube_inject_companions`` use them (Gomez Gonzalez et
al. 2017, AJ 154, 7). Sub-pixel positions are reached with a Fourier shift of
the zero-padded PSF stamp (the ``imlib="vip-fft"`` method of vip-hci), done for
all frames and companions in one batched FFT.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from photutils.centroids import centroid_2dg

from hcdc_kernel.hci.rotation import frame_center
from hcdc_kernel.hci.snr import aperture_sums

__all__ = [
    "companion_map",
    "companion_xy",
    "inject_companions",
    "normalize_psf",
    "psf_aperture_flux",
    "shifted_stamps",
]

# Zero padding (px) around a PSF stamp before a Fourier shift, so that a
# shift of up to one pixel does not wrap the PSF wings around the stamp.
_FFT_PAD = 2


def _crop_centred(image: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    cy, cx = frame_center(image.shape)
    half = size // 2
    y0, x0 = cy - half, cx - half
    if y0 < 0 or x0 < 0:
        raise ValueError(f"cannot crop a {image.shape} PSF to {size} px")
    return image[y0 : y0 + size, x0 : x0 + size].copy()


def shifted_stamps(
    stamp: ArrayLike, dy: ArrayLike, dx: ArrayLike, *, crop: bool = True
) -> NDArray[np.float64]:
    """Fourier-shift a small image by sub-pixel amounts, one copy per shift.

    Parameters
    ----------
    stamp : array_like, shape (s, s)
        Image to shift (e.g. a normalised PSF).
    dy, dx : array_like, shape (m,)
        Shifts in pixels (positive moves the content to larger indices).
    crop : bool
        Crop back to the stamp size (as vip-hci's injection does); otherwise
        keep the 2-pixel zero padding the shift was computed on.

    Returns
    -------
    numpy.ndarray, shape (m, s, s), or (m, s + 4, s + 4) without cropping
        Shifted copies; the padding keeps the PSF from wrapping around.
    """
    image = np.pad(np.asarray(stamp, dtype=np.float64), _FFT_PAD)
    sy = np.asarray(dy, dtype=np.float64).reshape(-1)
    sx = np.asarray(dx, dtype=np.float64).reshape(-1)
    fy = np.fft.fftfreq(image.shape[0])
    fx = np.fft.rfftfreq(image.shape[1])
    spectrum = np.fft.rfft2(image)
    phase_y = np.exp(-2j * np.pi * sy[:, None] * fy[None, :])
    phase_x = np.exp(-2j * np.pi * sx[:, None] * fx[None, :])
    shifted = spectrum[None] * phase_y[:, :, None] * phase_x[:, None, :]
    full: NDArray[np.float64] = np.fft.irfft2(shifted, s=image.shape, axes=(1, 2))
    if not crop:
        return full
    result: NDArray[np.float64] = full[:, _FFT_PAD:-_FFT_PAD, _FFT_PAD:-_FFT_PAD]
    return result


def psf_aperture_flux(psf: ArrayLike, *, fwhm: float) -> float:
    """Flux of a PSF in a 1xFWHM-diameter aperture centred on the frame centre.

    This is the star photometry (``starphot``) of an off-axis PSF taken with the
    same set-up as the science frames.
    """
    data = np.asarray(psf, dtype=np.float64)
    cy, cx = frame_center(data.shape)
    return float(aperture_sums(data, x=np.array([cx]), y=np.array([cy]), radius=fwhm / 2.0)[0])


def normalize_psf(psf: ArrayLike, *, fwhm: float, size: int | None = None) -> NDArray[np.float64]:
    """Centre a PSF and normalise it to unit flux in a 1xFWHM-diameter aperture.

    Parameters
    ----------
    psf : array_like, shape (ny, nx)
        Off-axis (non-coronagraphic) PSF, roughly centred.
    fwhm : float
        FWHM in pixels.
    size : int, optional
        Odd size (px) of the output stamp, cropped around the centre; an even
        value is increased by one.

    Returns
    -------
    numpy.ndarray, shape (size, size)
        The PSF with its 2-D Gaussian centroid on the stamp centre (within
        0.01 px) and unit flux in the aperture, as vip-hci's ``normalize_psf``
        (which leaves fluxes already within 10 % of unity untouched; here the
        normalisation is always exact).
    """
    data = np.asarray(psf, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"the PSF must be 2-D, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("the PSF contains NaN or infinite values")
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    side = min(data.shape) if size is None else int(size)
    if side % 2 == 0:
        side += 1 if size is not None else -1
    if side > min(data.shape):
        side = min(data.shape) - (1 - min(data.shape) % 2)
    stamp = _crop_centred(data, side)
    cy, cx = frame_center(stamp.shape)
    for _ in range(3):
        xc, yc = centroid_2dg(stamp)
        dy, dx = cy - float(yc), cx - float(xc)
        if not (np.isfinite(dy) and np.isfinite(dx)) or max(abs(dy), abs(dx)) < 1e-2:
            break
        stamp = shifted_stamps(stamp, [dy], [dx])[0]
    flux = psf_aperture_flux(stamp, fwhm=fwhm)
    if not flux > 0:
        raise ValueError("the PSF has no positive flux in its central 1xFWHM aperture")
    normalised: NDArray[np.float64] = stamp / flux
    return normalised


def companion_xy(
    shape: tuple[int, ...], *, sep_px: ArrayLike, pa_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pixel position (x, y) of sources at separation/position angle in a derotated frame.

    Position angles are east of north, counter-clockwise from +y (north up,
    east left), with the star at :func:`~hcdc_kernel.hci.rotation.frame_center`.
    """
    cy, cx = frame_center(shape)
    sep = np.asarray(sep_px, dtype=np.float64)
    theta = np.deg2rad(np.asarray(pa_deg, dtype=np.float64) + 90.0)
    return cx + sep * np.cos(theta), cy + sep * np.sin(theta)


def inject_companions(
    cube: ArrayLike,
    psf: ArrayLike,
    angles_deg: ArrayLike,
    *,
    flux: ArrayLike,
    sep_px: ArrayLike,
    pa_deg: ArrayLike,
) -> NDArray[np.float64]:
    """Add point sources that rotate with the field to an ADI cube.

    A companion at position angle ``pa`` appears in frame ``i`` at angle
    ``pa + 90 - angles_deg[i]`` from the +x axis, so that derotation (rotation
    by ``-angles_deg[i]``) brings it back to ``pa``, as vip-hci's
    ``cube_inject_companions``.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        ADI cube; not modified.
    psf : array_like, shape (s, s)
        Normalised PSF (see :func:`normalize_psf`), odd size, centred.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    flux : float or array_like
        Flux of each companion in normalised-PSF units: a scalar, one value per
        companion (m,), or per companion and frame (m, n_frames).
    sep_px : float or array_like, shape (m,)
        Separations in pixels.
    pa_deg : float or array_like, shape (m,)
        Position angles in degrees, east of north.

    Returns
    -------
    numpy.ndarray, shape (n_frames, ny, nx)
        A copy of the cube with the companions added (float64).
    """
    data = np.array(cube, dtype=np.float64)
    if data.ndim != 3:
        raise ValueError(f"the cube must be 3-D, got shape {data.shape}")
    _add_companions(data, psf, angles_deg, flux=flux, sep_px=sep_px, pa_deg=pa_deg, crop=True)
    return data


def companion_map(
    shape: tuple[int, int],
    psf: ArrayLike,
    *,
    flux: ArrayLike,
    sep_px: ArrayLike,
    pa_deg: ArrayLike,
) -> NDArray[np.float64]:
    """Image of companions in a derotated frame, PSF shifted without truncation.

    This is the reference for throughput measurements: as vip-hci's
    ``frame_inject_companion``, the shifted PSF keeps what the sub-pixel shift
    moves beyond the stamp edge.
    """
    frame = np.zeros((1, *shape), dtype=np.float64)
    _add_companions(frame, psf, [0.0], flux=flux, sep_px=sep_px, pa_deg=pa_deg, crop=False)
    return frame[0]


def _add_companions(
    data: NDArray[np.float64],
    psf: ArrayLike,
    angles_deg: ArrayLike,
    *,
    flux: ArrayLike,
    sep_px: ArrayLike,
    pa_deg: ArrayLike,
    crop: bool,
) -> None:
    """Add companions to ``data`` (n_frames, ny, nx) in place."""
    stamp = np.asarray(psf, dtype=np.float64)
    if stamp.ndim != 2 or stamp.shape[0] != stamp.shape[1] or stamp.shape[0] % 2 == 0:
        raise ValueError(f"the PSF must be a square stamp of odd size, got shape {stamp.shape}")
    angles = np.asarray(angles_deg, dtype=np.float64).reshape(-1)
    n, ny, nx = data.shape
    if angles.shape[0] != n:
        raise ValueError(f"the cube has {n} frames but {angles.shape[0]} angles were given")
    seps = np.atleast_1d(np.asarray(sep_px, dtype=np.float64))
    pas = np.atleast_1d(np.asarray(pa_deg, dtype=np.float64))
    seps, pas = np.broadcast_arrays(seps, pas)
    m = seps.shape[0]
    fluxes = np.broadcast_to(
        np.asarray(flux, dtype=np.float64).reshape(-1, 1)
        if np.ndim(flux) == 1
        else np.asarray(flux, dtype=np.float64),
        (m, n),
    )
    cy, cx = frame_center(data.shape)
    theta = np.deg2rad(pas[:, None] + 90.0 - angles[None, :])  # (m, n)
    shift_x = seps[:, None] * np.cos(theta)
    shift_y = seps[:, None] * np.sin(theta)
    # Whole pixels towards the star, the remainder by Fourier shift, so the
    # stamp covers the same pixels as vip-hci's injection.
    whole_x = np.trunc(shift_x)
    whole_y = np.trunc(shift_y)
    ix = cx + whole_x.astype(np.int64)
    iy = cy + whole_y.astype(np.int64)
    stamps = shifted_stamps(
        stamp, (shift_y - whole_y).reshape(-1), (shift_x - whole_x).reshape(-1), crop=crop
    )
    stamps *= fluxes.reshape(-1)[:, None, None]
    side = stamps.shape[1]
    offsets = np.arange(side) - side // 2
    rows = iy.reshape(-1)[:, None] + offsets[None, :]
    cols = ix.reshape(-1)[:, None] + offsets[None, :]
    frames = np.broadcast_to(np.arange(n)[None, :], (m, n)).reshape(-1)
    valid = (
        (rows[:, :, None] >= 0)
        & (rows[:, :, None] < ny)
        & (cols[:, None, :] >= 0)
        & (cols[:, None, :] < nx)
    )
    fr = np.broadcast_to(frames[:, None, None], valid.shape)
    rr = np.broadcast_to(rows[:, :, None], valid.shape)
    cc = np.broadcast_to(cols[:, None, :], valid.shape)
    np.add.at(data, (fr[valid], rr[valid], cc[valid]), stamps[valid])
