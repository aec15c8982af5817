"""Signal-to-noise ratio with small-sample statistics.

The S/N of a resolution element follows Mawet et al. 2014 (ApJ 792, 97): the
flux in a circular aperture of diameter one FWHM is compared with the fluxes
of the non-overlapping apertures at the same separation from the star by a
two-sample Student t-test (their eq. 9),

    S/N = (F_test - mean(F_bg)) / (std(F_bg, ddof=1) * sqrt(1 + 1/n_bg)),

with the aperture placement of vip-hci's ``snr`` / ``snrmap``: apertures
rotated clockwise about the star by ``2 arcsin(FWHM / 2r)`` from the test
position. Aperture sums use the exact overlap of the disc with each pixel, as
photutils' ``method="exact"``, computed here for all apertures at once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from hcdc_kernel.hci.rotation import frame_center

__all__ = [
    "SnrMeasurement",
    "aperture_sums",
    "snr_at",
    "snr_map",
    "student_fpf",
]

# Apertures handled per vectorised block: bounds the temporary arrays to a few MB.
_BLOCK = 8192


def _primitive(x: NDArray[np.float64], radius: float) -> NDArray[np.float64]:
    """Integral of ``sqrt(radius^2 - t^2)`` from 0 to ``x`` (``x`` clipped to the disc)."""
    r2 = radius * radius
    xc = np.clip(x, -radius, radius)
    result: NDArray[np.float64] = 0.5 * (
        xc * np.sqrt(np.maximum(r2 - xc * xc, 0.0)) + r2 * np.arcsin(xc / radius)
    )
    return result


def _disc_quadrant_area(
    a: NDArray[np.float64], b: NDArray[np.float64], radius: float
) -> NDArray[np.float64]:
    """Area of the disc (centred on 0) with ``X >= a`` and ``Y >= b``.

    ``a`` has shape (n, 1, k) and ``b`` shape (n, k, 1). The transcendental
    parts depend on ``a`` or ``b`` alone, so they are evaluated on the edges,
    and each corner only combines them.
    """
    babs = np.abs(b)
    xb = np.sqrt(np.maximum(radius * radius - babs * babs, 0.0))
    p_a = _primitive(a, radius)
    # With lo = a clipped to the chord [-xb, xb], the part above Y = |b| is
    # g - (P(lo) - |b| lo) where g = P(xb) - |b| xb; P is odd, so outside the
    # chord P(lo) - |b| lo = sign(a) g.
    g = _primitive(xb, radius) - babs * xb
    inside = np.abs(a) <= xb
    upper = g - np.where(inside, p_a - babs * a, np.copysign(g, a))
    # Below the x axis: the half-plane X >= a minus the mirrored upper part.
    half_plane = 2.0 * (_primitive(np.full_like(a, radius), radius) - p_a)
    result: NDArray[np.float64] = np.where(b >= 0.0, upper, half_plane - upper)
    return result


def aperture_sums(
    image: ArrayLike, *, x: ArrayLike, y: ArrayLike, radius: float
) -> NDArray[np.float64]:
    """Sum an image in circular apertures with exact pixel overlap.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        The image; pixels are unit squares centred on integer coordinates.
    x, y : array_like
        Aperture centres in 0-based pixel coordinates (same shape).
    radius : float
        Aperture radius in pixels.

    Returns
    -------
    numpy.ndarray
        Aperture sums with the shape of ``x``. Parts of an aperture outside the
        image contribute nothing, as in photutils.
    """
    data = np.asarray(image, dtype=np.float64)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.shape != ys.shape:
        raise ValueError("x and y must have the same shape")
    if radius <= 0:
        raise ValueError("radius must be positive")
    # Pixels j with j - 1/2 < c + r and j + 1/2 > c - r: at most ceil(2r) + 1.
    box = int(np.ceil(2.0 * radius)) + 1
    pad = box + 1
    padded = np.pad(np.nan_to_num(data), pad)
    flat_x = xs.reshape(-1)
    flat_y = ys.reshape(-1)
    out = np.empty(flat_x.shape[0], dtype=np.float64)
    steps = np.arange(box + 1, dtype=np.float64)
    offsets = np.arange(box)

    def block(start: int) -> None:
        cx = flat_x[start : start + _BLOCK]
        cy = flat_y[start : start + _BLOCK]
        x0 = np.floor(cx - radius + 0.5).astype(np.int64)
        y0 = np.floor(cy - radius + 0.5).astype(np.int64)
        # Pixel edges relative to each aperture centre.
        ax = (x0[:, None] - 0.5 - cx[:, None]) + steps[None, :]
        by = (y0[:, None] - 0.5 - cy[:, None]) + steps[None, :]
        quad = _disc_quadrant_area(ax[:, None, :], by[:, :, None], radius)
        area = quad[:, :-1, :-1] - quad[:, :-1, 1:] - quad[:, 1:, :-1] + quad[:, 1:, 1:]
        rows = np.clip(y0[:, None] + offsets[None, :] + pad, 0, padded.shape[0] - 1)
        cols = np.clip(x0[:, None] + offsets[None, :] + pad, 0, padded.shape[1] - 1)
        values = padded[rows[:, :, None], cols[:, None, :]]
        out[start : start + cx.shape[0]] = np.einsum("nij,nij->n", values, area)

    starts = range(0, flat_x.shape[0], _BLOCK)
    workers = min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        for start in starts:
            block(start)
    else:
        # numpy releases the GIL in these element-wise passes.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(block, starts))
    return out.reshape(xs.shape)


def _aperture_count(separation: NDArray[np.float64], fwhm: float) -> NDArray[np.int64]:
    """Number of non-overlapping 1xFWHM apertures on the circle of each separation."""
    step = 2.0 * np.arcsin(np.minimum(fwhm / 2.0 / separation, 1.0))
    counts: NDArray[np.int64] = np.floor(2.0 * np.pi / step).astype(np.int64)
    return counts


def _aperture_ring(
    dx: NDArray[np.float64], dy: NDArray[np.float64], fwhm: float, count: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Offsets of the apertures at the separation of (dx, dy), clockwise, test first."""
    sep = np.hypot(dx, dy)
    step = 2.0 * np.arcsin(fwhm / 2.0 / sep)
    k = np.arange(count, dtype=np.float64)
    angle = -step[:, None] * k[None, :]
    cos, sin = np.cos(angle), np.sin(angle)
    rx = cos * dx[:, None] - sin * dy[:, None]
    ry = sin * dx[:, None] + cos * dy[:, None]
    return rx, ry


def _background_columns(count: int, exclude_negative_lobes: bool) -> NDArray[np.int64]:
    cols = np.arange(1, count, dtype=np.int64)
    if exclude_negative_lobes:
        # The two apertures next to the test one sample the ADI negative lobes.
        cols = cols[(cols != 1) & (cols != count - 1)]
    return cols


@dataclass(frozen=True)
class SnrMeasurement:
    """S/N of one resolution element (Mawet et al. 2014).

    Attributes
    ----------
    x, y : float
        Test position (0-based pixels).
    snr : float
        Student-t S/N of the test aperture against the background apertures.
    signal : float
        Test-aperture flux minus the mean background-aperture flux.
    noise : float
        ``std(F_bg, ddof=1) * sqrt(1 + 1/n_bg)``.
    fpf : float
        False positive fraction of the one-sided t-test with ``n_bg - 1`` degrees
        of freedom.
    n_apertures : int
        Number of background apertures.
    """

    x: float
    y: float
    snr: float
    signal: float
    noise: float
    fpf: float
    n_apertures: int


def student_fpf(
    snr: float | NDArray[np.float64], n_apertures: int | NDArray[np.int64]
) -> NDArray[np.float64]:
    """False positive fraction of an S/N given ``n_apertures`` background apertures.

    ``FPF = 1 - T_{n-1}(S/N)`` (Mawet et al. 2014, eq. 10).
    """
    fpf: NDArray[np.float64] = np.asarray(stats.t.sf(snr, np.asarray(n_apertures) - 1))
    return fpf


def snr_at(
    image: ArrayLike, *, x: float, y: float, fwhm: float, exclude_negative_lobes: bool = False
) -> SnrMeasurement:
    """S/N of the resolution element centred at (x, y), as vip-hci's ``snr``.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Post-processed (e.g. PCA) frame, star at :func:`frame_center`.
    x, y : float
        Test position in 0-based pixels.
    fwhm : float
        FWHM in pixels: the aperture diameter.
    exclude_negative_lobes : bool
        Leave out the two apertures adjacent to the test aperture.

    Returns
    -------
    SnrMeasurement
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {data.shape}")
    cy, cx = frame_center(data.shape)
    dx = np.array([float(x) - cx])
    dy = np.array([float(y) - cy])
    sep = float(np.hypot(dx, dy)[0])
    if not sep > fwhm / 2.0:
        raise ValueError("the test position is too close to the star (separation <= FWHM/2)")
    count = int(_aperture_count(np.array([sep]), fwhm)[0])
    rx, ry = _aperture_ring(dx, dy, fwhm, count)
    fluxes = aperture_sums(data, x=rx[0] + cx, y=ry[0] + cy, radius=fwhm / 2.0)
    background = fluxes[_background_columns(count, exclude_negative_lobes)]
    n_bg = background.shape[0]
    noise = float(np.std(background, ddof=1) * np.sqrt(1.0 + 1.0 / n_bg))
    signal = float(fluxes[0] - background.mean())
    snr = signal / noise
    return SnrMeasurement(
        x=float(x),
        y=float(y),
        snr=snr,
        signal=signal,
        noise=noise,
        fpf=float(student_fpf(snr, n_bg)),
        n_apertures=n_bg,
    )


def snr_map(
    image: ArrayLike, *, fwhm: float, exclude_negative_lobes: bool = False
) -> NDArray[np.float64]:
    """S/N map: :func:`snr_at` at every pixel, as vip-hci's ``snrmap``.

    Pixels from one FWHM to ``min(ny, nx)/2 - FWHM/2`` from the star that are
    not exactly zero get a value; all others are 0, as in vip-hci. Every
    aperture sum is computed with exact pixel overlap, grouped by the number of
    apertures at the pixel's separation so that the statistics are vectorised.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Post-processed frame, star at :func:`frame_center`.
    fwhm : float
        FWHM in pixels.
    exclude_negative_lobes : bool
        Leave out the two apertures adjacent to each test aperture.

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        The S/N map (Mawet et al. 2014).
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {data.shape}")
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    ny, nx = data.shape
    cy, cx = frame_center(data.shape)
    yy, xx = np.mgrid[:ny, :nx]
    sep = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    width = min(ny, nx) / 2.0 - 1.5 * fwhm
    inside = (sep >= fwhm) & (sep < fwhm + width) & (data != 0)
    out = np.zeros_like(data)
    py, px = np.nonzero(inside)
    if py.size == 0:
        return out
    dx = (px - cx).astype(np.float64)
    dy = (py - cy).astype(np.float64)
    counts = _aperture_count(np.hypot(dx, dy), fwhm)
    for count in np.unique(counts):
        sel = counts == count
        rx, ry = _aperture_ring(dx[sel], dy[sel], fwhm, int(count))
        fluxes = aperture_sums(data, x=rx + cx, y=ry + cy, radius=fwhm / 2.0)
        background = fluxes[:, _background_columns(int(count), exclude_negative_lobes)]
        n_bg = background.shape[1]
        noise = np.std(background, axis=1, ddof=1) * np.sqrt(1.0 + 1.0 / n_bg)
        out[py[sel], px[sel]] = (fluxes[:, 0] - background.mean(axis=1)) / noise
    return out
