"""IRDIS detector calibrations: master darks and backgrounds, detector flats, bad pixels.

What the ESO pipeline's ``sph_ird_master_dark`` and ``sph_ird_instrument_flat`` recipes do
(SPHERE Data Reduction Pipeline Manual, VLT-MAN-ESO-19500-5652; used by the SPHERE
consortium's ``vlt-sphere`` package, Vigan 2020, ascl:2009.002), written for hcdc:

* Master dark / instrument background / sky: a per-pixel sigma-clipped median of all frames
  taken with one DIT (and, for backgrounds and skies, one filter combination). Hot pixels
  stand out of a local median of the master dark by more than ``hot_sigma`` robust standard
  deviations (sigma clipping of the residual, astropy's ``sigma_clip``).
* Detector flat: the lamp counts of each pixel rise linearly with the DIT, ``c = a + b·DIT``;
  a least-squares line through the flats taken at several DITs gives the response ``b`` free
  of the offset and dark current (Finger et al. 2008, SPIE 7021, for the IRDIS HAWAII-2RG).
  With a single DIT the matching master dark is subtracted instead. The flat is ``b``
  normalised to a median of 1 in each field. Dead pixels (response below ``dead_threshold``),
  outliers from a local median and pixels whose counts depart from the line (non-linear) are
  bad.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from astropy.stats import mad_std, sigma_clip, sigma_clipped_stats
from scipy import ndimage

from hcdc_kernel.sphere.errors import CalibrationMismatchError, SphereDataError
from hcdc_kernel.sphere.exposures import (
    DIT_KEY,
    FILTER_KEY,
    RawExposure,
    read_exposure,
    same_dit,
)

__all__ = [
    "DarkKind",
    "DetectorFlat",
    "MasterDark",
    "combine_bad_pixels",
    "detector_flat",
    "detector_flat_from_files",
    "master_dark",
    "master_dark_from_files",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DarkKind = Literal["dark", "background", "sky"]

_KIND_OF_DPR_TYPE: dict[str, DarkKind] = {
    "DARK": "dark",
    "DARK,BACKGROUND": "background",
    "SKY": "sky",
}


@dataclass(frozen=True, eq=False)
class MasterDark:
    """A master dark, instrument background or sky for one DIT (and filter combination).

    Attributes
    ----------
    image : numpy.ndarray, shape (ny, nx)
        Per-pixel sigma-clipped median, ADU.
    bad_pixels : numpy.ndarray of bool, shape (ny, nx)
        Hot (and cold) pixels: outliers from the local median of ``image``.
    dit : float
        DIT of every input frame, seconds.
    kind : {"dark", "background", "sky"}
        ``DPR TYPE`` ``DARK``, ``DARK,BACKGROUND`` or ``SKY``.
    filter_combination : str
        ``INS COMB IFLT`` of the inputs (``""`` when unknown).
    n_frames : int
        Frames combined (all DITs of all files).
    level : float
        QC: median of ``image``, ADU.
    noise : float
        QC: robust standard deviation of ``image`` around its local median, ADU.
    hot_pixel_count : int
        QC: number of ``bad_pixels``.
    """

    image: FloatArray
    bad_pixels: BoolArray
    dit: float
    kind: DarkKind
    filter_combination: str
    n_frames: int
    level: float
    noise: float
    hot_pixel_count: int


@dataclass(frozen=True, eq=False)
class DetectorFlat:
    """A detector flat of one filter combination.

    Attributes
    ----------
    flat : numpy.ndarray, shape (ny, nx)
        Relative response, median 1 in each field (left and right halves); bad pixels are 1.
    bad_pixels : numpy.ndarray of bool
        Dead, outlying and non-linear pixels.
    filter_combination : str
        ``INS COMB IFLT`` of the lamp flats.
    dits : tuple of float
        Distinct DITs of the inputs.
    rate : tuple of float
        QC: median lamp count rate in each field, ADU/s.
    rms : float
        QC: standard deviation of ``flat`` over good pixels (pixel response and vignetting).
    dead_count, outlier_count, nonlinear_count : int
        QC: pixels flagged for each reason (a pixel may have several).
    """

    flat: FloatArray
    bad_pixels: BoolArray
    filter_combination: str
    dits: tuple[float, ...]
    rate: tuple[float, float]
    rms: float
    dead_count: int
    outlier_count: int
    nonlinear_count: int


def _outliers(image: FloatArray, *, box: int, sigma: float) -> tuple[BoolArray, FloatArray, float]:
    """Pixels that depart from the local median by more than ``sigma`` robust deviations."""
    residual = image - ndimage.median_filter(image, size=box, mode="reflect")
    clipped = sigma_clip(
        residual, sigma=sigma, maxiters=None, cenfunc="median", stdfunc="mad_std", masked=True
    )
    mask = np.asarray(np.ma.getmaskarray(clipped), dtype=bool)
    noise = float(mad_std(residual[~mask])) if np.any(~mask) else float("nan")
    return mask, residual, noise


def _stack(frames: npt.ArrayLike) -> FloatArray:
    data = np.asarray(frames, dtype=np.float64)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[0] == 0:
        raise ValueError(f"expected frames of shape (n, ny, nx), got {data.shape}")
    return data


def master_dark(
    frames: npt.ArrayLike,
    *,
    dit: float,
    kind: DarkKind = "dark",
    filter_combination: str = "",
    clip_sigma: float = 5.0,
    hot_sigma: float = 5.0,
    box: int = 5,
) -> MasterDark:
    """Combine dark (or background, sky) frames of one DIT into a master with its hot pixels.

    Parameters
    ----------
    frames : array_like, shape (n, ny, nx)
        Every frame (all DITs of all files) taken with ``dit``.
    dit : float
        Their DIT, seconds.
    kind : {"dark", "background", "sky"}
        What the frames are; recorded in the result.
    filter_combination : str
        ``INS COMB IFLT`` of the frames (backgrounds and skies depend on it).
    clip_sigma : float
        Per-pixel clipping threshold of the combination (3 frames or more).
    hot_sigma : float
        Threshold, in robust standard deviations, of the hot-pixel detection.
    box : int
        Side of the local median the hot pixels are measured against.

    Returns
    -------
    MasterDark
    """
    data = _stack(frames)
    if not dit > 0:
        raise ValueError(f"dit must be positive, got {dit}")
    if data.shape[0] >= 3:
        _, median, _ = sigma_clipped_stats(
            data, axis=0, sigma=clip_sigma, maxiters=3, stdfunc="mad_std"
        )
        image = np.asarray(median, dtype=np.float64)
    else:
        image = np.median(data, axis=0)
    not_finite = ~np.isfinite(image)
    image = np.where(not_finite, np.nanmedian(image), image)
    hot, _, noise = _outliers(image, box=box, sigma=hot_sigma)
    hot |= not_finite
    return MasterDark(
        image=image,
        bad_pixels=hot,
        dit=float(dit),
        kind=kind,
        filter_combination=filter_combination,
        n_frames=int(data.shape[0]),
        level=float(np.median(image)),
        noise=noise,
        hot_pixel_count=int(hot.sum()),
    )


def _check_same(exposures: Sequence[RawExposure], *, check_filter: bool) -> None:
    first = exposures[0]
    for exposure in exposures[1:]:
        if not same_dit(exposure.dit, first.dit):
            raise CalibrationMismatchError(
                f"DIT {exposure.dit} s differs from {first.dit} s of the other frames",
                path=exposure.path,
                keyword=DIT_KEY,
            )
        if exposure.shape != first.shape:
            raise CalibrationMismatchError(
                f"frame shape {exposure.shape} differs from {first.shape}", path=exposure.path
            )
        if check_filter and exposure.filter_combination != first.filter_combination:
            raise CalibrationMismatchError(
                f"filter {exposure.filter_combination!r} differs from "
                f"{first.filter_combination!r} of the other frames",
                path=exposure.path,
                keyword=FILTER_KEY,
            )


def master_dark_from_files(
    paths: Sequence[Path | str],
    *,
    clip_sigma: float = 5.0,
    hot_sigma: float = 5.0,
    box: int = 5,
) -> MasterDark:
    """:func:`master_dark` of raw files (``IRD_DARK_RAW``, ``IRD_BACKGROUND_RAW`` or sky).

    The kind comes from ``DPR TYPE``; all files must share the DIT (to 0.01 s) and, for
    backgrounds and skies, the filter combination.

    Raises
    ------
    CalibrationMismatchError
        Naming the first file whose DIT, filter or shape differs.
    """
    if not paths:
        raise ValueError("no dark files given")
    exposures = [read_exposure(path) for path in paths]
    kinds = {_KIND_OF_DPR_TYPE.get(e.dpr_type, "dark") for e in exposures}
    if len(kinds) != 1:
        raise SphereDataError(f"darks, backgrounds and skies are mixed: {sorted(kinds)}")
    kind = kinds.pop()
    _check_same(exposures, check_filter=kind != "dark")
    frames = np.concatenate([e.data for e in exposures]).astype(np.float64)
    return master_dark(
        frames,
        dit=exposures[0].dit,
        kind=kind,
        filter_combination=exposures[0].filter_combination,
        clip_sigma=clip_sigma,
        hot_sigma=hot_sigma,
        box=box,
    )


def _field_slices(nx: int) -> tuple[slice, slice]:
    half = nx // 2
    return slice(0, half), slice(half, nx)


def detector_flat(
    frames: npt.ArrayLike,
    dits: npt.ArrayLike,
    *,
    dark: MasterDark | None = None,
    filter_combination: str = "",
    dead_threshold: float = 0.5,
    outlier_sigma: float = 5.0,
    nonlinear_sigma: float = 6.0,
    box: int = 5,
) -> DetectorFlat:
    """Detector flat from lamp flats, by a per-pixel linear fit of counts against DIT.

    Parameters
    ----------
    frames : array_like, shape (n, ny, nx)
        Lamp flats (one frame per file, e.g. the mean of its DITs), ADU.
    dits : array_like, shape (n,)
        DIT of each frame, seconds.
    dark : MasterDark, optional
        Needed when all flats share one DIT (then ``(frame - dark) / DIT`` is the response);
        ignored otherwise, as the fit's intercept absorbs offset and dark.
    filter_combination : str
        ``INS COMB IFLT`` of the flats.
    dead_threshold : float
        Pixels whose normalised response is below this are dead.
    outlier_sigma : float
        Pixels departing from the local median flat by more are bad.
    nonlinear_sigma : float
        With three DITs or more: pixels whose RMS departure from their line exceeds the
        median RMS by this many robust deviations are non-linear.
    box : int
        Side of the local median.

    Returns
    -------
    DetectorFlat
    """
    data = _stack(frames)
    exposure_times = np.asarray(dits, dtype=np.float64).reshape(-1)
    if exposure_times.size != data.shape[0]:
        raise ValueError(f"{data.shape[0]} flats but {exposure_times.size} DITs")
    if np.any(exposure_times <= 0):
        raise ValueError("DITs must be positive")
    distinct = tuple(sorted({round(float(d), 2) for d in exposure_times}))
    nonlinear = np.zeros(data.shape[1:], dtype=bool)
    if len(distinct) >= 2:
        t = exposure_times - exposure_times.mean()
        mean = data.mean(axis=0)
        slope = np.tensordot(t, data - mean, axes=1) / float(np.sum(t**2))
        if len(distinct) >= 3:
            fitted = mean + slope * t[:, None, None]
            rms = np.sqrt(np.mean((data - fitted) ** 2, axis=0))
            # Residuals grow with the counts (photon noise): compare with the median of
            # pixels of similar slope through a relative measure.
            relative = rms / np.maximum(np.abs(slope), 1e-12)
            centre = np.median(relative)
            nonlinear = relative > centre + nonlinear_sigma * mad_std(relative)
    else:
        if dark is None:
            raise ValueError(
                f"all flats share DIT {distinct[0]} s: a master dark of that DIT is needed"
            )
        if not same_dit(dark.dit, distinct[0]):
            raise CalibrationMismatchError(
                f"the master dark has DIT {dark.dit} s, the flats {distinct[0]} s",
                keyword=DIT_KEY,
            )
        if dark.image.shape != data.shape[1:]:
            raise CalibrationMismatchError(
                f"dark shape {dark.image.shape} differs from flat shape {data.shape[1:]}"
            )
        slope = np.mean((data - dark.image) / exposure_times[:, None, None], axis=0)

    nx = slope.shape[1]
    flat = np.empty_like(slope)
    rates = []
    for field in _field_slices(nx):
        values = slope[:, field]
        level = float(np.median(values[np.isfinite(values)]))
        if not level > 0:
            raise SphereDataError(f"the lamp flats have no positive signal (median {level})")
        flat[:, field] = values / level
        rates.append(level)
    finite = np.isfinite(flat)
    flat = np.where(finite, flat, 0.0)
    dead = (flat < dead_threshold) | ~finite
    outliers, _, _ = _outliers(flat, box=box, sigma=outlier_sigma)
    bad = dead | outliers | nonlinear
    good_flat = np.where(bad, 1.0, flat)
    return DetectorFlat(
        flat=good_flat,
        bad_pixels=bad,
        filter_combination=filter_combination,
        dits=distinct,
        rate=(rates[0], rates[1]),
        rms=float(np.std(flat[~bad])),
        dead_count=int(dead.sum()),
        outlier_count=int(outliers.sum()),
        nonlinear_count=int(nonlinear.sum()),
    )


def detector_flat_from_files(
    paths: Sequence[Path | str],
    *,
    dark: MasterDark | None = None,
    dead_threshold: float = 0.5,
    outlier_sigma: float = 5.0,
    nonlinear_sigma: float = 6.0,
    box: int = 5,
) -> DetectorFlat:
    """:func:`detector_flat` of raw lamp flats (``IRD_FLAT_FIELD_RAW``) of one filter.

    Each file contributes the mean of its DITs. A ``dark`` of the flats' DIT is needed when
    they all share one DIT.

    Raises
    ------
    CalibrationMismatchError
        Naming the first file whose filter combination or shape differs, or the dark whose DIT
        differs from the flats'.
    """
    if not paths:
        raise ValueError("no flat files given")
    exposures = [read_exposure(path) for path in paths]
    first = exposures[0]
    for exposure in exposures[1:]:
        if exposure.filter_combination != first.filter_combination:
            raise CalibrationMismatchError(
                f"filter {exposure.filter_combination!r} differs from "
                f"{first.filter_combination!r} of the other flats",
                path=exposure.path,
                keyword=FILTER_KEY,
            )
        if exposure.shape != first.shape:
            raise CalibrationMismatchError(
                f"frame shape {exposure.shape} differs from {first.shape}", path=exposure.path
            )
    frames = np.stack([e.data.mean(axis=0, dtype=np.float64) for e in exposures])
    dits = [e.dit for e in exposures]
    if (
        dark is not None
        and len({round(d, 2) for d in dits}) == 1
        and not same_dit(dark.dit, dits[0])
    ):
        raise CalibrationMismatchError(
            f"the master dark has DIT {dark.dit} s, the flats {dits[0]} s",
            path=first.path,
            keyword=DIT_KEY,
        )
    return detector_flat(
        frames,
        dits,
        dark=dark,
        filter_combination=first.filter_combination,
        dead_threshold=dead_threshold,
        outlier_sigma=outlier_sigma,
        nonlinear_sigma=nonlinear_sigma,
        box=box,
    )


def combine_bad_pixels(*maps: npt.ArrayLike) -> BoolArray:
    """Union of bad-pixel maps (e.g. a dark's hot pixels and a flat's dead pixels)."""
    if not maps:
        raise ValueError("no bad-pixel maps given")
    arrays = [np.asarray(m, dtype=bool) for m in maps]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise CalibrationMismatchError(f"bad-pixel maps of different shapes {sorted(shapes)}")
    result: BoolArray = np.logical_or.reduce(arrays)
    return result
