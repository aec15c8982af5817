"""Image rotation for angular differential imaging.

Frames are rotated about the star centre with the convention of vip-hci's
``frame_rotate(..., imlib="skimage")`` (Gomez Gonzalez et al. 2017, AJ 154, 7):
the frame is rescaled to [0, 1], rotated by the angle with zero outside the
field, clipped to [0, 1] and scaled back. Outside the field
the rotated frame therefore takes the frame's minimum, and spline overshoots
never leave the input range. Derotating an ADI cube rotates frame ``i`` by
``-angles_deg[i]`` (north up, east left), exactly as vip-hci's
``cube_derotate``.

``interpolation="fft"`` rotates by three Fourier shears (Larkin et al. 1997,
Signal Processing 62, 95), the method of vip-hci's default ``imlib="vip-fft"``:
it preserves flux and the noise power spectrum, where splines smooth white
noise slightly. It works on frames zero-padded to twice their size, batched.

Spline orders 4 and 5 go through :func:`scipy.ndimage.affine_transform`, which
computes the source coordinates on the fly and releases the GIL, so frames are
rotated on several threads; orders 0, 1 and 3 use scikit-image's compiled
warp (order 3 there is bicubic convolution, not a cubic spline).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage
from skimage.transform import warp

__all__ = [
    "INTERPOLATION_ORDERS",
    "Interpolation",
    "derotate_cube",
    "frame_center",
    "rotate_frame",
]

Interpolation = Literal["nearest", "bilinear", "bicubic", "biquartic", "biquintic", "fft"]

#: Interpolation names (vip-hci's skimage names) and their polynomial order.
INTERPOLATION_ORDERS: dict[str, int] = {
    "nearest": 0,
    "bilinear": 1,
    "bicubic": 3,
    "biquartic": 4,
    "biquintic": 5,
    "fft": -1,
}

# Frames rotated together by the Fourier method (bounds the complex temporaries).
_FFT_CHUNK = 16


def frame_center(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return the star centre ``(cy, cx)`` of frames of the given shape.

    vip-hci's convention: ``n // 2`` for odd sizes and ``n / 2`` for even sizes,
    0-based, which is ``n // 2`` in both cases.
    """
    return shape[-2] // 2, shape[-1] // 2


def _order(interpolation: str) -> int:
    try:
        return INTERPOLATION_ORDERS[interpolation]
    except KeyError:
        known = ", ".join(INTERPOLATION_ORDERS)
        raise ValueError(f"unknown interpolation {interpolation!r}; use one of {known}") from None


def _rotate_raw(
    frame: NDArray[np.float64], angle_deg: float, order: int, center: tuple[float, float]
) -> NDArray[np.float64]:
    """Rotate a frame with zero outside the field, without clipping."""
    cy, cx = center
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    if order in (0, 1, 3):
        # Output pixel (x, y) samples the input at R(theta)(p - c) + c, as
        # skimage.transform.rotate builds it.
        matrix = np.array(
            [
                [cos, -sin, cx - cos * cx + sin * cy],
                [sin, cos, cy - sin * cx - cos * cy],
                [0.0, 0.0, 1.0],
            ]
        )
        out: NDArray[np.float64] = warp(
            frame, matrix, order=order, mode="constant", cval=0.0, clip=False
        )
    else:
        # The same map in (row, column) order for ndimage.
        matrix2 = np.array([[cos, sin], [-sin, cos]])
        offset = np.array([cy, cx]) - matrix2 @ np.array([cy, cx])
        out = ndimage.affine_transform(
            frame,
            matrix2,
            offset=offset,
            order=order,
            mode="grid-constant",
            cval=0.0,
            prefilter=True,
        )
    return out


def _shear(
    frames: NDArray[np.float64], amount: NDArray[np.float64], axis: int
) -> NDArray[np.float64]:
    """Shift each line along ``axis`` by ``amount[frame] * (coordinate across - centre)``."""
    size = frames.shape[axis]
    across = frames.shape[2 if axis == 1 else 1]
    coord = np.arange(across) - across // 2
    freq = np.fft.rfftfreq(size)
    spectrum = np.fft.rfft(frames, axis=axis)
    shift = amount[:, None] * coord[None, :]  # (m, across)
    if axis == 2:
        phase = np.exp(-2j * np.pi * shift[:, :, None] * freq[None, None, :])
    else:
        phase = np.exp(-2j * np.pi * freq[None, :, None] * shift[:, None, :])
    result: NDArray[np.float64] = np.fft.irfft(spectrum * phase, n=size, axis=axis)
    return result


def _rotate_fft(
    frames: NDArray[np.float64], angles_deg: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rotate frames (m, ny, nx) about their centres by three Fourier shears."""
    m, ny, nx = frames.shape
    cy, cx = frame_center(frames.shape)
    side = 2 * max(ny, nx) + 1  # odd: no Nyquist term, centre on side // 2
    y0, x0 = side // 2 - cy, side // 2 - cx
    padded = np.zeros((m, side, side))
    padded[:, y0 : y0 + ny, x0 : x0 + nx] = frames
    # Whole quarter turns exactly, the remainder (|angle| <= 45 deg) by shears.
    turns = np.rint(angles_deg / 90.0).astype(np.int64)
    rest = np.deg2rad(angles_deg - 90.0 * turns)
    for k in np.unique(turns % 4):
        sel = turns % 4 == k
        padded[sel] = np.rot90(padded[sel], k=int(k), axes=(1, 2))
    a = np.tan(rest / 2.0)
    b = -np.sin(rest)
    sheared = _shear(_shear(_shear(padded, a, axis=2), b, axis=1), a, axis=2)
    return sheared[:, y0 : y0 + ny, x0 : x0 + nx]


def rotate_frame(
    frame: ArrayLike,
    angle_deg: float,
    *,
    interpolation: Interpolation = "biquintic",
    center: tuple[float, float] | None = None,
) -> NDArray[np.float64]:
    """Rotate one frame by ``angle_deg`` about its centre.

    Parameters
    ----------
    frame : array_like, shape (ny, nx)
        Image to rotate.
    angle_deg : float
        Rotation angle in degrees, as scikit-image's ``rotate``: a positive
        angle turns the image clockwise when displayed with the origin at the
        lower left (x to the right, y up), i.e. (x, y) -> (x cos a + y sin a,
        -x sin a + y cos a) about the centre.
    interpolation : {"nearest", "bilinear", "bicubic", "biquartic", "biquintic", "fft"}
        Interpolation, as vip-hci names the scikit-image orders, or "fft"
        for the Fourier three-shear rotation (no clipping, zero outside).
    center : (cy, cx), optional
        Rotation centre; the frame centre (:func:`frame_center`) by default.

    Returns
    -------
    numpy.ndarray
        The rotated frame (float64). Pixels from outside the field take the
        frame's minimum and values are clipped to the input range, as vip-hci's
        scikit-image rotation does.
    """
    data = np.asarray(frame, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"a frame must be 2-D, got shape {data.shape}")
    order = _order(interpolation)
    if order < 0:
        if center is not None and tuple(center) != frame_center(data.shape):
            raise ValueError("the Fourier rotation turns about the frame centre only")
        return _rotate_fft(data[None], np.array([float(angle_deg)]))[0]
    cen = frame_center(data.shape) if center is None else center
    centre = (float(cen[0]), float(cen[1]))
    low = float(np.min(data))
    span = float(np.max(data)) - low
    if span == 0.0:
        # A constant frame: nothing to normalise, zero outside the field.
        return _rotate_raw(data, angle_deg, order, centre)
    rotated = _rotate_raw((data - low) / span, angle_deg, order, centre)
    np.clip(rotated, 0.0, 1.0, out=rotated)
    rotated *= span
    rotated += low
    return rotated


def _workers(n_items: int, workers: int | None) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    return max(1, min(workers, n_items))


def derotate_cube(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    *,
    interpolation: Interpolation = "biquintic",
    workers: int | None = None,
) -> NDArray[np.float64]:
    """Rotate every frame of an ADI cube to a common north-up orientation.

    Frame ``i`` is rotated by ``-angles_deg[i]`` about the frame centre, as
    vip-hci's ``cube_derotate(cube, angles, imlib="skimage")`` does
    (Marois et al. 2006, ApJ 641, 556 for the ADI principle).

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Frames to derotate.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    interpolation : {"nearest", "bilinear", "bicubic", "biquartic", "biquintic"}
        Interpolation (see :func:`rotate_frame`).
    workers : int, optional
        Threads used; all cores by default.

    Returns
    -------
    numpy.ndarray, shape (n_frames, ny, nx)
        The derotated cube (float64).
    """
    data = np.asarray(cube, dtype=np.float64)
    angles = np.asarray(angles_deg, dtype=np.float64).reshape(-1)
    if data.ndim != 3:
        raise ValueError(f"a cube must be 3-D, got shape {data.shape}")
    if angles.shape[0] != data.shape[0]:
        raise ValueError(f"{angles.shape[0]} angles given for a cube of {data.shape[0]} frames")
    if _order(interpolation) < 0:
        fft_out = np.empty_like(data)
        for start in range(0, data.shape[0], _FFT_CHUNK):
            stop = start + _FFT_CHUNK
            fft_out[start:stop] = _rotate_fft(data[start:stop], -angles[start:stop])
        return fft_out
    out = np.empty_like(data)

    def one(i: int) -> None:
        out[i] = rotate_frame(data[i], -float(angles[i]), interpolation=interpolation)

    n_workers = _workers(data.shape[0], workers)
    if n_workers == 1:
        for i in range(data.shape[0]):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            list(pool.map(one, range(data.shape[0])))
    return out
