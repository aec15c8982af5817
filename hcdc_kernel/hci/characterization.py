"""Detection of point sources and their characterisation by negative fake companions.

Detection (:func:`detect_sources`) keeps the local maxima of an S/N map
(Mawet et al. 2014, ApJ 792, 97) above a threshold, one per source: maxima
closer than one FWHM are merged into the brightest.

Characterisation (:func:`negfc`) follows the negative fake companion (NEGFC)
technique (Marois et al. 2010, Proc. SPIE 7736; Lagrange et al. 2010,
Science 329, 57) as implemented in vip-hci's ``firstguess`` (Wertz et al.
2017, A&A 598, A83; Gomez Gonzalez et al. 2017, AJ 154, 7): a companion of
flux ``-f`` is injected at (r, theta) in the cube, the cube is processed by
PCA in an annulus around the companion, and the figure of merit

    chi2_r = sum_j (I_j - mu)^2 / sigma^2 / (N - 3)

over the N pixels of an aperture at the first-guess position is minimised,
first on a grid of fluxes, then with a Nelder-Mead simplex on (r, theta, f).
``mu`` and ``sigma`` are the mean and standard deviation of the residuals in
the annulus away from the companion (vip-hci's ``mu_sigma=True``).

Uncertainties (:class:`NegfcResult`) come from one of two MCMC-free estimates:

* ``"noise"`` (fast): the companion is removed with its best-fit parameters,
  the standard deviation ``sigma_ap`` of the 1xFWHM aperture fluxes at the
  same separation is measured in the processed image, and the throughput
  ``t`` is the ratio of the companion's aperture flux in the processed image
  to its fitted flux. Then ``flux_err = sigma_ap / t`` and the radial and
  tangential position errors are ``sqrt(2) sigma_psf / (S/N)`` with
  ``sigma_psf = FWHM / 2.355`` and ``S/N = t f / sigma_ap`` (the Cramer-Rao
  bound of a Gaussian PSF in white noise).
* ``"injection"``: the speckle-noise estimate of Wertz et al. 2017 (Sect.
  3.3): fake companions of the fitted flux are injected at the same
  separation at ``n_injections`` position angles in the companion-free cube,
  each is characterised by NEGFC, and the standard deviations of the offsets
  (radial, azimuthal, flux) are the uncertainties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from skimage.feature import peak_local_max

from hcdc_kernel.hci.adi import Collapse, principal_components
from hcdc_kernel.hci.fakes import inject_companions
from hcdc_kernel.hci.rotation import Interpolation, derotate_cube, frame_center
from hcdc_kernel.hci.snr import aperture_sums
from hcdc_kernel.hci.validation import adi_inputs

__all__ = [
    "Detection",
    "NegfcResult",
    "Uncertainty",
    "detect_sources",
    "merge_sources",
    "negfc",
    "pca_annulus",
    "polar_from_xy",
    "xy_from_polar",
]

Uncertainty = Literal["noise", "injection", "none"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def polar_from_xy(shape: tuple[int, ...], x: float, y: float) -> tuple[float, float]:
    """Separation (px) and position angle (deg, east of north) of (x, y) in a derotated frame."""
    cy, cx = frame_center(shape)
    dx, dy = float(x) - cx, float(y) - cy
    return float(np.hypot(dx, dy)), float(np.mod(np.degrees(np.arctan2(dy, dx)) - 90.0, 360.0))


def xy_from_polar(shape: tuple[int, ...], sep_px: float, pa_deg: float) -> tuple[float, float]:
    """(x, y) of a source at ``sep_px``, ``pa_deg`` (east of north, north up, east left)."""
    cy, cx = frame_center(shape)
    theta = np.deg2rad(pa_deg + 90.0)
    return float(cx + sep_px * np.cos(theta)), float(cy + sep_px * np.sin(theta))


@dataclass(frozen=True)
class Detection:
    """A local maximum of an S/N map above the detection threshold.

    Attributes
    ----------
    x, y : int
        Pixel of the maximum (0-based).
    snr : float
        S/N at the maximum.
    sep_px, pa_deg : float
        Separation (px) and position angle (deg, east of north).
    """

    x: int
    y: int
    snr: float
    sep_px: float
    pa_deg: float


def detect_sources(
    snr_image: ArrayLike,
    *,
    fwhm: float,
    threshold: float = 5.0,
    min_separation_px: float | None = None,
    max_separation_px: float | None = None,
) -> tuple[Detection, ...]:
    """Sources of an S/N map: local maxima above ``threshold``, one per source.

    Parameters
    ----------
    snr_image : array_like, shape (ny, nx)
        S/N map (e.g. :func:`hcdc_kernel.hci.snr.snr_map`), star at the frame centre.
    fwhm : float
        FWHM (px): maxima closer than this are one source (the brightest kept).
    threshold : float
        Detection threshold on the S/N.
    min_separation_px, max_separation_px : float, optional
        Separation range searched (px); by default from one FWHM to the edge.

    Returns
    -------
    tuple of Detection
        Sorted by decreasing S/N.
    """
    data = np.asarray(snr_image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"the S/N map must be 2-D, got shape {data.shape}")
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    clean = np.where(np.isfinite(data), data, -np.inf)
    cy, cx = frame_center(data.shape)
    yy, xx = np.mgrid[: data.shape[0], : data.shape[1]]
    sep = np.hypot(xx - cx, yy - cy)
    lower = fwhm if min_separation_px is None else min_separation_px
    upper = np.inf if max_separation_px is None else max_separation_px
    clean[(sep < lower) | (sep > upper)] = -np.inf
    if not np.any(clean > threshold):
        return ()
    peaks = peak_local_max(
        np.where(np.isfinite(clean), clean, np.nanmin(data) - 1.0),
        min_distance=1,
        threshold_abs=threshold,
        exclude_border=False,
    )
    order = np.argsort(-clean[peaks[:, 0], peaks[:, 1]], kind="stable")
    kept: list[Detection] = []
    for py, px in peaks[order]:
        if any(np.hypot(px - d.x, py - d.y) < fwhm for d in kept):
            continue
        sep_px, pa = polar_from_xy(data.shape, px, py)
        kept.append(
            Detection(x=int(px), y=int(py), snr=float(data[py, px]), sep_px=sep_px, pa_deg=pa)
        )
    return tuple(kept)


def merge_sources(
    x: ArrayLike, y: ArrayLike, snr: ArrayLike, *, min_distance: float
) -> tuple[int, ...]:
    """Indices of the sources kept when those closer than ``min_distance`` are one.

    Two local maxima of an S/N map more than one FWHM apart can still be the same companion
    (its two lobes, or a maximum of its wings): their NEGFC fits then converge to the same
    position. Going by decreasing S/N, a source is kept unless it lies within
    ``min_distance`` (px, one FWHM) of a source already kept.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Positions (px), e.g. the NEGFC fits.
    snr : array_like, shape (n,)
        S/N of each source (the higher wins).
    min_distance : float
        Sources closer than this are one.

    Returns
    -------
    tuple of int
        Indices of the kept sources, in decreasing S/N.
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    values = np.asarray(snr, dtype=np.float64).reshape(-1)
    if not xs.shape == ys.shape == values.shape:
        raise ValueError("x, y and snr must have the same length")
    kept: list[int] = []
    for index in np.argsort(-values, kind="stable"):
        if all(np.hypot(xs[index] - xs[k], ys[index] - ys[k]) >= min_distance for k in kept):
            kept.append(int(index))
    return tuple(kept)


def _annulus(shape: tuple[int, int], inner: float, outer: float) -> NDArray[np.bool_]:
    cy, cx = frame_center(shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(xx - cx, yy - cy)
    mask: NDArray[np.bool_] = (r >= inner) & (r < outer)
    return mask


def pca_annulus(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    *,
    ncomp: int,
    inner_radius: float,
    outer_radius: float,
    collapse: Collapse = "median",
    interpolation: Interpolation = "biquintic",
) -> NDArray[np.float64]:
    """PCA-ADI in one annulus, as vip-hci's ``pca_annulus``.

    The frames restricted to ``inner_radius <= r < outer_radius`` are
    projected on their first ``ncomp`` principal components (no mean
    subtraction), the residuals derotated and combined; pixels outside the
    annulus are zero.

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        The processed image.
    """
    data = np.asarray(cube, dtype=np.float64)
    angles = np.asarray(angles_deg, dtype=np.float64).reshape(-1)
    n, ny, nx = data.shape
    mask = _annulus((ny, nx), inner_radius, outer_radius)
    matrix = data[:, mask]
    components = principal_components(matrix, min(ncomp, n, matrix.shape[1]))
    residuals = np.zeros_like(data)
    residuals[:, mask] = matrix - (matrix @ components.T) @ components
    derotated = derotate_cube(residuals, angles, interpolation=interpolation)
    if collapse == "median":
        return np.median(derotated, axis=0)
    if collapse == "mean":
        return np.mean(derotated, axis=0)
    raise ValueError(f"unknown collapse {collapse!r}")


@dataclass(frozen=True, eq=False)
class NegfcResult:
    """Position and flux of a companion by negative fake companion.

    Attributes
    ----------
    x, y : float
        Position in the derotated frame (0-based pixels of the input frames).
    sep_px, pa_deg : float
        Separation (px) and position angle (deg, east of north).
    flux : float
        Flux in units of the normalised PSF (1xFWHM-aperture flux, cube units).
    sep_err, pa_err, flux_err : float
        1-sigma uncertainties (px, deg, flux units); NaN with ``uncertainty="none"``.
    snr : float
        S/N of the companion in the processed image (aperture flux over the
        aperture noise at its separation after the companion's removal).
    throughput : float
        Fraction of the companion's flux left in its aperture by the processing.
    chi2 : float
        Reduced figure of merit at the optimum.
    n_evaluations : int
        Evaluations of the figure of merit.
    uncertainty : str
        Method of the uncertainties.
    params : Mapping
        Settings of the fit.
    """

    x: float
    y: float
    sep_px: float
    pa_deg: float
    flux: float
    sep_err: float
    pa_err: float
    flux_err: float
    snr: float
    throughput: float
    chi2: float
    n_evaluations: int
    uncertainty: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Problem:
    """The cropped cube and fixed geometry of one NEGFC fit."""

    cube: NDArray[np.float64]
    angles: NDArray[np.float64]
    psf: NDArray[np.float64]
    fwhm: float
    ncomp: int
    inner: float
    outer: float
    aperture: NDArray[np.bool_]
    mu: float
    sigma: float
    collapse: Collapse
    interpolation: Interpolation
    evaluations: int = 0

    def processed(self, sep: float, pa: float, flux: float) -> NDArray[np.float64]:
        cube = self.cube
        if flux != 0.0:
            cube = inject_companions(cube, self.psf, self.angles, flux=-flux, sep_px=sep, pa_deg=pa)
        return pca_annulus(
            cube,
            self.angles,
            ncomp=self.ncomp,
            inner_radius=self.inner,
            outer_radius=self.outer,
            collapse=self.collapse,
            interpolation=self.interpolation,
        )

    def chi2(self, sep: float, pa: float, flux: float) -> float:
        self.evaluations += 1
        values = self.processed(sep, pa, flux)[self.aperture]
        dof = max(values.size - 3, 1)
        return float(np.sum((values - self.mu) ** 2) / self.sigma**2 / dof)


def _crop(cube: NDArray[np.float64], half: int) -> NDArray[np.float64]:
    """Frames cropped to ``2 half + 1`` px about the frame centre (centre kept)."""
    cy, cx = frame_center(cube.shape)
    half = min(half, cy, cx, cube.shape[1] - 1 - cy, cube.shape[2] - 1 - cx)
    return cube[:, cy - half : cy + half + 1, cx - half : cx + half + 1]


def _mu_sigma(
    image: NDArray[np.float64],
    *,
    inner: float,
    width: float,
    pa_deg: float,
    rotation: float,
    fwhm: float,
) -> tuple[float, float]:
    """Mean and deviation of residuals in an annulus, away from the companion (vip-hci)."""
    cy, cx = frame_center(image.shape)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    r = np.hypot(xx - cx, yy - cy)
    theta = np.mod(np.degrees(np.arctan2(yy - cy, xx - cx)), 360.0)
    theta0 = pa_deg + 90.0
    delta = min(rotation, 120.0)
    start = np.mod(theta0 + delta, 360.0)
    span = 360.0 - 2.0 * delta
    in_wedge = np.mod(theta - start, 360.0) <= span
    values = image[(r >= inner) & (r < inner + width) & in_wedge]
    if values.size < 3:
        raise ValueError("too few pixels away from the companion to estimate the noise")
    mu = float(values.mean())
    area = np.pi * (fwhm / 2.0) ** 2
    ddof = min(int(values.size * (1.0 - 1.0 / area)), values.size - 1)
    return mu, float(np.std(values - mu, ddof=ddof))


def _aperture_ring(
    image: NDArray[np.float64], *, sep: float, pa_deg: float, fwhm: float
) -> tuple[float, NDArray[np.float64]]:
    """Aperture flux at (sep, pa) and those of the other apertures at that separation."""
    count = int(np.floor(2.0 * np.pi * sep / fwhm))
    if count < 3:
        raise ValueError("the companion is too close to the star to estimate its noise")
    pas = pa_deg + np.arange(count) * 360.0 / count
    cy, cx = frame_center(image.shape)
    theta = np.deg2rad(pas + 90.0)
    fluxes = aperture_sums(
        image, x=cx + sep * np.cos(theta), y=cy + sep * np.sin(theta), radius=fwhm / 2.0
    )
    return float(fluxes[0]), fluxes[1:]


def _fit(
    problem: _Problem,
    *,
    sep0: float,
    pa0: float,
    flux_guess: float | None,
    max_evaluations: int,
) -> tuple[float, float, float, float]:
    """Grid over fluxes then simplex on (r, theta, f); returns (sep, pa, flux, chi2)."""
    if flux_guess is None or not flux_guess > 0:
        image = problem.processed(sep0, pa0, 0.0)
        measured, others = _aperture_ring(image, sep=sep0, pa_deg=pa0, fwhm=problem.fwhm)
        scale = max(measured - float(np.mean(others)), float(np.std(others)), 1e-12)
        grid = scale * np.geomspace(0.3, 10.0, 12)
        chis = [problem.chi2(sep0, pa0, float(f)) for f in grid]
        flux_guess = float(grid[int(np.argmin(chis))])
    # Variables scaled so that one unit is about one pixel (or the guessed flux).
    arc = max(sep0 * np.pi / 180.0, 1e-6)

    def objective(p: NDArray[np.float64]) -> float:
        return problem.chi2(float(p[0]), float(p[1]) / arc, float(p[2]) * flux_guess)

    start = np.array([sep0, pa0 * arc, 1.0])
    simplex = (
        start[None, :] + np.diag([0.5, 0.5, 0.1])[[0, 0, 1, 2]] * np.array([0, 1, 1, 1])[:, None]
    )
    result = optimize.minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={
            "initial_simplex": simplex,
            "xatol": 1e-3,
            "fatol": 1e-4,
            "maxfev": max_evaluations,
        },
    )
    sep, pa_scaled, flux_scaled = result.x
    return (
        float(sep),
        float(np.mod(pa_scaled / arc, 360.0)),
        float(flux_scaled * flux_guess),
        float(result.fun),
    )


def negfc(
    cube: ArrayLike,
    angles_deg: ArrayLike,
    psf: ArrayLike,
    *,
    x: float,
    y: float,
    fwhm: float,
    ncomp: int = 1,
    annulus_width: float | None = None,
    aperture_radius: float = 2.0,
    flux_guess: float | None = None,
    uncertainty: Uncertainty = "noise",
    n_injections: int = 8,
    collapse: Collapse = "median",
    interpolation: Interpolation = "biquintic",
    max_evaluations: int = 600,
) -> NegfcResult:
    """Position and flux of a point source by negative fake companion.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Centred ADI cube.
    angles_deg : array_like, shape (n_frames,)
        Parallactic angles in degrees.
    psf : array_like, shape (s, s)
        PSF normalised to unit flux in a 1xFWHM aperture
        (:func:`hcdc_kernel.hci.fakes.normalize_psf`), odd size.
    x, y : float
        First guess of the position in the derotated frame (e.g. the S/N peak).
    fwhm : float
        FWHM (px).
    ncomp : int
        Principal components of the annulus PCA.
    annulus_width : float, optional
        Width (px) of the PCA annulus centred on the companion; 4 FWHM by default.
    aperture_radius : float
        Radius, in FWHM, of the aperture where the residuals are minimised.
    flux_guess : float, optional
        First flux guess; from a grid search by default.
    uncertainty : {"noise", "injection", "none"}
        Uncertainty estimate (see the module notes).
    n_injections : int
        Fake companions injected for ``uncertainty="injection"``.
    collapse : {"median", "mean"}
        Combination of the derotated residuals.
    interpolation : str
        Rotation interpolation.
    max_evaluations : int
        Limit on the evaluations of the figure of merit per simplex.

    Returns
    -------
    NegfcResult

    References
    ----------
    Wertz et al. 2017, A&A 598, A83 (NEGFC and its uncertainties, VLT/SPHERE
    and NACO); Gomez Gonzalez et al. 2017, AJ 154, 7 (vip-hci).
    """
    data, angles = adi_inputs(cube, angles_deg)
    stamp = np.asarray(psf, dtype=np.float64)
    if fwhm <= 0 or aperture_radius <= 0:
        raise ValueError("fwhm and aperture_radius must be positive")
    width = 4.0 * fwhm if annulus_width is None else float(annulus_width)
    sep0, pa0 = polar_from_xy(data.shape, x, y)
    if sep0 < fwhm:
        raise ValueError(f"the source at ({x:.1f}, {y:.1f}) is closer than one FWHM to the star")
    inner = float(int(sep0 - width / 2.0))
    outer = float(int(sep0 + width / 2.0))
    room = min(frame_center(data.shape)[0], frame_center(data.shape)[1]) - 1
    # Near the edge of the field the annulus stops at the edge, as far as it holds the source.
    outer = min(outer, float(room))
    if outer - sep0 < fwhm / 2.0:
        raise ValueError(f"the source at ({x:.1f}, {y:.1f}) is too close to the frame edge")
    half = min(int(np.ceil(max(outer, sep0 + aperture_radius * fwhm))) + 2, room + 1)
    cropped = _crop(data, half)
    shape = cropped.shape[1:]
    xc, yc = xy_from_polar(shape, sep0, pa0)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    aperture = np.hypot(xx - xc, yy - yc) < aperture_radius * fwhm

    problem = _Problem(
        cube=cropped,
        angles=angles,
        psf=stamp,
        fwhm=float(fwhm),
        ncomp=int(ncomp),
        inner=inner,
        outer=outer,
        aperture=aperture,
        mu=0.0,
        sigma=1.0,
        collapse=collapse,
        interpolation=interpolation,
    )
    plain = problem.processed(sep0, pa0, 0.0)
    rotation = float(np.ptp(angles))
    problem.mu, problem.sigma = _mu_sigma(
        plain,
        inner=max(float(np.floor(sep0 - width / 2.0)), 0.0),
        width=min(width, 2.0 * fwhm),
        pa_deg=pa0,
        rotation=rotation,
        fwhm=fwhm,
    )
    if not problem.sigma > 0:
        raise ValueError("the residuals around the source have no variance")
    sep, pa, flux, chi2 = _fit(
        problem, sep0=sep0, pa0=pa0, flux_guess=flux_guess, max_evaluations=max_evaluations
    )

    removed = problem.processed(sep, pa, flux)
    with_companion = plain
    signal_with, _ = _aperture_ring(with_companion, sep=sep, pa_deg=pa, fwhm=fwhm)
    signal_without, others = _aperture_ring(removed, sep=sep, pa_deg=pa, fwhm=fwhm)
    noise = float(np.std(np.append(others, signal_without), ddof=1))
    throughput = (signal_with - signal_without) / flux if flux != 0 else float("nan")
    snr = throughput * flux / noise if noise > 0 else float("inf")

    sep_err = pa_err = flux_err = float("nan")
    if uncertainty == "noise":
        flux_err = noise / throughput if throughput > 0 else float("inf")
        position = np.sqrt(2.0) * (fwhm / _FWHM_PER_SIGMA) / snr if snr > 0 else float("inf")
        sep_err = float(position)
        pa_err = float(np.degrees(position / sep))
    elif uncertainty == "injection":
        sep_err, pa_err, flux_err = _injection_errors(
            problem, sep=sep, pa=pa, flux=flux, n=n_injections, max_evaluations=max_evaluations
        )
    elif uncertainty != "none":
        raise ValueError(f"unknown uncertainty {uncertainty!r}")

    x_fit, y_fit = xy_from_polar(data.shape, sep, pa)
    return NegfcResult(
        x=x_fit,
        y=y_fit,
        sep_px=sep,
        pa_deg=pa,
        flux=flux,
        sep_err=sep_err,
        pa_err=pa_err,
        flux_err=float(flux_err),
        snr=float(snr),
        throughput=float(throughput),
        chi2=chi2,
        n_evaluations=problem.evaluations,
        uncertainty=uncertainty,
        params={
            "ncomp": int(ncomp),
            "annulus_width": width,
            "aperture_radius": float(aperture_radius),
            "fwhm": float(fwhm),
            "collapse": collapse,
            "interpolation": interpolation,
            "mu": problem.mu,
            "sigma": problem.sigma,
            "first_guess": {"x": float(x), "y": float(y)},
            "n_injections": int(n_injections) if uncertainty == "injection" else 0,
        },
    )


def _injection_errors(
    problem: _Problem, *, sep: float, pa: float, flux: float, n: int, max_evaluations: int
) -> tuple[float, float, float]:
    """Speckle-noise uncertainties by injection and recovery (Wertz et al. 2017, Sect. 3.3)."""
    if n < 2:
        raise ValueError("n_injections must be at least 2")
    clean = inject_companions(
        problem.cube, problem.psf, problem.angles, flux=-flux, sep_px=sep, pa_deg=pa
    )
    # Position angles evenly spread, keeping two FWHM of arc clear of the companion.
    gap = np.degrees(2.0 * problem.fwhm / sep)
    pas = pa + gap + np.arange(n) * (360.0 - 2.0 * gap) / max(n - 1, 1)
    offsets = np.empty((n, 3))
    shape = (problem.cube.shape[1], problem.cube.shape[2])
    for k, pa_k in enumerate(pas):
        fake = inject_companions(
            clean, problem.psf, problem.angles, flux=flux, sep_px=sep, pa_deg=pa_k
        )
        xk, yk = xy_from_polar(shape, sep, float(pa_k))
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        aperture = np.hypot(xx - xk, yy - yk) < np.sqrt(problem.aperture.sum() / np.pi)
        trial = _Problem(
            cube=fake,
            angles=problem.angles,
            psf=problem.psf,
            fwhm=problem.fwhm,
            ncomp=problem.ncomp,
            inner=problem.inner,
            outer=problem.outer,
            aperture=aperture,
            mu=problem.mu,
            sigma=problem.sigma,
            collapse=problem.collapse,
            interpolation=problem.interpolation,
        )
        s_k, p_k, f_k, _ = _fit(
            trial, sep0=sep, pa0=float(pa_k), flux_guess=flux, max_evaluations=max_evaluations
        )
        problem.evaluations += trial.evaluations
        d_pa = (p_k - pa_k + 180.0) % 360.0 - 180.0
        offsets[k] = (s_k - sep, d_pa, f_k - flux)
    spread = np.sqrt(np.mean(offsets**2, axis=0))
    return float(spread[0]), float(spread[1]), float(spread[2])
