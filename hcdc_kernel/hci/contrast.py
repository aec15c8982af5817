"""Contrast curves: detection limits against separation.

The n-sigma contrast at separation r is

    C(r) = sigma_eff(r) * N(r) / (T(r) * F_star),

with ``N`` the standard deviation of 1xFWHM-aperture fluxes around an annulus
of the PSF-subtracted image without companions, ``T`` the algorithm
throughput measured by injecting fake companions (several patterns and
branches, each processed by the same algorithm), ``F_star`` the star flux in
the same aperture (from the off-axis PSF) and ``sigma_eff`` the threshold
corrected for small-sample statistics with Student's t distribution
(Mawet et al. 2014, ApJ 792, 97). The sampling, injection patterns and
smoothing are those of vip-hci's ``contrast_curve`` (Gomez Gonzalez et al.
2017, AJ 154, 7) so that the curves can be compared.

Work is shared where it can be: the companion-free image is processed once
and feeds both the noise curve and every throughput measurement, all
companions of a pattern are injected with one batched Fourier shift, and the
aperture photometry of all annuli is one vectorised call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.interpolate import InterpolatedUnivariateSpline
from scipy.signal import savgol_filter

from hcdc_kernel.hci.adi import AdiResult, adi_median, pca_annular, pca_full_frame
from hcdc_kernel.hci.fakes import (
    companion_map,
    companion_xy,
    inject_companions,
    normalize_psf,
    psf_aperture_flux,
)
from hcdc_kernel.hci.rotation import frame_center
from hcdc_kernel.hci.snr import aperture_sums
from hcdc_kernel.hci.validation import adi_inputs

__all__ = [
    "ALGORITHMS",
    "ContrastCurveResult",
    "NoiseProfile",
    "contrast_curve",
    "noise_per_annulus",
    "student_sigma",
]

#: Post-processing algorithms usable in a contrast curve, by name.
ALGORITHMS: dict[str, Callable[..., AdiResult]] = {
    "adi_median": adi_median,
    "pca_full_frame": pca_full_frame,
    "pca_annular": pca_annular,
}


@dataclass(frozen=True, eq=False)
class NoiseProfile:
    """Aperture statistics per annulus of an image.

    Attributes
    ----------
    separation_px : numpy.ndarray
        Annulus radii in pixels.
    noise : numpy.ndarray
        Standard deviation (ddof=0) of the aperture fluxes of each annulus.
    mean : numpy.ndarray
        Mean aperture flux of each annulus.
    """

    separation_px: NDArray[np.float64]
    noise: NDArray[np.float64]
    mean: NDArray[np.float64]


def noise_per_annulus(
    image: ArrayLike, *, separation: float, fwhm: float, init_rad: float | None = None
) -> NoiseProfile:
    """Noise of 1xFWHM apertures in concentric annuli, as vip-hci's ``noise_per_annulus``.

    Annuli start at ``init_rad`` (one FWHM by default) and are ``separation``
    pixels apart; on each, ``int(2 pi r / fwhm)`` apertures are placed every
    ``360 fwhm / (2 pi r)`` degrees from the +x axis.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {data.shape}")
    start = fwhm if init_rad is None else init_rad
    cy, cx = frame_center(data.shape)
    n_annuli = int(np.floor((cy - start) / separation)) - 1
    if n_annuli < 1:
        raise ValueError("the image is too small for one annulus at this separation")
    radii = start + separation * np.arange(n_annuli, dtype=np.float64)
    counts = ((2.0 * np.pi * radii) / fwhm).astype(np.int64)
    annulus = np.repeat(np.arange(n_annuli), counts)
    index = np.arange(annulus.size) - np.repeat(np.cumsum(counts) - counts, counts)
    step = 360.0 / ((2.0 * np.pi * radii) / fwhm)
    angle = np.deg2rad(step[annulus] * index)
    fluxes = aperture_sums(
        data,
        x=cx + radii[annulus] * np.cos(angle),
        y=cy + radii[annulus] * np.sin(angle),
        radius=fwhm / 2.0,
    )
    total = np.bincount(annulus, weights=fluxes, minlength=n_annuli)
    mean = total / counts
    var = np.bincount(annulus, weights=(fluxes - mean[annulus]) ** 2, minlength=n_annuli)
    return NoiseProfile(separation_px=radii, noise=np.sqrt(var / counts), mean=mean)


def student_sigma(sigma: float, separation_px: ArrayLike, fwhm: float) -> NDArray[np.float64]:
    """Threshold equivalent to a Gaussian ``sigma`` with few resolution elements.

    ``t_{n-1}^{-1}(Phi(sigma)) * sqrt(1 + 1/n)`` with ``n = floor(2 pi r / FWHM)``
    (Mawet et al. 2014, eq. 9-10).
    """
    n_res = np.floor(np.asarray(separation_px, dtype=np.float64) / fwhm * 2.0 * np.pi)
    corrected: NDArray[np.float64] = stats.t.ppf(stats.norm.cdf(sigma), n_res - 1) * np.sqrt(
        1.0 + 1.0 / n_res
    )
    return corrected


@dataclass(frozen=True, eq=False)
class ContrastCurveResult:
    """A contrast curve with everything needed to reproduce or compare it.

    Attributes
    ----------
    separation_px, separation_arcsec : numpy.ndarray
        Separations of the curve.
    contrast : numpy.ndarray
        Detection limit (flux ratio to the star) at ``sigma``, Student-corrected
        when ``student`` is true; values outside (0, 1] are set to 1 as vip-hci.
    contrast_gaussian : numpy.ndarray
        The limit with the Gaussian threshold ``sigma`` (no small-sample correction).
    throughput : numpy.ndarray
        Algorithm throughput interpolated at ``separation_px``.
    noise : numpy.ndarray
        (Smoothed) aperture-flux noise of the companion-free image.
    sigma : float
        Gaussian-equivalent confidence level.
    sigma_effective : numpy.ndarray
        Threshold applied to the noise at each separation.
    student : bool
        Whether the small-sample correction is applied.
    star_flux : float
        Star flux in a 1xFWHM aperture, in the cube's units.
    fwhm, pxscale : float
        FWHM (px) and pixel scale (arcsec/px).
    algorithm : str
        Algorithm name (a key of :data:`ALGORITHMS`).
    params : Mapping[str, Any]
        Algorithm parameters.
    injection : Mapping[str, Any]
        Fake-companion settings (branches, patterns, S/N, angles, ...).
    throughput_separation_px : numpy.ndarray
        Separations where the throughput was measured.
    throughput_measured : numpy.ndarray, shape (nbranch, n)
        Throughput measured on each branch.
    final_image : numpy.ndarray
        The companion-free processed image the noise was measured on.
    """

    separation_px: NDArray[np.float64]
    separation_arcsec: NDArray[np.float64]
    contrast: NDArray[np.float64]
    contrast_gaussian: NDArray[np.float64]
    throughput: NDArray[np.float64]
    noise: NDArray[np.float64]
    sigma: float
    sigma_effective: NDArray[np.float64]
    student: bool
    star_flux: float
    fwhm: float
    pxscale: float
    algorithm: str
    params: Mapping[str, Any]
    injection: Mapping[str, Any]
    throughput_separation_px: NDArray[np.float64]
    throughput_measured: NDArray[np.float64]
    final_image: NDArray[np.float64] = field(repr=False)


def _run(
    function: Callable[..., AdiResult],
    cube: NDArray[np.float64],
    angles: NDArray[np.float64],
    params: Mapping[str, Any],
) -> NDArray[np.float64]:
    return function(cube, angles, **params).final


def _limit(values: NDArray[np.float64]) -> NDArray[np.float64]:
    # A limit above 1 (or negative, from a null throughput) says nothing: 1, as vip-hci.
    out = values.copy()
    out[(out < 0) | (out > 1)] = 1.0
    return out


def contrast_curve(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    psf: ArrayLike,
    *,
    fwhm: float,
    pxscale: float,
    starphot: float | None = None,
    exposure_ratio: float = 1.0,
    algorithm: str,
    algo_params: Mapping[str, Any],
    sigma: float = 5.0,
    nbranch: int = 1,
    theta: float = 0.0,
    inner_rad: int = 1,
    fc_rad_sep: int = 3,
    noise_sep: float = 1.0,
    fc_snr: float = 100.0,
    student: bool = True,
    smooth: bool = True,
    interp_order: int = 2,
) -> ContrastCurveResult:
    """Compute the ``sigma`` contrast curve of a companion-free ADI cube.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube without (known) companions.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    psf : array_like, shape (s, s)
        Off-axis PSF in the units of the cube (normalised internally).
    fwhm : float
        FWHM in pixels.
    pxscale : float
        Pixel scale in arcsec/px.
    starphot : float, optional
        Star flux in a 1xFWHM aperture; measured on ``psf`` when not given.
    exposure_ratio : float
        Factor bringing the PSF photometry to the science frames (ratio of
        exposure times times any neutral-density transmission ratio).
    algorithm : {"adi_median", "pca_full_frame", "pca_annular"}
        Post-processing algorithm.
    algo_params : Mapping
        Its keyword parameters (``fwhm`` is added when the algorithm takes it).
        vip-hci's ``contrast_curve`` rotates frames with its Fourier method;
        ``interpolation="fft"`` reproduces its curves within a few per cent,
        while spline interpolation, which slightly smooths white noise, gives
        deeper limits where the residuals are noise dominated.
    sigma : float
        Gaussian-equivalent confidence level.
    nbranch : int
        Number of branches (directions) of injected companions, each processed
        separately.
    theta : float
        Direction of the first branch, degrees counter-clockwise from +x.
    inner_rad : int
        Innermost separation in FWHM (the first sampled radius is one FWHM).
    fc_rad_sep : int
        Companions of one pattern are ``fc_rad_sep`` radial samples apart;
        ``fc_rad_sep`` interleaved patterns cover every sample.
    noise_sep : float
        Radial sampling step (px) of the noise and throughput.
    fc_snr : float
        Flux of the fake companions, in units of the local noise.
    student : bool
        Apply the small-sample correction (Mawet et al. 2014).
    smooth : bool
        Smooth the noise curve with a Savitzky-Golay filter (order 2).
    interp_order : int
        Spline order for interpolating the throughput.

    Returns
    -------
    ContrastCurveResult
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    data, angles = adi_inputs(cube, angles_deg)
    psf_data = np.asarray(psf, dtype=np.float64)
    if psf_data.ndim != 2:
        raise ValueError(f"the PSF must be 2-D, got shape {psf_data.shape}")
    if nbranch < 1 or fc_rad_sep < 1 or inner_rad < 1:
        raise ValueError("nbranch, fc_rad_sep and inner_rad must be at least 1")
    function = ALGORITHMS[algorithm]
    params = dict(algo_params)
    if "fwhm" in inspect.signature(function).parameters and "fwhm" not in params:
        params["fwhm"] = float(fwhm)
    star_flux = (
        psf_aperture_flux(psf_data, fwhm=fwhm) if starphot is None else float(starphot)
    ) * float(exposure_ratio)
    if not star_flux > 0:
        raise ValueError("the star flux must be positive")

    # The companion-free image: processed once, used for the noise and every throughput.
    frame_nofc = _run(function, data, angles, params)
    profile = noise_per_annulus(frame_nofc, separation=noise_sep, fwhm=fwhm)
    radii = profile.separation_px[inner_rad - 1 :]
    noise = profile.noise[inner_rad - 1 :]

    size = round(3 * fwhm)
    size += 1 - size % 2
    psf_norm = normalize_psf(psf_data, fwhm=fwhm, size=min(size, min(psf_data.shape)))

    branch_step = 360.0 / nbranch
    throughput = np.zeros((nbranch, radii.shape[0]))
    ny, nx = frame_nofc.shape
    for branch in range(nbranch):
        pa = branch * branch_step + theta - 90.0
        for pattern in range(fc_rad_sep):
            seps = radii[pattern::fc_rad_sep]
            fluxes = fc_snr * noise[pattern::fc_rad_sep]
            cube_fc = inject_companions(data, psf_norm, angles, flux=fluxes, sep_px=seps, pa_deg=pa)
            frame_fc = _run(function, cube_fc, angles, params)
            # The injected signal as it would appear in the final image.
            fc_map = companion_map((ny, nx), psf_norm, flux=fluxes, sep_px=seps, pa_deg=pa)
            xs, ys = companion_xy(frame_nofc.shape, sep_px=seps, pa_deg=pa)
            injected = aperture_sums(fc_map, x=xs, y=ys, radius=fwhm / 2.0)
            recovered = aperture_sums(frame_fc - frame_nofc, x=xs, y=ys, radius=fwhm / 2.0)
            ratio = recovered / injected
            ratio[ratio < 0] = 0.0
            throughput[branch, pattern::fc_rad_sep] = ratio
    throughput_mean = np.nanmean(throughput, axis=0) if nbranch > 1 else throughput[0]

    # Keep the separations where the throughput was measured and apertures fit.
    radmax = min(int(radii.max()), int((nx - 1) // 2 - fwhm / 2))
    keep = radii.astype(int) <= radmax
    sep_px = radii[keep]
    noise_kept = noise[keep]
    spline = InterpolatedUnivariateSpline(radii, throughput_mean, k=interp_order)
    thru = spline(sep_px)
    if smooth and noise_kept.shape[0] > 3:
        window = min(noise_kept.shape[0] - 2, int(2 * fwhm))
        window += 1 - window % 2
        noise_kept = savgol_filter(noise_kept, polyorder=2, mode="nearest", window_length=window)
    gaussian = _limit(sigma * noise_kept / thru / star_flux)
    if student:
        sigma_eff = student_sigma(sigma, sep_px, fwhm)
        contrast = _limit(sigma_eff * noise_kept / thru / star_flux)
    else:
        sigma_eff = np.full_like(sep_px, sigma)
        contrast = gaussian
    injection = {
        "nbranch": int(nbranch),
        "theta_deg": float(theta),
        "inner_rad_fwhm": int(inner_rad),
        "fc_rad_sep": int(fc_rad_sep),
        "noise_sep_px": float(noise_sep),
        "fc_snr": float(fc_snr),
        "psf_size_px": int(psf_norm.shape[0]),
        "exposure_ratio": float(exposure_ratio),
        "smooth": bool(smooth),
        "interp_order": int(interp_order),
    }
    return ContrastCurveResult(
        separation_px=sep_px,
        separation_arcsec=sep_px * pxscale,
        contrast=contrast,
        contrast_gaussian=gaussian,
        throughput=thru,
        noise=noise_kept,
        sigma=float(sigma),
        sigma_effective=sigma_eff,
        student=bool(student),
        star_flux=star_flux,
        fwhm=float(fwhm),
        pxscale=float(pxscale),
        algorithm=algorithm,
        params=params,
        injection=injection,
        throughput_separation_px=radii,
        throughput_measured=throughput,
        final_image=frame_nofc,
    )
