"""Star position per frame and recentring of high-contrast imaging cubes.

Two ways to find the star behind a coronagraph:

* :func:`fit_star_core` fits a 2-D Gaussian or Moffat profile to the stellar
  core of each frame (a non-coronagraphic PSF, the leak of a Lyot
  coronagraph) or, with ``negative=True``, to the dark hole that a vortex
  coronagraph digs at the star position (the NACO AGPM data), as vip-hci's
  ``cube_recenter_2dfit(..., negative=True)`` does (Gomez Gonzalez et al.
  2017, AJ 154, 7).
* :func:`locate_star` chooses between the two with no first guess: on the
  median frame it looks for a dark hole enclosed by a brighter ring (a vortex
  or AGPM coronagraph, as NACO's L' data) near the frame centre, otherwise
  takes the stellar core; each frame is then fitted in a box suited to the
  feature (about 1.5 FWHM for a dark hole, 3 FWHM for a core), and a frame
  whose fit fails takes the median position of the others.
* :func:`waffle_centers` uses star-center frames, where a waffle pattern on
  the deformable mirror makes four satellite spots symmetric about the star
  (Langlois et al. 2013, Proc. AO4ELT3; Wertz et al. 2017, A&A 598, A83 for
  SPHERE/IRDIS): each spot is fitted with a 2-D Gaussian and the star lies at
  the intersection of the two diagonals joining opposite spots.

:func:`recenter_cube` then moves every frame so that the star falls on the
frame centre of vip-hci's convention (:func:`~hcdc_kernel.hci.rotation.frame_center`),
by a Fourier shift of the frame padded with its mirror image (vip-hci's
``imlib="vip-fft"``, ``border_mode="reflect"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, optimize
from skimage.feature import peak_local_max

from hcdc_kernel.hci.rotation import frame_center

__all__ = [
    "CoreModel",
    "ProfileFit",
    "StarCenters",
    "StarFeature",
    "diagonal_intersection",
    "find_star_feature",
    "fit_profile",
    "fit_star_core",
    "locate_star",
    "recenter_cube",
    "shift_frames",
    "waffle_centers",
]

CoreModel = Literal["gaussian", "moffat"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


@dataclass(frozen=True)
class ProfileFit:
    """A 2-D profile fitted to one sub-image.

    Attributes
    ----------
    x, y : float
        Centre in 0-based pixels of the full frame.
    amplitude : float
        Peak above the background (of the negated image for a dark hole).
    fwhm_x, fwhm_y : float
        FWHM (px) along the profile's own axes (equal for a Moffat).
    background : float
        Constant background of the fit.
    success : bool
        Whether the optimiser converged inside the fitting box.
    """

    x: float
    y: float
    amplitude: float
    fwhm_x: float
    fwhm_y: float
    background: float
    success: bool


@dataclass(frozen=True, eq=False)
class StarCenters:
    """Star position in every frame of a cube.

    Attributes
    ----------
    x, y : numpy.ndarray, shape (n_frames,)
        Star position (0-based pixels) in each frame.
    method : str
        ``"core_gaussian"``, ``"core_moffat"``, ``"dark_hole_gaussian"``...,
        or ``"waffle"``.
    frame_shape : tuple of int
        (ny, nx) of the frames.
    spots : numpy.ndarray, shape (n_frames, 4, 2), optional
        Fitted (x, y) of the satellite spots (waffle method only).
    fwhm : numpy.ndarray, shape (n_frames,)
        Mean FWHM (px) of the fitted profiles (mean over spots for waffles).
    fallback : tuple of int
        Frames whose fit failed and that took the median position of the others
        (:func:`locate_star` only).
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    method: str
    frame_shape: tuple[int, int]
    fwhm: NDArray[np.float64]
    spots: NDArray[np.float64] | None = None
    fallback: tuple[int, ...] = ()

    @property
    def shift_x(self) -> NDArray[np.float64]:
        """Shift along x (px) that brings the star to the frame centre."""
        result: NDArray[np.float64] = frame_center(self.frame_shape)[1] - self.x
        return result

    @property
    def shift_y(self) -> NDArray[np.float64]:
        """Shift along y (px) that brings the star to the frame centre."""
        result: NDArray[np.float64] = frame_center(self.frame_shape)[0] - self.y
        return result


def _gaussian(
    params: NDArray[np.float64], xx: NDArray[np.float64], yy: NDArray[np.float64]
) -> NDArray[np.float64]:
    amp, x0, y0, sx, sy, theta, bkg = params
    cos, sin = np.cos(theta), np.sin(theta)
    u = cos * (xx - x0) + sin * (yy - y0)
    v = -sin * (xx - x0) + cos * (yy - y0)
    result: NDArray[np.float64] = amp * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2)) + bkg
    return result


def _moffat(
    params: NDArray[np.float64], xx: NDArray[np.float64], yy: NDArray[np.float64]
) -> NDArray[np.float64]:
    amp, x0, y0, gamma, alpha, bkg = params
    r2 = ((xx - x0) ** 2 + (yy - y0) ** 2) / gamma**2
    result: NDArray[np.float64] = amp * (1.0 + r2) ** (-alpha) + bkg
    return result


def fit_profile(
    image: ArrayLike,
    *,
    x: float,
    y: float,
    fwhm: float,
    box: int | None = None,
    model: CoreModel = "gaussian",
    negative: bool = False,
) -> ProfileFit:
    """Fit a 2-D Gaussian or Moffat (plus a constant) in a box around (x, y).

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        The frame.
    x, y : float
        First guess of the centre (0-based pixels).
    fwhm : float
        First guess of the FWHM (px).
    box : int, optional
        Side of the fitting box (px); ``2 * round(1.5 * fwhm) + 1`` by default.
    model : {"gaussian", "moffat"}
        Profile. The Gaussian has free widths along two rotated axes.
    negative : bool
        Fit the negated image (a dark hole, e.g. the vortex coronagraph's).

    Returns
    -------
    ProfileFit
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"a frame must be 2-D, got shape {data.shape}")
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    side = int(box) if box is not None else 2 * round(1.5 * fwhm) + 1
    half = max(2, side // 2)
    ix, iy = round(x), round(y)
    y0, y1 = max(0, iy - half), min(data.shape[0], iy + half + 1)
    x0, x1 = max(0, ix - half), min(data.shape[1], ix + half + 1)
    sub = data[y0:y1, x0:x1]
    if sub.shape[0] < 5 or sub.shape[1] < 5:
        raise ValueError(f"the fitting box around ({x:.1f}, {y:.1f}) lies outside the frame")
    if not np.all(np.isfinite(sub)):
        raise ValueError(f"NaN or infinite values around ({x:.1f}, {y:.1f})")
    if negative:
        sub = -sub
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    bkg0 = float(np.median(np.concatenate([sub[0], sub[-1], sub[:, 0], sub[:, -1]])))
    amp0 = float(sub.max() - bkg0)
    scale = max(abs(amp0), float(np.std(sub)), 1e-30)
    sigma0 = fwhm / _FWHM_PER_SIGMA
    if model == "gaussian":
        p0 = np.array([amp0, x, y, sigma0, sigma0, 0.0, bkg0])
        lower = [0.0, x0 - 0.5, y0 - 0.5, 0.2, 0.2, -np.pi, -np.inf]
        upper = [np.inf, x1 - 0.5, y1 - 0.5, 2.0 * half, 2.0 * half, np.pi, np.inf]
        function = _gaussian
    elif model == "moffat":
        alpha0 = 2.5
        gamma0 = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / alpha0) - 1.0))
        p0 = np.array([amp0, x, y, gamma0, alpha0, bkg0])
        lower = [0.0, x0 - 0.5, y0 - 0.5, 0.1, 0.3, -np.inf]
        upper = [np.inf, x1 - 0.5, y1 - 0.5, 4.0 * half, 20.0, np.inf]
        function = _moffat
    else:
        raise ValueError(f"unknown model {model!r}; use 'gaussian' or 'moffat'")
    p0[0] = max(p0[0], 1e-12 * scale)
    p0 = np.clip(p0, np.array(lower) + 1e-9, np.array(upper) - 1e-9)

    def residuals(params: NDArray[np.float64]) -> NDArray[np.float64]:
        result: NDArray[np.float64] = ((function(params, xx, yy) - sub) / scale).ravel()
        return result

    fit = optimize.least_squares(residuals, p0, bounds=(lower, upper), method="trf")
    p = fit.x
    if model == "gaussian":
        fwhm_x, fwhm_y = p[3] * _FWHM_PER_SIGMA, p[4] * _FWHM_PER_SIGMA
    else:
        fwhm_x = fwhm_y = 2.0 * p[3] * np.sqrt(2.0 ** (1.0 / p[4]) - 1.0)
    inside = x0 <= p[1] <= x1 - 1 and y0 <= p[2] <= y1 - 1
    return ProfileFit(
        x=float(p[1]),
        y=float(p[2]),
        amplitude=float(p[0]),
        fwhm_x=float(fwhm_x),
        fwhm_y=float(fwhm_y),
        background=float(p[-1]),
        success=bool(fit.success and inside),
    )


def _check_cube(cube: ArrayLike) -> NDArray[np.float64]:
    data = np.asarray(cube, dtype=np.float64)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise ValueError(f"expected a frame or a cube, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("the cube contains NaN or infinite values")
    return data


def fit_star_core(
    cube: ArrayLike,
    *,
    fwhm: float,
    xy: tuple[float, float] | None = None,
    box: int | None = None,
    model: CoreModel = "gaussian",
    negative: bool = False,
) -> StarCenters:
    """Star position in each frame from a 2-D fit of the PSF core or dark hole.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx) or (ny, nx)
        Frames.
    fwhm : float
        FWHM guess (px).
    xy : (x, y), optional
        Approximate star position; the frame centre by default.
    box : int, optional
        Fitting box side (px), see :func:`fit_profile`.
    model : {"gaussian", "moffat"}
        Profile fitted.
    negative : bool
        Fit the dark hole of a vortex coronagraph (negated image), as
        vip-hci's ``cube_recenter_2dfit(..., negative=True)``.

    Returns
    -------
    StarCenters

    Raises
    ------
    ValueError
        When a fit fails or ends on the edge of its box.
    """
    data = _check_cube(cube)
    shape = (data.shape[1], data.shape[2])
    if xy is None:
        cy, cx = frame_center(shape)
        guess = (float(cx), float(cy))
    else:
        guess = (float(xy[0]), float(xy[1]))
    xs = np.empty(data.shape[0])
    ys = np.empty(data.shape[0])
    widths = np.empty(data.shape[0])
    for index, frame in enumerate(data):
        fit = fit_profile(
            frame, x=guess[0], y=guess[1], fwhm=fwhm, box=box, model=model, negative=negative
        )
        if not fit.success:
            raise ValueError(
                f"frame {index}: the {model} fit of the star did not converge inside its box"
            )
        xs[index], ys[index] = fit.x, fit.y
        widths[index] = 0.5 * (fit.fwhm_x + fit.fwhm_y)
    method = f"{'dark_hole' if negative else 'core'}_{model}"
    return StarCenters(x=xs, y=ys, method=method, frame_shape=shape, fwhm=widths)


@dataclass(frozen=True)
class StarFeature:
    """What marks the star on a frame and where, found without a first guess.

    Attributes
    ----------
    kind : {"core", "dark_hole"}
        A stellar core (a peak) or the dark hole of a vortex coronagraph.
    x, y : float
        Its pixel (0-based) on the smoothed frame.
    depth : float
        For a dark hole, the ring around it over its value, in its faintest direction
        (> 1); 0 for a core.
    """

    kind: Literal["core", "dark_hole"]
    x: float
    y: float
    depth: float


#: A dark hole is a local minimum at least this deep (faintest ring direction over the hole)...
_MIN_HOLE_DEPTH = 1.1
#: ... and dented by at least this fraction of the star's peak above the frame's median.
_MIN_HOLE_DENT = 0.1


def _enclosure(smooth: NDArray[np.float64], x: float, y: float, radius: float) -> float:
    """The ring around a minimum in its faintest direction: the lowest, over 16 directions,
    of the brightest value met within ``radius`` of (x, y)."""
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    radii = np.linspace(0.5, radius, max(4, int(np.ceil(2 * radius))))
    rx = x + radii[None, :] * np.cos(angles)[:, None]
    ry = y + radii[None, :] * np.sin(angles)[:, None]
    rays = ndimage.map_coordinates(smooth, [ry.ravel(), rx.ravel()], order=1, mode="nearest")
    return float(np.min(rays.reshape(angles.size, radii.size).max(axis=1)))


def find_star_feature(
    image: ArrayLike,
    *,
    fwhm: float,
    xy: tuple[float, float] | None = None,
    kind: Literal["auto", "core", "dark_hole"] = "auto",
) -> StarFeature:
    """The stellar core or coronagraphic dark hole nearest ``xy`` (the frame centre by default).

    The frame is smoothed over half an FWHM. A local minimum within 1.5 FWHM of ``xy``
    enclosed by a ring at least 1.1 times brighter in every direction (within 1.5 FWHM), and
    by at least a tenth of the peak's height above the frame's median, is a dark hole (a vortex
    coronagraph's, e.g. NACO's AGPM, Mawet et al. 2013); otherwise the star is the brightest
    pixel within 3 FWHM of ``xy``.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        A frame (e.g. the median of a cube).
    fwhm : float
        PSF FWHM (px).
    xy : (x, y), optional
        Where to look; the frame centre by default.
    kind : {"auto", "core", "dark_hole"}
        ``core`` or ``dark_hole`` look for that feature only (the deepest local minimum for a
        dark hole, however shallow).
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"a frame must be 2-D, got shape {data.shape}")
    if fwhm <= 0:
        raise ValueError("fwhm must be positive")
    if xy is None:
        cy, cx = frame_center(data.shape)
        x0, y0 = float(cx), float(cy)
    else:
        x0, y0 = float(xy[0]), float(xy[1])
    clean = np.where(np.isfinite(data), data, np.nanmedian(data))
    smooth = ndimage.gaussian_filter(clean, 0.5 * fwhm / _FWHM_PER_SIGMA)
    yy, xx = np.mgrid[: data.shape[0], : data.shape[1]]
    distance = np.hypot(xx - x0, yy - y0)
    region = np.where(distance <= 3.0 * fwhm, smooth, -np.inf)
    py, px = np.unravel_index(int(np.argmax(region)), region.shape)
    core = StarFeature("core", float(px), float(py), 0.0)
    if kind == "core":
        return core
    # A hole must be a sizeable dent in the star's light, not a dip of the noise.
    dent = _MIN_HOLE_DENT * (float(smooth[py, px]) - float(np.median(smooth)))
    size = max(3, round(fwhm) | 1)
    minima = (smooth == ndimage.minimum_filter(smooth, size=size)) & (distance <= 1.5 * fwhm)
    best: StarFeature | None = None
    for hy, hx in zip(*np.nonzero(minima), strict=True):
        value = float(smooth[hy, hx])
        ring = _enclosure(smooth, float(hx), float(hy), 1.5 * fwhm)
        depth = ring / value if value > 0 else (float(np.inf) if ring > value else 0.0)
        deep = depth >= _MIN_HOLE_DEPTH and ring - value >= dent
        if (deep or kind == "dark_hole") and (best is None or depth > best.depth):
            best = StarFeature("dark_hole", float(hx), float(hy), depth)
    if best is not None:
        return best
    if kind == "dark_hole":
        raise ValueError(f"no dark hole within {1.5 * fwhm:.1f} px of ({x0:.1f}, {y0:.1f})")
    return core


def locate_star(
    cube: ArrayLike,
    *,
    fwhm: float,
    xy: tuple[float, float] | None = None,
    box: int | None = None,
    model: CoreModel = "gaussian",
    kind: Literal["auto", "core", "dark_hole"] = "auto",
) -> StarCenters:
    """Star position in each frame, core or dark hole, with no first guess needed.

    The feature (and, with ``kind="auto"``, its kind) is found on the median frame by
    :func:`find_star_feature`; every frame is then fitted there (:func:`fit_profile`, the dark
    hole negated as vip-hci's ``cube_recenter_2dfit(..., negative=True)``) in a box of
    ``2 round(0.75 fwhm) + 1`` px for a dark hole (the ring around it stays out) or
    ``2 round(1.5 fwhm) + 1`` px for a core. A frame whose fit fails or ends more than one
    FWHM from the feature takes the median position of the others (listed in ``fallback``).

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx) or (ny, nx)
        Frames.
    fwhm : float
        PSF FWHM (px).
    xy : (x, y), optional
        Where to look; the frame centre by default.
    box : int, optional
        Fitting box side (px), overriding the default above.
    model : {"gaussian", "moffat"}
        Profile fitted.
    kind : {"auto", "core", "dark_hole"}
        The feature to fit; ``auto`` decides from the median frame.

    Returns
    -------
    StarCenters

    Raises
    ------
    ValueError
        When no frame could be fitted.
    """
    data = _check_cube(cube)
    shape = (data.shape[1], data.shape[2])
    feature = find_star_feature(np.median(data, axis=0), fwhm=fwhm, xy=xy, kind=kind)
    negative = feature.kind == "dark_hole"
    side = box or (2 * round((0.75 if negative else 1.5) * fwhm) + 1)
    side = max(int(side), 5)
    n = data.shape[0]
    xs, ys, widths = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for index, frame in enumerate(data):
        try:
            fit = fit_profile(
                frame,
                x=feature.x,
                y=feature.y,
                fwhm=fwhm,
                box=side,
                model=model,
                negative=negative,
            )
        except ValueError:
            continue
        if fit.success and np.hypot(fit.x - feature.x, fit.y - feature.y) <= fwhm:
            xs[index], ys[index] = fit.x, fit.y
            widths[index] = 0.5 * (fit.fwhm_x + fit.fwhm_y)
    failed = tuple(int(i) for i in np.flatnonzero(~np.isfinite(xs)))
    if len(failed) == n:
        where = "dark hole" if negative else "stellar core"
        raise ValueError(
            f"the {model} fit of the {where} near ({feature.x:.1f}, {feature.y:.1f}) failed in "
            "every frame; give the star position (x, y) or a fitting box"
        )
    if failed:
        xs[list(failed)] = np.nanmedian(xs)
        ys[list(failed)] = np.nanmedian(ys)
        widths[list(failed)] = np.nanmedian(widths)
    method = f"{'dark_hole' if negative else 'core'}_{model}"
    return StarCenters(x=xs, y=ys, method=method, frame_shape=shape, fwhm=widths, fallback=failed)


def diagonal_intersection(spots: ArrayLike) -> tuple[float, float]:
    """Intersection of the diagonals of a quadrilateral of four spots.

    The diagonals join opposite spots; they are found as the pairing of the
    four points whose two segments are together the longest.

    Parameters
    ----------
    spots : array_like, shape (4, 2)
        (x, y) of the four spots, in any order.

    Returns
    -------
    (x, y) : tuple of float
    """
    points = np.asarray(spots, dtype=np.float64)
    if points.shape != (4, 2):
        raise ValueError(f"four (x, y) spots are needed, got shape {points.shape}")
    pairings = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]

    def length(pair: tuple[int, int]) -> float:
        return float(np.hypot(*(points[pair[0]] - points[pair[1]])))

    (a, c), (b, d) = max(pairings, key=lambda p: length(p[0]) + length(p[1]))
    p, r = points[a], points[c] - points[a]
    q, s = points[b], points[d] - points[b]
    cross = r[0] * s[1] - r[1] * s[0]
    if abs(cross) < 1e-12 * max(1.0, float(np.dot(r, r))):
        raise ValueError("the diagonals of the spots are parallel")
    t = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / cross
    centre = p + t * r
    return float(centre[0]), float(centre[1])


def _find_spots(
    frame: NDArray[np.float64],
    *,
    fwhm: float,
    guess: tuple[float, float],
    radius: tuple[float, float],
) -> NDArray[np.float64]:
    """Four brightest local maxima of a smoothed frame in an annulus around ``guess``."""
    smooth = ndimage.gaussian_filter(frame, fwhm / _FWHM_PER_SIGMA)
    yy, xx = np.mgrid[: frame.shape[0], : frame.shape[1]]
    sep = np.hypot(xx - guess[0], yy - guess[1])
    masked = np.where((sep >= radius[0]) & (sep <= radius[1]), smooth, np.min(smooth))
    peaks = peak_local_max(
        masked, min_distance=max(1, int(2 * fwhm)), num_peaks=4, exclude_border=False
    )
    if peaks.shape[0] < 4:
        raise ValueError(f"found {peaks.shape[0]} satellite spots instead of 4")
    return peaks[:, ::-1].astype(np.float64)


def waffle_centers(
    cube: ArrayLike,
    *,
    fwhm: float,
    xy: tuple[float, float] | None = None,
    spot_separation: float | None = None,
    box: int | None = None,
) -> StarCenters:
    """Star position from the four satellite spots of star-center frames.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx) or (ny, nx)
        Star-center (waffle) frames.
    fwhm : float
        FWHM guess (px) of the spots.
    xy : (x, y), optional
        Approximate star position; the frame centre by default.
    spot_separation : float, optional
        Approximate distance (px) of the spots from the star; the spots are
        then searched within ``spot_separation +- 3 fwhm``, otherwise anywhere
        beyond ``3 fwhm`` from ``xy``.
    box : int, optional
        Fitting box side for each spot (px).

    Returns
    -------
    StarCenters
        With ``spots`` holding the fitted spot positions.
    """
    data = _check_cube(cube)
    shape = (data.shape[1], data.shape[2])
    if xy is None:
        cy, cx = frame_center(shape)
        guess = (float(cx), float(cy))
    else:
        guess = (float(xy[0]), float(xy[1]))
    if spot_separation is None:
        radius = (3.0 * fwhm, float(np.hypot(*shape)))
    else:
        radius = (max(0.0, spot_separation - 3.0 * fwhm), spot_separation + 3.0 * fwhm)
    n = data.shape[0]
    xs, ys, widths = np.empty(n), np.empty(n), np.empty(n)
    spots = np.empty((n, 4, 2))
    for index, frame in enumerate(data):
        found = _find_spots(frame, fwhm=fwhm, guess=guess, radius=radius)
        frame_widths = []
        for k, (sx, sy) in enumerate(found):
            fit = fit_profile(frame, x=sx, y=sy, fwhm=fwhm, box=box, model="gaussian")
            if not fit.success:
                raise ValueError(f"frame {index}: the fit of satellite spot {k} did not converge")
            spots[index, k] = (fit.x, fit.y)
            frame_widths.append(0.5 * (fit.fwhm_x + fit.fwhm_y))
        xs[index], ys[index] = diagonal_intersection(spots[index])
        widths[index] = float(np.mean(frame_widths))
    return StarCenters(x=xs, y=ys, method="waffle", frame_shape=shape, fwhm=widths, spots=spots)


def shift_frames(cube: ArrayLike, *, dx: ArrayLike, dy: ArrayLike) -> NDArray[np.float64]:
    """Shift each frame by sub-pixel amounts with a Fourier shift.

    The frame is padded with its mirror image before the shift so that what
    leaves one edge does not come back at the other (vip-hci's ``frame_shift``
    with ``imlib="vip-fft"`` and ``border_mode="reflect"``).

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Frames.
    dx, dy : array_like, shape (n_frames,)
        Shifts in pixels (positive moves the content to larger indices).

    Returns
    -------
    numpy.ndarray, shape (n_frames, ny, nx)
    """
    data = _check_cube(cube)
    n, ny, nx = data.shape
    sx = np.broadcast_to(np.asarray(dx, dtype=np.float64).reshape(-1), (n,))
    sy = np.broadcast_to(np.asarray(dy, dtype=np.float64).reshape(-1), (n,))
    pad = int(np.ceil(max(float(np.max(np.abs(sx))), float(np.max(np.abs(sy)))))) + 2
    pad = min(pad, ny - 1, nx - 1)
    padded = np.pad(data, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    fy = np.fft.fftfreq(padded.shape[1])
    fx = np.fft.rfftfreq(padded.shape[2])
    spectrum = np.fft.rfft2(padded, axes=(1, 2))
    phase = np.exp(
        -2j
        * np.pi
        * (sy[:, None, None] * fy[None, :, None] + sx[:, None, None] * fx[None, None, :])
    )
    shifted: NDArray[np.float64] = np.fft.irfft2(spectrum * phase, s=padded.shape[1:], axes=(1, 2))
    return shifted[:, pad : pad + ny, pad : pad + nx]


def recenter_cube(cube: ArrayLike, centers: StarCenters) -> NDArray[np.float64]:
    """Move the star of every frame to the frame centre.

    Parameters
    ----------
    cube : array_like, shape (n_frames, ny, nx)
        Frames whose star positions ``centers`` gives (one position per frame,
        or a single position applied to all frames, e.g. from star-center
        frames taken before the science sequence).
    centers : StarCenters
        Star positions.

    Returns
    -------
    numpy.ndarray, shape (n_frames, ny, nx)
        The recentred cube (float64).
    """
    data = _check_cube(cube)
    if centers.frame_shape != data.shape[1:]:
        raise ValueError(
            f"the centres were measured on {centers.frame_shape} frames, the cube has "
            f"{data.shape[1:]} frames"
        )
    count = centers.x.shape[0]
    if count not in (1, data.shape[0]):
        raise ValueError(f"{count} star positions for a cube of {data.shape[0]} frames")
    return shift_frames(data, dx=centers.shift_x, dy=centers.shift_y)
