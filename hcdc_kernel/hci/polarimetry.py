"""Dual-beam polarimetric differential imaging (IRDIS DPI).

IRDIS in DPI mode images the field through two orthogonal polarisers at
once: the left (ordinary) and right (extraordinary) beams. A half-wave plate
(HWP) before them turns the polarisation plane, so that with the HWP at
0, 45, 22.5 and 67.5 degrees the beam difference L - R measures +Q, -Q, +U and
-U. The double difference

    Q = ((L - R)_0 - (L - R)_45) / 2,       U = ((L - R)_22.5 - (L - R)_67.5) / 2,

cancels the differential aberrations between the beams and between the HWP
positions; the double ratio (Tinbergen 1996, Astronomical Polarimetry;
Avenhaus et al. 2014, ApJ 781, 87)

    R_Q = sqrt((L/R)_0 / (L/R)_45),         Q / I_Q = (R_Q - 1) / (R_Q + 1)

cancels their flat-field and transmission differences instead. With
azimuth ``phi`` measured east of north around the star (north up, east left),
the azimuthal Stokes parameters of de Boer et al. 2020 (A&A 633, A63) and
van Holstein et al. 2020 (A&A 633, A64) are

    Q_phi = -Q cos 2 phi - U sin 2 phi,     U_phi = Q sin 2 phi - U cos 2 phi,

so that light polarised perpendicular to the direction of the star (single
scattering by a disk) has Q_phi > 0 and U_phi = 0.

Stokes Q and U here are referred to the image axes: +Q polarised along the
+y axis (north), +U along the axis 45 degrees from it towards -x (east).
Instrumental polarisation and the derotator/HWP cross-talk are not modelled
(see van Holstein et al. 2020 for the IRDIS Mueller-matrix model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.hci.rotation import frame_center

__all__ = [
    "HWP_ANGLES",
    "Combination",
    "PolarimetryResult",
    "azimuthal_stokes",
    "polarimetric_differential_imaging",
    "split_beams",
]

#: HWP angles (deg) of one polarimetric cycle, as Q+, Q-, U+, U-.
HWP_ANGLES = (0.0, 45.0, 22.5, 67.5)

Combination = Literal["double_difference", "double_ratio"]


@dataclass(frozen=True, eq=False)
class PolarimetryResult:
    """Stokes images of a DPI sequence.

    Attributes
    ----------
    i_total : numpy.ndarray
        Total intensity (mean of the Q and U intensities).
    q, u : numpy.ndarray
        Stokes Q and U.
    q_phi, u_phi : numpy.ndarray
        Azimuthal Stokes parameters around the star.
    polarized_intensity : numpy.ndarray
        ``sqrt(Q^2 + U^2)`` (biased upwards by noise).
    combination : str
        ``"double_difference"`` or ``"double_ratio"``.
    n_cycles : int
        Number of complete HWP cycles combined.
    center : tuple of float
        (x, y) of the star used for the azimuth.
    """

    i_total: NDArray[np.float64]
    q: NDArray[np.float64]
    u: NDArray[np.float64]
    q_phi: NDArray[np.float64]
    u_phi: NDArray[np.float64]
    polarized_intensity: NDArray[np.float64]
    combination: str
    n_cycles: int
    center: tuple[float, float]


def split_beams(frames: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Left and right beams of IRDIS frames whose halves sit side by side.

    Parameters
    ----------
    frames : array_like, shape (n, ny, 2 nx) or (ny, 2 nx)
        Frames with the left beam in the first half of the columns.

    Returns
    -------
    left, right : numpy.ndarray, shape (n, ny, nx)
    """
    data = np.asarray(frames, dtype=np.float64)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[2] % 2:
        raise ValueError(
            f"frames must be (n, ny, 2 nx) with two beams side by side, got {data.shape}"
        )
    half = data.shape[2] // 2
    return data[:, :, :half], data[:, :, half:]


def azimuthal_stokes(
    q: ArrayLike, u: ArrayLike, *, center: tuple[float, float] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Q_phi and U_phi around the star (de Boer et al. 2020, eq. 3-4).

    Parameters
    ----------
    q, u : array_like, shape (ny, nx)
        Stokes Q and U in the image axes (north up, east left).
    center : (x, y), optional
        Star position; the frame centre by default.

    Returns
    -------
    q_phi, u_phi : numpy.ndarray
    """
    q_img = np.asarray(q, dtype=np.float64)
    u_img = np.asarray(u, dtype=np.float64)
    if q_img.shape != u_img.shape or q_img.ndim != 2:
        raise ValueError("Q and U must be 2-D images of the same shape")
    if center is None:
        cy, cx = frame_center(q_img.shape)
        center = (float(cx), float(cy))
    yy, xx = np.mgrid[: q_img.shape[0], : q_img.shape[1]]
    # Azimuth east of north: north is +y, east is -x.
    phi = np.arctan2(-(xx - center[0]), yy - center[1])
    cos2, sin2 = np.cos(2.0 * phi), np.sin(2.0 * phi)
    q_phi = -q_img * cos2 - u_img * sin2
    u_phi = q_img * sin2 - u_img * cos2
    return q_phi, u_phi


def _cycle_index(hwp_deg: NDArray[np.float64]) -> NDArray[np.int64]:
    """Position in HWP_ANGLES of each frame's HWP angle (modulo 90 deg)."""
    wrapped = np.mod(hwp_deg, 90.0)
    targets = np.array(HWP_ANGLES)
    distance = np.abs((wrapped[:, None] - targets[None, :] + 45.0) % 90.0 - 45.0)
    index = np.argmin(distance, axis=1)
    if np.any(distance[np.arange(index.size), index] > 1.0):
        bad = hwp_deg[distance[np.arange(index.size), index] > 1.0]
        raise ValueError(f"HWP angles {bad.tolist()} are not 0, 22.5, 45 or 67.5 deg")
    return index


def polarimetric_differential_imaging(
    left: ArrayLike,
    right: ArrayLike,
    hwp_deg: ArrayLike,
    *,
    combination: Combination = "double_difference",
    center: tuple[float, float] | None = None,
) -> PolarimetryResult:
    """Stokes Q, U, Q_phi and U_phi from dual-beam frames at four HWP angles.

    Parameters
    ----------
    left, right : array_like, shape (n, ny, nx)
        Ordinary and extraordinary beams, registered on each other and centred
        on the star.
    hwp_deg : array_like, shape (n,)
        HWP angle of each frame (deg): 0, 45, 22.5 or 67.5 (modulo 90).
    combination : {"double_difference", "double_ratio"}
        How the beams and HWP positions are combined.
    center : (x, y), optional
        Star position for the azimuth; the frame centre by default.

    Returns
    -------
    PolarimetryResult

    Notes
    -----
    Frames of the same HWP angle are averaged first; every HWP angle must be
    present. ``n_cycles`` is the smallest number of frames of one angle.
    """
    left_data = np.asarray(left, dtype=np.float64)
    right_data = np.asarray(right, dtype=np.float64)
    hwp = np.asarray(hwp_deg, dtype=np.float64).reshape(-1)
    if left_data.ndim == 2:
        left_data, right_data = left_data[None], right_data[None]
    if left_data.shape != right_data.shape or left_data.ndim != 3:
        raise ValueError("left and right beams must be cubes of the same shape")
    if hwp.shape[0] != left_data.shape[0]:
        raise ValueError(f"{hwp.shape[0]} HWP angles for {left_data.shape[0]} frames")
    if not (np.all(np.isfinite(left_data)) and np.all(np.isfinite(right_data))):
        raise ValueError("the beams contain NaN or infinite values")
    index = _cycle_index(hwp)
    counts = np.bincount(index, minlength=4)
    if np.any(counts == 0):
        missing = [HWP_ANGLES[k] for k in range(4) if counts[k] == 0]
        raise ValueError(f"no frame at HWP angle(s) {missing}: a full cycle is needed")
    mean_left = np.stack([left_data[index == k].mean(axis=0) for k in range(4)])
    mean_right = np.stack([right_data[index == k].mean(axis=0) for k in range(4)])
    total = mean_left + mean_right
    i_q = 0.5 * (total[0] + total[1])
    i_u = 0.5 * (total[2] + total[3])
    if combination == "double_difference":
        diff = mean_left - mean_right
        q = 0.5 * (diff[0] - diff[1])
        u = 0.5 * (diff[2] - diff[3])
    elif combination == "double_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = mean_left / mean_right
            r_q = np.sqrt(ratio[0] / ratio[1])
            r_u = np.sqrt(ratio[2] / ratio[3])
            q = np.nan_to_num(i_q * (r_q - 1.0) / (r_q + 1.0))
            u = np.nan_to_num(i_u * (r_u - 1.0) / (r_u + 1.0))
    else:
        raise ValueError(f"unknown combination {combination!r}")
    ny, nx = q.shape
    if center is None:
        cy, cx = frame_center((ny, nx))
        center = (float(cx), float(cy))
    q_phi, u_phi = azimuthal_stokes(q, u, center=center)
    return PolarimetryResult(
        i_total=0.5 * (i_q + i_u),
        q=q,
        u=u,
        q_phi=q_phi,
        u_phi=u_phi,
        polarized_intensity=np.hypot(q, u),
        combination=combination,
        n_cycles=int(counts.min()),
        center=(float(center[0]), float(center[1])),
    )
