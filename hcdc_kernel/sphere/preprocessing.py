"""Pre-processing of IRDIS science, star-centre and flux exposures.

The steps of the SPHERE consortium's pipeline (``vlt-sphere``'s
``sph_ird_preprocess_science``; Vigan 2020, ascl:2009.002), written for hcdc:

1. optional collapse of the cube (mean of its DITs), or one frame per DIT;
2. subtraction of the sky, instrument background or dark of the same DIT (in this order of
   preference, see :func:`select_background`);
3. division by the detector flat of the same filter combination;
4. bad pixels (the union of the calibrations' maps) replaced by a Gaussian-weighted
   interpolation of their good neighbours (astropy's ``interpolate_replace_nans``, evaluated
   at the bad pixels only);
5. split of the detector into its two fields (DBI: one filter each; CI: the same filter).

A full IRDIS frame is 1024 × 2048 pixels and splits into two 1024 × 1024 fields; the
vignetted borders and the gap between the fields (rows < 15 and ≥ 1013, columns < 50,
941–1077 and ≥ 1966, as vlt-sphere masks them) are set to zero. Smaller frames (hcdc's
synthetic demo nights write ``size × 2 size``) split in the middle, with no dead region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.convolution import Gaussian2DKernel
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.sphere.angles import frame_times
from hcdc_kernel.sphere.calibration import DetectorFlat, MasterDark, combine_bad_pixels
from hcdc_kernel.sphere.errors import CalibrationMismatchError, KeywordError
from hcdc_kernel.sphere.exposures import DIT_KEY, FILTER_KEY, RawExposure, same_dit
from hcdc_kernel.sphere.filters import FilterChannel, filter_channels

__all__ = [
    "IRDIS_FRAME_SHAPE",
    "PreprocessedExposure",
    "correct_bad_pixels",
    "dead_regions",
    "field_centre_guess",
    "preprocess_exposure",
    "select_background",
    "split_fields",
]

Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Shape of a full IRDIS frame (ny, nx).
IRDIS_FRAME_SHAPE = (1024, 2048)
#: Typical star position (x, y) in each 1024 × 1024 field of a full frame (vlt-sphere).
_IRDIS_CENTRES = ((485.0, 520.0), (486.0, 508.0))
_BACKGROUND_PREFERENCE = ("sky", "background", "dark")


def dead_regions(shape: tuple[int, int]) -> BoolArray:
    """Pixels outside IRDIS's two fields (borders and gap) of a full frame; none otherwise."""
    mask = np.zeros(shape, dtype=bool)
    if tuple(shape) == IRDIS_FRAME_SHAPE:
        mask[:15, :] = True
        mask[1013:, :] = True
        mask[:, :50] = True
        mask[:, 941:1078] = True
        mask[:, 1966:] = True
    return mask


def field_centre_guess(frame_shape: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    """Approximate star position (x, y) in each field of a detector frame ``(ny, nx)``.

    Full IRDIS frames: the typical positions of the coronagraph in each field (vlt-sphere's
    ``default_center``); smaller frames: the centre of each field.
    """
    ny, nx = frame_shape
    if tuple(frame_shape) == IRDIS_FRAME_SHAPE:
        return _IRDIS_CENTRES
    half = nx // 2
    return ((half / 2.0, ny / 2.0), (half / 2.0, ny / 2.0))


def split_fields(frames: npt.ArrayLike) -> Float32Array:
    """Split detector frames ``(..., ny, nx)`` into their two fields ``(..., 2, ny, nx / 2)``."""
    data = np.asarray(frames, dtype=np.float32)
    nx = data.shape[-1]
    if nx % 2:
        raise ValueError(f"an IRDIS frame has an even width, got {nx}")
    half = nx // 2
    return np.stack([data[..., :half], data[..., half:]], axis=-3)


def _fill(
    frame: npt.NDArray[np.float64], bad: BoolArray, kernel: npt.NDArray[np.float64]
) -> BoolArray:
    """Replace ``frame[bad]`` in place by the kernel-weighted mean of good neighbours.

    Returns the bad pixels with no good neighbour within the kernel (left untouched).
    """
    ys, xs = np.nonzero(bad)
    r = kernel.shape[0] // 2
    values = np.pad(np.where(bad, 0.0, frame), r)
    good = np.pad((~bad).astype(np.float64), r)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    rows = ys[:, None] + r + dy.ravel()[None, :]
    cols = xs[:, None] + r + dx.ravel()[None, :]
    weights = good[rows, cols] * kernel.ravel()[None, :]
    total = weights.sum(axis=1)
    resolved = total > 0
    sums = (values[rows, cols] * weights).sum(axis=1)
    frame[ys[resolved], xs[resolved]] = sums[resolved] / total[resolved]
    unresolved = np.zeros_like(bad)
    unresolved[ys[~resolved], xs[~resolved]] = True
    return unresolved


def correct_bad_pixels(
    frames: npt.ArrayLike, bad_pixels: npt.ArrayLike, *, kernel_sigma: float = 1.0
) -> Float32Array:
    """Replace bad pixels by the Gaussian-weighted mean of their good neighbours.

    This is astropy's ``interpolate_replace_nans`` with a ``Gaussian2DKernel`` (normalised
    convolution, good pixels only), evaluated at the bad pixels alone rather than by a
    convolution of the whole frame; pixels beyond the frame edge do not count.

    Parameters
    ----------
    frames : array_like, shape (n, ny, nx) or (ny, nx)
        Frames; NaN values are treated as bad too.
    bad_pixels : array_like of bool, shape (ny, nx)
        Pixels to replace.
    kernel_sigma : float
        Standard deviation (px) of the Gaussian weights (a 9 × 9 kernel for 1 px); clusters
        wider than the kernel are filled with a kernel twice as wide, then with the median.

    Returns
    -------
    numpy.ndarray, float32, the shape of ``frames``
    """
    data = np.array(frames, dtype=np.float32)
    squeeze = data.ndim == 2
    if squeeze:
        data = data[None]
    mask = np.asarray(bad_pixels, dtype=bool)
    if mask.shape != data.shape[1:]:
        raise CalibrationMismatchError(
            f"bad-pixel map {mask.shape} does not match frames {data.shape[1:]}"
        )
    kernels = [
        np.asarray(Gaussian2DKernel(kernel_sigma * factor).array, dtype=np.float64)
        for factor in (1.0, 2.0)
    ]
    for index in range(data.shape[0]):
        frame = data[index].astype(np.float64)
        bad = mask | ~np.isfinite(frame)
        if not bad.any():
            continue
        left = bad
        for kernel in kernels:
            left = _fill(frame, left, kernel)
            if not left.any():
                break
        if left.any():
            frame[left] = np.median(frame[~bad])
        data[index] = frame
    return data[0] if squeeze else data


def select_background(
    candidates: Sequence[MasterDark],
    *,
    dit: float,
    filter_combination: str,
    path: Path | None = None,
) -> MasterDark:
    """The calibration to subtract from an exposure: sky, else background, else dark.

    A sky or background must match the DIT (to 0.01 s) and the filter combination; a dark the
    DIT only.

    Raises
    ------
    CalibrationMismatchError
        Naming the exposure's file and ``DET SEQ1 DIT`` when none matches, with the DITs
        available.
    """
    for kind in _BACKGROUND_PREFERENCE:
        for candidate in candidates:
            if candidate.kind != kind or not same_dit(candidate.dit, dit):
                continue
            if kind != "dark" and candidate.filter_combination not in ("", filter_combination):
                continue
            return candidate
    available = sorted({f"{c.kind} {c.dit:g} s" for c in candidates}) or ["none"]
    raise CalibrationMismatchError(
        f"no sky, background or dark with DIT {dit:g} s (available: {', '.join(available)})",
        path=path,
        keyword=DIT_KEY,
    )


@dataclass(frozen=True, eq=False)
class PreprocessedExposure:
    """A calibrated exposure, split into its two fields.

    Attributes
    ----------
    data : numpy.ndarray, float32, shape (n, 2, ny, nx_field)
        One frame per DIT (or one for a collapsed cube), left field first, ADU per DIT.
    channels : (FilterChannel, FilterChannel)
        Filter (name, wavelength) of each field, from ``INS COMB IFLT``.
    times : astropy.time.Time, shape (n,)
        UTC of each frame (middle of its DIT, or of the cube).
    header : astropy.io.fits.Header
        Header of the raw file.
    path : pathlib.Path or None
        The raw file.
    dit : float
        Seconds.
    ndit : int
        DITs in the raw cube.
    collapsed : bool
        Whether ``data`` holds the mean of the cube.
    dpr_type : str
        ``DPR TYPE`` (``OBJECT``, ``OBJECT,CENTER``, ``OBJECT,FLUX``...).
    nd_filter : str
        ``INS4 FILT2 NAME``.
    filter_combination : str
        ``INS COMB IFLT``.
    background_kind : str or None
        What was subtracted (``sky``, ``background``, ``dark``), None for nothing.
    bad_pixel_count : int
        Pixels replaced in each frame (outside the dead regions).
    """

    data: Float32Array
    channels: tuple[FilterChannel, FilterChannel]
    times: Time
    header: fits.Header
    path: Path | None
    dit: float
    ndit: int
    collapsed: bool
    dpr_type: str
    nd_filter: str
    filter_combination: str
    background_kind: str | None
    bad_pixel_count: int

    @property
    def wavelengths_um(self) -> tuple[float, float]:
        """Central wavelength of each field."""
        return self.channels[0].wavelength_um, self.channels[1].wavelength_um


def _check_calibrations(
    exposure: RawExposure, background: MasterDark | None, flat: DetectorFlat | None
) -> None:
    path = exposure.path
    if background is not None:
        if not same_dit(background.dit, exposure.dit):
            raise CalibrationMismatchError(
                f"DIT {exposure.dit:g} s but the {background.kind} has DIT {background.dit:g} s",
                path=path,
                keyword=DIT_KEY,
            )
        if (
            background.kind != "dark"
            and background.filter_combination
            and background.filter_combination != exposure.filter_combination
        ):
            raise CalibrationMismatchError(
                f"filter {exposure.filter_combination!r} but the {background.kind} was taken "
                f"with {background.filter_combination!r}",
                path=path,
                keyword=FILTER_KEY,
            )
        if background.image.shape != exposure.shape:
            raise CalibrationMismatchError(
                f"frame shape {exposure.shape} but the {background.kind} is "
                f"{background.image.shape}",
                path=path,
            )
    if flat is not None:
        if flat.filter_combination and flat.filter_combination != exposure.filter_combination:
            raise CalibrationMismatchError(
                f"filter {exposure.filter_combination!r} but the flat was taken with "
                f"{flat.filter_combination!r}",
                path=path,
                keyword=FILTER_KEY,
            )
        if flat.flat.shape != exposure.shape:
            raise CalibrationMismatchError(
                f"frame shape {exposure.shape} but the flat is {flat.flat.shape}", path=path
            )


def preprocess_exposure(
    exposure: RawExposure,
    *,
    background: MasterDark | None,
    flat: DetectorFlat | None,
    bad_pixels: npt.ArrayLike | None = None,
    collapse: bool = False,
    kernel_sigma: float = 1.0,
) -> PreprocessedExposure:
    """Calibrate one raw IRDIS exposure and split it into its two fields.

    Parameters
    ----------
    exposure : RawExposure
        Science, star-centre or flux exposure (see :func:`~hcdc_kernel.sphere.read_exposure`).
    background : MasterDark or None
        Sky, background or dark of the exposure's DIT (see :func:`select_background`);
        None subtracts nothing.
    flat : DetectorFlat or None
        Detector flat of the exposure's filter combination; None divides by nothing.
    bad_pixels : array_like of bool, optional
        Further bad pixels; those of ``background`` and ``flat`` are always corrected.
    collapse : bool
        Average the DITs of the cube into one frame (star-centre and flux exposures usually).
    kernel_sigma : float
        Width of the bad-pixel interpolation kernel (see :func:`correct_bad_pixels`).

    Returns
    -------
    PreprocessedExposure

    Raises
    ------
    CalibrationMismatchError
        Naming the file and keyword when the background's DIT or filter, or the flat's filter,
        differs from the exposure's, or the shapes differ.
    KeywordError
        Naming the file and ``INS COMB IFLT`` when the filter combination is unknown.
    """
    _check_calibrations(exposure, background, flat)
    try:
        channels = filter_channels(exposure.filter_combination)
    except ValueError as error:
        raise KeywordError(str(error), path=exposure.path, keyword=FILTER_KEY) from None
    data: Float32Array = exposure.data.astype(np.float32)
    if collapse:
        data = data.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    maps: list[npt.ArrayLike] = [np.zeros(exposure.shape, dtype=bool)]
    if background is not None:
        data = np.subtract(data, background.image, dtype=np.float32)
        maps.append(background.bad_pixels)
    if flat is not None:
        data = np.divide(data, flat.flat, dtype=np.float32)
        maps.append(flat.bad_pixels)
    if bad_pixels is not None:
        maps.append(bad_pixels)
    dead = dead_regions(exposure.shape)
    bad = combine_bad_pixels(*maps) & ~dead
    data = correct_bad_pixels(data, bad, kernel_sigma=kernel_sigma)
    data[:, dead] = 0.0
    return PreprocessedExposure(
        data=split_fields(data),
        channels=channels,
        times=frame_times(exposure.header, path=exposure.path, collapse=collapse),
        header=exposure.header,
        path=exposure.path,
        dit=exposure.dit,
        ndit=exposure.ndit,
        collapsed=collapse,
        dpr_type=exposure.dpr_type,
        nd_filter=exposure.nd_filter,
        filter_combination=exposure.filter_combination,
        background_kind=None if background is None else background.kind,
        bad_pixel_count=int(bad.sum()),
    )
