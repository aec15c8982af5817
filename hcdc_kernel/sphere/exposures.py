"""Raw IRDIS exposures: the data cube and the header keywords the reduction reads.

An IRDIS raw file holds one exposure: a cube of ``DET NDIT`` frames of ``DET SEQ1 DIT``
seconds each (or a single 2-D frame), with the two fields of view side by side
(Dohlen et al. 2008, SPIE 7014; ESO SPHERE User Manual). The keywords used are those the
SPHERE consortium's pipeline reads (Maire et al. 2016, SPIE 9908; the ``vlt-sphere`` package):
``DET SEQ1 DIT``, ``DET NDIT``, ``DET DITDELAY``, ``DET FRAM UTC``, ``DATE-OBS``,
``INS COMB IFLT`` (filter combination), ``INS4 FILT2 NAME`` (neutral density),
``DPR TYPE``, ``TEL PARANG START/END``, ``RA``, ``DEC``, ``LST``, ``INS4 DROT2 MODE/POSANG``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.sphere.errors import KeywordError, SphereDataError

__all__ = [
    "DIT_KEY",
    "FILTER_KEY",
    "NDIT_KEY",
    "ND_KEY",
    "HeaderLike",
    "RawExposure",
    "keyword_float",
    "keyword_text",
    "keyword_time",
    "read_exposure",
    "same_dit",
]

Float32Array = npt.NDArray[np.float32]
#: A FITS header, or any mapping of keyword to value.
HeaderLike: TypeAlias = fits.Header | Mapping[str, Any]

DIT_KEY = "HIERARCH ESO DET SEQ1 DIT"
NDIT_KEY = "HIERARCH ESO DET NDIT"
FILTER_KEY = "HIERARCH ESO INS COMB IFLT"
ND_KEY = "HIERARCH ESO INS4 FILT2 NAME"
DPR_TYPE_KEY = "HIERARCH ESO DPR TYPE"

#: DITs that agree to 0.01 s are the same setting (ESO's association rule, DOMAIN.md).
DIT_DECIMALS = 2


def keyword_float(
    header: HeaderLike,
    keyword: str,
    *,
    path: Path | None = None,
    default: float | None = None,
) -> float:
    """A finite numeric keyword value.

    Raises
    ------
    KeywordError
        When the keyword is absent (and no ``default`` is given) or not a finite number; the
        message names the file and the keyword.
    """
    if keyword not in header:
        if default is not None:
            return float(default)
        raise KeywordError("absent from the header", path=path, keyword=keyword)
    value = header[keyword]
    if isinstance(value, bool):
        raise KeywordError(f"expected a number, found {value!r}", path=path, keyword=keyword)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KeywordError(
            f"expected a number, found {value!r}", path=path, keyword=keyword
        ) from None
    if not math.isfinite(number):
        raise KeywordError(f"expected a finite number, found {value!r}", path=path, keyword=keyword)
    return number


def keyword_text(
    header: HeaderLike,
    keyword: str,
    *,
    path: Path | None = None,
    default: str | None = None,
) -> str:
    """A non-empty string keyword value (stripped)."""
    if keyword not in header:
        if default is not None:
            return default
        raise KeywordError("absent from the header", path=path, keyword=keyword)
    value = str(header[keyword]).strip()
    if not value:
        if default is not None:
            return default
        raise KeywordError("is empty", path=path, keyword=keyword)
    return value


def keyword_time(header: HeaderLike, keyword: str, *, path: Path | None = None) -> Time:
    """An ISO 8601 UTC date keyword (``DATE-OBS``, ``DET FRAM UTC``) as an astropy Time."""
    text = keyword_text(header, keyword, path=path)
    try:
        return Time(text, format="isot", scale="utc")
    except ValueError:
        raise KeywordError(
            f"expected an ISO 8601 date, found {text!r}", path=path, keyword=keyword
        ) from None


def same_dit(a: float, b: float) -> bool:
    """Whether two DITs are the same setting (equal to 0.01 s)."""
    return round(a, DIT_DECIMALS) == round(b, DIT_DECIMALS)


@dataclass(frozen=True, eq=False)
class RawExposure:
    """One raw IRDIS file: its frames and header.

    Attributes
    ----------
    data : numpy.ndarray, shape (ndit, ny, nx), float32
        The frames, in ADU, both fields side by side.
    header : astropy.io.fits.Header
        Primary header.
    path : pathlib.Path or None
        Where it was read from (named in error messages).
    dit : float
        ``DET SEQ1 DIT``, seconds.
    ndit : int
        Number of frames in ``data`` (``DET NDIT`` when the file holds a cube).
    filter_combination : str
        ``INS COMB IFLT`` (e.g. ``DB_H23``); ``""`` when absent (some dark headers).
    nd_filter : str
        ``INS4 FILT2 NAME`` (e.g. ``ND_1.0``); ``"OPEN"`` when absent.
    dpr_type : str
        ``DPR TYPE`` (e.g. ``OBJECT,CENTER``).
    """

    data: Float32Array
    header: fits.Header
    path: Path | None
    dit: float
    ndit: int
    filter_combination: str
    nd_filter: str
    dpr_type: str

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape ``(ny, nx)``."""
        _, ny, nx = self.data.shape
        return ny, nx

    @classmethod
    def from_array(
        cls, data: npt.ArrayLike, header: fits.Header, *, path: Path | None = None
    ) -> RawExposure:
        """Wrap frames and a header, checking the keywords the reduction needs.

        Raises
        ------
        KeywordError
            When ``DET SEQ1 DIT`` is absent or corrupt, or ``DET NDIT`` disagrees with a cube.
        SphereDataError
            When the data are not a frame or a cube.
        """
        cube = np.asarray(data, dtype=np.float32)
        if cube.ndim == 2:
            cube = cube[None]
        if cube.ndim != 3:
            raise SphereDataError(f"expected a frame or a cube, got shape {cube.shape}", path=path)
        dit = keyword_float(header, DIT_KEY, path=path)
        if dit <= 0:
            raise KeywordError(f"DIT must be positive, found {dit}", path=path, keyword=DIT_KEY)
        ndit = cube.shape[0]
        if cube.shape[0] > 1 and NDIT_KEY in header:
            declared = keyword_float(header, NDIT_KEY, path=path)
            if int(declared) != ndit:
                raise KeywordError(
                    f"says {int(declared)} frames but the cube holds {ndit}",
                    path=path,
                    keyword=NDIT_KEY,
                )
        return cls(
            data=cube,
            header=header,
            path=path,
            dit=dit,
            ndit=ndit,
            filter_combination=keyword_text(header, FILTER_KEY, path=path, default=""),
            nd_filter=keyword_text(header, ND_KEY, path=path, default="OPEN"),
            dpr_type=keyword_text(header, DPR_TYPE_KEY, path=path, default=""),
        )


def read_exposure(path: Path | str) -> RawExposure:
    """Read one raw IRDIS file (primary HDU).

    Parameters
    ----------
    path : pathlib.Path or str
        The FITS file.

    Returns
    -------
    RawExposure
    """
    path = Path(path)
    with fits.open(path, memmap=False) as hdul:
        header = hdul[0].header.copy()
        data = hdul[0].data
        if data is None:
            raise SphereDataError("the primary HDU holds no image", path=path)
        cube = np.array(data, dtype=np.float32)
    return RawExposure.from_array(cube, header, path=path)
