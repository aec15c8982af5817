"""Rejection of bad frames in an ADI sequence.

A frame is rejected when, compared with the rest of the sequence,

* its flux in an annulus around the star (the PSF halo, or the core of a
  non-coronagraphic PSF) is an outlier: more than ``flux_sigma`` robust
  standard deviations (1.4826 x the median absolute deviation) from the
  median, which catches AO open loops, clouds and saturation;
* its Pearson correlation with the median frame in the same annulus is
  below ``min_correlation`` or is a low outlier (``correlation_sigma``), as
  vip-hci's ``cube_detect_badfr_correlation`` (Gomez Gonzalez et al. 2017,
  AJ 154, 7), which catches frames with a different speckle pattern;
* the observing conditions, when given per frame, are worse than the limits:
  seeing (DIMM FWHM, arcsec) above ``max_seeing``, coherence time ``tau0``
  (s) below ``min_tau0``, AO Strehl estimate below ``min_strehl``, or the
  star's position on the differential tip-tilt sensor (DTTS) more than
  ``max_dtts_drift`` px from its median position over the sequence (the
  star drifting off the coronagraph, Milli et al. 2017, arXiv:1707.06200).
  A frame whose condition is unknown (NaN: a gap in the telemetry) is kept
  for that test; :attr:`FrameSelection.unknown` says which.

Every reason found is kept for each frame, so the product can say why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.hci.rotation import frame_center

__all__ = [
    "REASONS",
    "FrameSelection",
    "annulus_mask",
    "position_drift",
    "robust_sigma",
    "select_frames",
]

#: Rejection reasons, in the order they are reported.
REASONS = ("flux_low", "flux_high", "correlation", "seeing", "tau0", "strehl", "dtts_drift")


@dataclass(frozen=True, eq=False)
class FrameSelection:
    """Which frames are kept and why the others are not.

    Attributes
    ----------
    keep : numpy.ndarray of bool, shape (n_frames,)
        True for kept frames.
    reasons : tuple of tuple of str
        For each frame, the rejection reasons (a subset of :data:`REASONS`);
        empty for kept frames.
    flux : numpy.ndarray
        Flux of each frame in the annulus.
    correlation : numpy.ndarray
        Pearson correlation of each frame with the median frame in the annulus.
    seeing, tau0, strehl, dtts_drift : numpy.ndarray or None
        The conditions given, per frame (DTTS drift in px from the median position).
    thresholds : dict
        The limits applied (flux range, minimum correlation, seeing, tau0, Strehl, drift).
    unknown : dict
        Per condition test applied, the indices of the frames it could not judge (NaN).
    """

    keep: NDArray[np.bool_]
    reasons: tuple[tuple[str, ...], ...]
    flux: NDArray[np.float64]
    correlation: NDArray[np.float64]
    seeing: NDArray[np.float64] | None
    tau0: NDArray[np.float64] | None
    thresholds: dict[str, float | None]
    strehl: NDArray[np.float64] | None = None
    dtts_drift: NDArray[np.float64] | None = None
    unknown: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def kept_indices(self) -> NDArray[np.int64]:
        """Indices of the kept frames."""
        return np.flatnonzero(self.keep)

    @property
    def rejected_indices(self) -> NDArray[np.int64]:
        """Indices of the rejected frames."""
        return np.flatnonzero(~self.keep)

    @property
    def n_rejected(self) -> int:
        return int((~self.keep).sum())


def annulus_mask(
    shape: tuple[int, int], *, inner: float, outer: float, center: tuple[float, float] | None = None
) -> NDArray[np.bool_]:
    """Pixels with ``inner <= r < outer`` from the centre ((cy, cx), frame centre by default)."""
    cy, cx = frame_center(shape) if center is None else center
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(yy - cy, xx - cx)
    mask: NDArray[np.bool_] = (r >= inner) & (r < outer)
    return mask


def robust_sigma(values: ArrayLike) -> float:
    """Standard deviation estimated as 1.4826 x the median absolute deviation."""
    data = np.asarray(values, dtype=np.float64)
    return float(1.4826 * np.median(np.abs(data - np.median(data))))


def position_drift(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Distance (px) of each position from the median position (NaN where unknown)."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    known = np.isfinite(xs) & np.isfinite(ys)
    if not known.any():
        return np.full(xs.shape, np.nan)
    drift: NDArray[np.float64] = np.hypot(xs - np.median(xs[known]), ys - np.median(ys[known]))
    return drift


def _conditions(values: ArrayLike | None, n: int, name: str) -> NDArray[np.float64] | None:
    if values is None:
        return None
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.shape[0] != n:
        raise ValueError(f"{data.shape[0]} {name} values given for a cube of {n} frames")
    return data


def select_frames(
    cube: ArrayLike,
    *,
    inner_radius: float,
    outer_radius: float,
    flux_sigma: float | None = 3.0,
    min_correlation: float | None = None,
    correlation_sigma: float | None = 3.0,
    seeing: ArrayLike | None = None,
    max_seeing: float | None = None,
    tau0: ArrayLike | None = None,
    min_tau0: float | None = None,
    strehl: ArrayLike | None = None,
    min_strehl: float | None = None,
    dtts_drift: ArrayLike | None = None,
    max_dtts_drift: float | None = None,
) -> FrameSelection:
    """Flag the frames of a centred cube to reject, with the reasons.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred cube (star at the frame centre).
    inner_radius, outer_radius : float
        Annulus (px) where flux and correlation are measured; an inner radius
        of 0 takes the PSF core as well.
    flux_sigma : float, optional
        Reject frames whose flux is more than this many robust standard
        deviations from the median; None disables the test.
    min_correlation : float, optional
        Reject frames whose correlation with the median frame is below this.
    correlation_sigma : float, optional
        Reject frames whose correlation is more than this many robust standard
        deviations below the median correlation; None disables the test.
    seeing : array_like, shape (n_frames,), optional
        Seeing (arcsec) per frame, e.g. ``TEL AMBI FWHM`` values.
    max_seeing : float, optional
        Reject frames with a worse seeing.
    tau0 : array_like, shape (n_frames,), optional
        Coherence time (s) per frame, e.g. ``TEL AMBI TAU0`` values.
    min_tau0 : float, optional
        Reject frames with a shorter coherence time.
    strehl : array_like, shape (n_frames,), optional
        AO Strehl estimate (0-1) per frame, e.g. SPARTA's.
    min_strehl : float, optional
        Reject frames with a lower Strehl.
    dtts_drift : array_like, shape (n_frames,), optional
        Distance (px) of the star on the DTTS from its median position
        (:func:`position_drift`).
    max_dtts_drift : float, optional
        Reject frames where the star drifted farther.

    Returns
    -------
    FrameSelection
    """
    data = np.asarray(cube, dtype=np.float64)
    if data.ndim != 3:
        raise ValueError(f"the cube must be 3-D (n_frames, ny, nx), got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("the cube contains NaN or infinite values")
    if not 0 <= inner_radius < outer_radius:
        raise ValueError("the annulus needs 0 <= inner_radius < outer_radius")
    n = data.shape[0]
    mask = annulus_mask((data.shape[1], data.shape[2]), inner=inner_radius, outer=outer_radius)
    if mask.sum() < 2:
        raise ValueError("the annulus holds fewer than two pixels")
    pixels = data[:, mask]
    flux = pixels.sum(axis=1)
    reference = np.median(pixels, axis=0)
    centred = pixels - pixels.mean(axis=1, keepdims=True)
    ref_centred = reference - reference.mean()
    norms = np.linalg.norm(centred, axis=1) * np.linalg.norm(ref_centred)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where(norms > 0, centred @ ref_centred / norms, 0.0)
    given = {
        "seeing": _conditions(seeing, n, "seeing"),
        "tau0": _conditions(tau0, n, "tau0"),
        "strehl": _conditions(strehl, n, "strehl"),
        "dtts_drift": _conditions(dtts_drift, n, "dtts_drift"),
    }

    flagged: dict[str, NDArray[np.bool_]] = {}
    thresholds: dict[str, float | None] = {
        "flux_min": None,
        "flux_max": None,
        "correlation_min": min_correlation,
        "max_seeing": max_seeing,
        "min_tau0": min_tau0,
    }
    if flux_sigma is not None:
        centre, spread = float(np.median(flux)), robust_sigma(flux)
        low, high = centre - flux_sigma * spread, centre + flux_sigma * spread
        thresholds["flux_min"], thresholds["flux_max"] = low, high
        flagged["flux_low"] = flux < low
        flagged["flux_high"] = flux > high
    corr_limit = -np.inf if min_correlation is None else float(min_correlation)
    if correlation_sigma is not None:
        clipped = float(np.median(correlation)) - correlation_sigma * robust_sigma(correlation)
        corr_limit = max(corr_limit, clipped)
    if np.isfinite(corr_limit):
        thresholds["correlation_min"] = corr_limit
        flagged["correlation"] = correlation < corr_limit
    # (condition, limit, True when the limit is a maximum)
    limits = {
        "seeing": (max_seeing, True),
        "tau0": (min_tau0, False),
        "strehl": (min_strehl, False),
        "dtts_drift": (max_dtts_drift, True),
    }
    thresholds["min_strehl"] = min_strehl
    thresholds["max_dtts_drift"] = max_dtts_drift
    unknown: dict[str, tuple[int, ...]] = {}
    for reason, (limit, is_max) in limits.items():
        if limit is None:
            continue
        values = given[reason]
        if values is None:
            bound = "max" if is_max else "min"
            raise ValueError(f"{bound}_{reason} is set but no {reason} values were given")
        known = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            worse = values > limit if is_max else values < limit
        flagged[reason] = known & worse
        if not known.all():
            unknown[reason] = tuple(int(i) for i in np.flatnonzero(~known))
    reasons = tuple(
        tuple(reason for reason in REASONS if reason in flagged and flagged[reason][i])
        for i in range(n)
    )
    keep = np.array([not r for r in reasons], dtype=bool)
    return FrameSelection(
        keep=keep,
        reasons=reasons,
        flux=flux,
        correlation=np.asarray(correlation, dtype=np.float64),
        seeing=given["seeing"],
        tau0=given["tau0"],
        thresholds=thresholds,
        strehl=given["strehl"],
        dtts_drift=given["dtts_drift"],
        unknown=unknown,
    )
