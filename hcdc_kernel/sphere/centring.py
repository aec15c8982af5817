"""Star centre of IRDIS fields from waffle spots, and recentring of a sequence.

For star-centre frames (``DPR TYPE = OBJECT,CENTER``, hcdc's ``IRD_STAR_CENTER_RAW``) a
waffle pattern on SPHERE's deformable mirror makes four satellite spots symmetric about the
star hidden by the coronagraph (Langlois et al. 2013, Proc. AO4ELT3; Wertz et al. 2017, A&A
598, A83). In each field, each spot is fitted with a 2-D Gaussian and the star lies at the
intersection of the two diagonals joining opposite spots
(:func:`hcdc_kernel.hci.centering.waffle_centers`), as vlt-sphere's
``star_centers_from_waffle_img_cube`` does. The spots sit at a fixed separation in λ/D, which
vlt-sphere searches at 10√2 × 0.97 λ/(8 m), i.e. 14.06 λ/D for the 8.2 m pupil.

QC: the four spots of a perfect waffle form a square about the star; ``residual_px`` is the
RMS distance of the fitted spots from the best such square (0 for a perfect fit).

The star positions then apply to the coronagraphic sequence taken between star-centre frames
(the star stays behind the coronagraph): :func:`recentre_fields` shifts every frame so that
the star falls on the centre pixel of vip-hci's convention (``ny // 2``, ``nx // 2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hcdc_kernel.hci.centering import shift_frames, waffle_centers
from hcdc_kernel.sphere.filters import (
    IRDIS_PIXEL_SCALE_MAS,
    FilterChannel,
    lambda_over_d_px,
)
from hcdc_kernel.sphere.preprocessing import PreprocessedExposure, field_centre_guess

__all__ = [
    "IRDIS_WAFFLE_SEPARATION_LAMBDA_D",
    "ChannelCentre",
    "WaffleCentres",
    "exposure_star_centres",
    "recentre_fields",
    "waffle_star_centres",
]

FloatArray = npt.NDArray[np.float64]

#: Distance of IRDIS waffle spots from the star, in λ/D of the 8.2 m pupil (vlt-sphere).
IRDIS_WAFFLE_SEPARATION_LAMBDA_D = 10.0 * math.sqrt(2.0) * 0.97 * 8.2 / 8.0
#: Frames shifted together by :func:`recentre_fields`.
_CHUNK = 8
#: FWHM of a diffraction-limited core, in λ/D (VLT pupil with its central obscuration).
_FWHM_LAMBDA_D = 1.0


@dataclass(frozen=True, eq=False)
class ChannelCentre:
    """Star position in one field, from its four waffle spots.

    Attributes
    ----------
    name : str
        Filter of the field (e.g. ``H2``).
    wavelength_um : float
        Its central wavelength.
    x, y : float
        Star position, 0-based pixels of the field.
    spots : numpy.ndarray, shape (4, 2)
        Fitted (x, y) of the spots.
    separation_px : float
        Mean distance of the spots from the star.
    residual_px : float
        QC: RMS distance of the spots from the best square centred on the star.
    fwhm_px : float
        Mean FWHM of the spot fits.
    """

    name: str
    wavelength_um: float
    x: float
    y: float
    spots: FloatArray
    separation_px: float
    residual_px: float
    fwhm_px: float


@dataclass(frozen=True, eq=False)
class WaffleCentres:
    """Star position in both fields of a star-centre exposure."""

    channels: tuple[ChannelCentre, ChannelCentre]
    path: Path | None = None

    @property
    def xy(self) -> FloatArray:
        """(x, y) per field, shape (2, 2)."""
        return np.array([[c.x, c.y] for c in self.channels], dtype=np.float64)


def _square_residual(spots: FloatArray, centre: tuple[float, float]) -> tuple[float, float]:
    """Mean spot distance and RMS departure from a square about ``centre``."""
    vectors = spots - np.asarray(centre)
    order = np.argsort(np.arctan2(vectors[:, 1], vectors[:, 0]))
    vectors = vectors[order]
    rotated = np.empty_like(vectors)
    for k, (vx, vy) in enumerate(vectors):
        angle = -k * math.pi / 2.0
        c, s = math.cos(angle), math.sin(angle)
        rotated[k] = (c * vx - s * vy, s * vx + c * vy)
    mean = rotated.mean(axis=0)
    residual = float(np.sqrt(np.mean(np.sum((rotated - mean) ** 2, axis=1))))
    return float(np.mean(np.hypot(vectors[:, 0], vectors[:, 1]))), residual


def waffle_star_centres(
    fields: npt.ArrayLike,
    *,
    channels: tuple[FilterChannel, FilterChannel],
    guess: tuple[tuple[float, float], tuple[float, float]] | None = None,
    spot_separation_lambda_d: float = IRDIS_WAFFLE_SEPARATION_LAMBDA_D,
    pixel_scale_mas: float = IRDIS_PIXEL_SCALE_MAS,
) -> WaffleCentres:
    """Star position in each field from the waffle spots of star-centre frames.

    Parameters
    ----------
    fields : array_like, shape (n, 2, ny, nx) or (2, ny, nx)
        Pre-processed star-centre frames, both fields (frames of a cube are averaged).
    channels : (FilterChannel, FilterChannel)
        Filter of each field (sets λ/D, hence the spot separation and FWHM).
    guess : ((x, y), (x, y)), optional
        Approximate star position in each field; the field centres by default (the typical
        coronagraph positions for full 1024 × 1024 IRDIS fields).
    spot_separation_lambda_d : float
        Distance of the spots from the star in λ/D (``IRDIS_WAFFLE_SEPARATION_LAMBDA_D``);
        the spots are searched within ± 3 FWHM of it.
    pixel_scale_mas : float
        Plate scale.

    Returns
    -------
    WaffleCentres

    Raises
    ------
    ValueError
        When four spots cannot be found or fitted in a field.
    """
    data = np.asarray(fields, dtype=np.float64)
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[1] != 2:
        raise ValueError(f"expected frames of shape (n, 2, ny, nx), got {data.shape}")
    mean = data.mean(axis=0)
    ny, nx = mean.shape[1:]
    guesses = guess if guess is not None else field_centre_guess((ny, 2 * nx))
    result = []
    for index, channel in enumerate(channels):
        lod = lambda_over_d_px(channel.wavelength_um, pixel_scale_mas=pixel_scale_mas)
        try:
            found = waffle_centers(
                mean[index],
                fwhm=_FWHM_LAMBDA_D * lod,
                xy=guesses[index],
                spot_separation=spot_separation_lambda_d * lod,
            )
        except ValueError as error:
            raise ValueError(f"field {index} ({channel.name}): {error}") from error
        assert found.spots is not None
        spots = found.spots[0]
        x, y = float(found.x[0]), float(found.y[0])
        separation, residual = _square_residual(spots, (x, y))
        result.append(
            ChannelCentre(
                name=channel.name,
                wavelength_um=channel.wavelength_um,
                x=x,
                y=y,
                spots=spots,
                separation_px=separation,
                residual_px=residual,
                fwhm_px=float(found.fwhm[0]),
            )
        )
    return WaffleCentres(channels=(result[0], result[1]))


def exposure_star_centres(
    exposure: PreprocessedExposure,
    *,
    guess: tuple[tuple[float, float], tuple[float, float]] | None = None,
    spot_separation_lambda_d: float = IRDIS_WAFFLE_SEPARATION_LAMBDA_D,
) -> WaffleCentres:
    """:func:`waffle_star_centres` of a pre-processed star-centre exposure."""
    if "CENTER" not in exposure.dpr_type.upper():
        name = exposure.path.name if exposure.path is not None else "the exposure"
        raise ValueError(f"{name} is not a star-centre exposure (DPR TYPE {exposure.dpr_type!r})")
    centres = waffle_star_centres(
        exposure.data,
        channels=exposure.channels,
        guess=guess,
        spot_separation_lambda_d=spot_separation_lambda_d,
    )
    return WaffleCentres(channels=centres.channels, path=exposure.path)


def recentre_fields(
    fields: npt.ArrayLike, centres: WaffleCentres | npt.ArrayLike
) -> npt.NDArray[np.float32]:
    """Shift every frame of both fields so that the star is on the centre pixel.

    Parameters
    ----------
    fields : array_like, shape (n, 2, ny, nx)
        Pre-processed frames (e.g. the coronagraphic sequence).
    centres : WaffleCentres or array_like, shape (2, 2)
        Star (x, y) in each field, e.g. from the star-centre frames.

    Returns
    -------
    numpy.ndarray, shape (n, 2, ny, nx), float32
        Frames with the star at (``ny // 2``, ``nx // 2``) of each field (Fourier shift of the
        mirror-padded frame, a few frames at a time to bound the memory).
    """
    data = np.asarray(fields)
    if data.ndim != 4 or data.shape[1] != 2:
        raise ValueError(f"expected frames of shape (n, 2, ny, nx), got {data.shape}")
    xy = centres.xy if isinstance(centres, WaffleCentres) else np.asarray(centres, float)
    if xy.shape != (2, 2):
        raise ValueError(f"expected (x, y) for each of the 2 fields, got shape {xy.shape}")
    n, _, ny, nx = data.shape
    out = np.empty(data.shape, dtype=np.float32)
    for index in range(2):
        dx = nx // 2 - xy[index, 0]
        dy = ny // 2 - xy[index, 1]
        for start in range(0, n, _CHUNK):
            chunk = data[start : start + _CHUNK, index]
            m = chunk.shape[0]
            out[start : start + m, index] = shift_frames(
                chunk, dx=np.full(m, dx), dy=np.full(m, dy)
            )
    return out
