"""Off-axis PSF and star flux of IRDIS flux exposures, corrected for DIT and neutral density.

Flux exposures (``DPR TYPE = OBJECT,FLUX``, hcdc's ``IRD_FLUX_RAW``) image the star off the
coronagraph, usually through a neutral density (``INS4 FILT2 NAME``) and with a short DIT.
In each field the star is located by a 2-D Gaussian fit (which gives the FWHM), the local
background is the sigma-clipped median of an annulus, and the star flux is the aperture sum
(photutils, exact overlap), divided by the DIT and the ND transmission
(:func:`~hcdc_kernel.sphere.filters.nd_transmission`). The flux in an aperture of diameter one
FWHM is the normalisation of contrast curves and fake companions (Mawet et al. 2014, ApJ 792,
97; vip-hci's ``normalize_psf``, Gomez Gonzalez et al. 2017, AJ 154, 7); the flux within
``total_radius_lambda_d`` approximates the total stellar flux.

The PSF stamp is the background-subtracted image, Fourier-shifted so that the star falls on
its centre pixel and scaled to ADU/s without neutral density: multiplied by a science DIT it is
the unocculted star as the science frames would record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from astropy.stats import SigmaClip
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture
from photutils.aperture import aperture_photometry as _aperture_photometry
from scipy import ndimage

from hcdc_kernel.hci.centering import fit_profile, shift_frames
from hcdc_kernel.sphere.filters import (
    IRDIS_PIXEL_SCALE_MAS,
    FilterChannel,
    NdModel,
    lambda_over_d_px,
    nd_transmission,
)
from hcdc_kernel.sphere.preprocessing import PreprocessedExposure

__all__ = ["ChannelPsf", "OffAxisPsf", "exposure_off_axis_psf", "off_axis_psf"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ChannelPsf:
    """The unocculted star in one field.

    Attributes
    ----------
    name : str
        Filter of the field.
    wavelength_um : float
        Its central wavelength.
    x, y : float
        Fitted star position (0-based pixels of the field).
    fwhm_px : float
        FWHM of the Gaussian fit (mean of its two axes).
    aperture_flux_adu_s : float
        Star flux in an aperture of diameter ``fwhm_px``, ADU/s without neutral density.
    total_flux_adu_s : float
        Star flux within ``total_radius_px``, ADU/s without neutral density.
    total_radius_px : float
        Radius of the total-flux aperture.
    background_adu : float
        Sigma-clipped median of the background annulus, ADU per pixel per DIT (as measured).
    nd_transmission : float
        Neutral-density transmission divided out.
    psf : numpy.ndarray, shape (s, s)
        Background-subtracted PSF centred on the stamp's centre pixel, ADU/s without ND.
    """

    name: str
    wavelength_um: float
    x: float
    y: float
    fwhm_px: float
    aperture_flux_adu_s: float
    total_flux_adu_s: float
    total_radius_px: float
    background_adu: float
    nd_transmission: float
    psf: FloatArray


@dataclass(frozen=True, eq=False)
class OffAxisPsf:
    """Off-axis PSF and star flux in both fields of a flux exposure."""

    channels: tuple[ChannelPsf, ChannelPsf]
    dit: float
    nd_filter: str
    nd_model: NdModel
    path: Path | None = None

    def star_flux(self, dit: float) -> tuple[float, float]:
        """1×FWHM aperture flux of each field for frames of ``dit`` seconds (ADU per DIT)."""
        return (
            self.channels[0].aperture_flux_adu_s * dit,
            self.channels[1].aperture_flux_adu_s * dit,
        )


def _aperture_sum(image: FloatArray, x: float, y: float, radius: float) -> float:
    table = _aperture_photometry(image, CircularAperture((x, y), r=radius), method="exact")
    return float(table["aperture_sum"][0])


def _channel_psf(
    image: FloatArray,
    *,
    channel: FilterChannel,
    dit: float,
    transmission: float,
    pixel_scale_mas: float,
    total_radius_lambda_d: float,
    background_annulus_lambda_d: tuple[float, float],
    stamp_size: int | None,
) -> ChannelPsf:
    lod = lambda_over_d_px(channel.wavelength_um, pixel_scale_mas=pixel_scale_mas)
    smooth = ndimage.gaussian_filter(image, 1.0)
    iy, ix = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    fit = fit_profile(image, x=float(ix), y=float(iy), fwhm=lod, model="gaussian")
    if not fit.success:
        raise ValueError(f"field {channel.name}: the Gaussian fit of the star did not converge")
    x, y = fit.x, fit.y
    fwhm = 0.5 * (fit.fwhm_x + fit.fwhm_y)
    inner, outer = (r * lod for r in background_annulus_lambda_d)
    total_radius = total_radius_lambda_d * lod
    ny, nx = image.shape
    room = min(x, y, nx - 1 - x, ny - 1 - y)
    if outer > room or total_radius >= inner:
        raise ValueError(
            f"field {channel.name}: the background annulus ({inner:.1f}-{outer:.1f} px) must "
            f"lie outside the total-flux radius ({total_radius:.1f} px) and inside the field "
            f"({room:.1f} px from the star to the edge); reduce total_radius_lambda_d or "
            "background_annulus_lambda_d"
        )
    stats = ApertureStats(
        image,
        CircularAnnulus((x, y), r_in=inner, r_out=outer),
        sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
    )
    background = float(stats.median)
    clean = image - background
    scale = 1.0 / (dit * transmission)
    aperture_flux = _aperture_sum(clean, x, y, fwhm / 2.0) * scale
    total_flux = _aperture_sum(clean, x, y, total_radius) * scale
    side = stamp_size if stamp_size is not None else 2 * round(6.0 * lod) + 1
    side = min(side | 1, 2 * int(room) + 1)
    centred = shift_frames(clean[None], dx=np.array([nx // 2 - x]), dy=np.array([ny // 2 - y]))[0]
    half = side // 2
    stamp = centred[ny // 2 - half : ny // 2 + half + 1, nx // 2 - half : nx // 2 + half + 1]
    return ChannelPsf(
        name=channel.name,
        wavelength_um=channel.wavelength_um,
        x=x,
        y=y,
        fwhm_px=float(fwhm),
        aperture_flux_adu_s=aperture_flux,
        total_flux_adu_s=total_flux,
        total_radius_px=float(total_radius),
        background_adu=background,
        nd_transmission=transmission,
        psf=np.asarray(stamp * scale, dtype=np.float64),
    )


def off_axis_psf(
    fields: npt.ArrayLike,
    *,
    channels: tuple[FilterChannel, FilterChannel],
    dit: float,
    nd_filter: str,
    filter_combination: str,
    nd_model: NdModel = "measured",
    pixel_scale_mas: float = IRDIS_PIXEL_SCALE_MAS,
    total_radius_lambda_d: float = 12.0,
    background_annulus_lambda_d: tuple[float, float] = (14.0, 18.0),
    stamp_size: int | None = None,
) -> OffAxisPsf:
    """Off-axis PSF and star flux of each field of pre-processed flux frames.

    Parameters
    ----------
    fields : array_like, shape (n, 2, ny, nx) or (2, ny, nx)
        Pre-processed flux frames (ADU per DIT); frames of a cube are averaged.
    channels : (FilterChannel, FilterChannel)
        Filter of each field.
    dit : float
        DIT of the frames, seconds.
    nd_filter : str
        ``INS4 FILT2 NAME`` (``OPEN``, ``ND_1.0``, ``ND_2.0``, ``ND_3.5``).
    filter_combination : str
        ``INS COMB IFLT`` (the ND transmission depends on the filter).
    nd_model : {"measured", "nominal"}
        ND transmission from the measured curves or 10⁻ᴺᴰ.
    pixel_scale_mas : float
        Plate scale.
    total_radius_lambda_d : float
        Radius, in λ/D, of the aperture of the total flux.
    background_annulus_lambda_d : (float, float)
        Inner and outer radii, in λ/D, of the background annulus.
    stamp_size : int, optional
        Side of the PSF stamp (odd); about 12 λ/D by default.

    Returns
    -------
    OffAxisPsf
    """
    data = np.asarray(fields, dtype=np.float64)
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[1] != 2:
        raise ValueError(f"expected frames of shape (n, 2, ny, nx), got {data.shape}")
    if not dit > 0:
        raise ValueError(f"dit must be positive, got {dit}")
    if not np.isfinite(data).all():
        raise ValueError("the flux frames contain NaN or infinite values")
    transmissions = nd_transmission(nd_filter, filter_combination, model=nd_model)
    mean = data.mean(axis=0)
    result = tuple(
        _channel_psf(
            mean[index],
            channel=channel,
            dit=dit,
            transmission=transmissions[index],
            pixel_scale_mas=pixel_scale_mas,
            total_radius_lambda_d=total_radius_lambda_d,
            background_annulus_lambda_d=background_annulus_lambda_d,
            stamp_size=stamp_size,
        )
        for index, channel in enumerate(channels)
    )
    return OffAxisPsf(
        channels=(result[0], result[1]), dit=float(dit), nd_filter=nd_filter, nd_model=nd_model
    )


def exposure_off_axis_psf(
    exposure: PreprocessedExposure,
    *,
    nd_model: NdModel = "measured",
    total_radius_lambda_d: float = 12.0,
    background_annulus_lambda_d: tuple[float, float] = (14.0, 18.0),
    stamp_size: int | None = None,
) -> OffAxisPsf:
    """:func:`off_axis_psf` of a pre-processed flux exposure (DIT, ND and filter from it)."""
    if "FLUX" not in exposure.dpr_type.upper():
        name = exposure.path.name if exposure.path is not None else "the exposure"
        raise ValueError(f"{name} is not a flux exposure (DPR TYPE {exposure.dpr_type!r})")
    psf = off_axis_psf(
        exposure.data,
        channels=exposure.channels,
        dit=exposure.dit,
        nd_filter=exposure.nd_filter,
        filter_combination=exposure.filter_combination,
        nd_model=nd_model,
        total_radius_lambda_d=total_radius_lambda_d,
        background_annulus_lambda_d=background_annulus_lambda_d,
        stamp_size=stamp_size,
    )
    return OffAxisPsf(
        channels=psf.channels,
        dit=psf.dit,
        nd_filter=psf.nd_filter,
        nd_model=psf.nd_model,
        path=exposure.path,
    )
