"""``ird_star_center``: the star position in each IRDIS field from the waffle spots.

Each star-centre exposure (``DPR TYPE = OBJECT,CENTER``) is calibrated and collapsed, then the
four satellite spots of each field are fitted and the star is where their diagonals cross
(:func:`hcdc_kernel.sphere.exposure_star_centres`, as vlt-sphere's
``star_centers_from_waffle_img_cube``). The spot distance from the star is a parameter in λ/D;
by default it is measured on the frame: the radius at which four compact spots stand out of the
halo in the directions of the waffle (``OCS WAFFLE ORIENT``: ``x`` on the diagonals, ``+`` on
the axes), so that the recipe serves the standard waffle (14.06 λ/D of the 8.2 m pupil for
IRDIS, vlt-sphere) and others alike.

The product is a table (one row per exposure and field: star position, offset from the field
centre, spot distance, the waffle fit residual) with the calibrated star-centre frame as its
image; ``ird_preprocess`` applies it to the coronagraphic sequence.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from astropy.table import Table
from scipy import ndimage

from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeError, RecipeRun, sphere_recipe
from hcdc_kernel.recipes.sphere.common import (
    BACKGROUND_SLOT,
    DARK_SLOT,
    FLAT_SLOT,
    KERNEL_PARAM,
    Calibrations,
)
from hcdc_kernel.recipes.sphere.io import table_hdu, write_product
from hcdc_kernel.sphere.centring import exposure_star_centres
from hcdc_kernel.sphere.exposures import FILTER_KEY
from hcdc_kernel.sphere.filters import lambda_over_d_px
from hcdc_kernel.sphere.preprocessing import PreprocessedExposure, field_centre_guess

__all__ = ["RECIPE", "STAR_CENTER_EXTENSION", "estimate_spot_separation"]

STAR_CENTER_EXTENSION = "STAR_CENTER"
WAFFLE_ORIENT_KEY = "HIERARCH ESO OCS WAFFLE ORIENT"


def _spot_score(
    image: npt.NDArray[np.float64],
    centre: tuple[float, float],
    radius: float,
    angles: tuple[float, ...],
    reach: int,
    level: float,
) -> float:
    """The faintest of the four spots at ``radius`` above ``level`` (the ring's mean).

    Each spot is the peak within ``reach`` px of its expected position.
    """
    ny, nx = image.shape
    peaks = []
    for angle in angles:
        x = centre[0] + radius * math.cos(angle)
        y = centre[1] + radius * math.sin(angle)
        ix, iy = round(x), round(y)
        if not (reach <= ix < nx - reach and reach <= iy < ny - reach):
            return -np.inf
        peaks.append(float(image[iy - reach : iy + reach + 1, ix - reach : ix + reach + 1].max()))
    return min(peaks) - level


def estimate_spot_separation(
    field: npt.ArrayLike,
    *,
    lambda_over_d: float,
    centre: tuple[float, float],
    orientation: str = "",
) -> float:
    """Distance (px) of the waffle spots from ``centre``, measured on a star-centre field.

    The field is band-passed (a difference of Gaussians of about 0.4 and 2 λ/D), then for each
    radius from 3 λ/D to the edge the four positions on the waffle's directions are looked at
    (the brightest pixel within 0.3 λ/D of each): the spots sit near the radius where the faintest
    of the four is brightest, at the mean distance of the brightest pixel within λ/D of each.

    Parameters
    ----------
    field : array_like, shape (ny, nx)
        A calibrated star-centre field.
    lambda_over_d : float
        λ/D in pixels at the field's wavelength.
    centre : (x, y)
        Approximate star position.
    orientation : str
        ``OCS WAFFLE ORIENT``: ``"x"`` (spots on the diagonals), ``"+"`` (on the axes), or
        ``""`` to try both.
    """
    image = np.asarray(field, dtype=np.float64)
    smooth = ndimage.gaussian_filter(image, 0.4 * lambda_over_d / 2.355)
    band = smooth - ndimage.gaussian_filter(image, 2.0 * lambda_over_d)
    reach = max(1, round(0.3 * lambda_over_d))
    ny, nx = image.shape
    room = min(centre[0], centre[1], nx - 1 - centre[0], ny - 1 - centre[1]) * math.sqrt(2.0)
    radii = np.arange(3.0 * lambda_over_d, room, 0.25)
    # Mean of each 1-px ring: a ring of light (coronagraph residue, AO control radius) is
    # bright in every direction, spots in four only.
    yy, xx = np.indices(image.shape)
    rings = np.rint(np.hypot(xx - centre[0], yy - centre[1])).astype(np.int64).ravel()
    counts = np.bincount(rings)
    profile = np.bincount(rings, weights=band.ravel()) / np.maximum(counts, 1)
    sets = {"x": (math.pi / 4,), "+": (0.0,)}.get(orientation.strip().lower(), (math.pi / 4, 0.0))
    best_score, best_radius, best_start = -np.inf, float("nan"), 0.0
    for start in sets:
        angles = tuple(start + k * math.pi / 2 for k in range(4))
        for radius in radii:
            level = float(profile[min(round(float(radius)), profile.size - 1)])
            score = _spot_score(band, centre, float(radius), angles, reach, level)
            if score > best_score:
                best_score, best_radius, best_start = score, float(radius), start
    if not np.isfinite(best_radius) or not best_score > 0:
        raise ValueError("no four waffle spots found around the star")
    # The ring's mean pulls the scan off the spots by a pixel or two: take the distance of
    # the brightest pixel within lambda/D of each spot instead.
    wide = max(1, round(lambda_over_d))
    distances = []
    for k in range(4):
        angle = best_start + k * math.pi / 2
        ix = round(centre[0] + best_radius * math.cos(angle))
        iy = round(centre[1] + best_radius * math.sin(angle))
        y0, x0 = max(iy - wide, 0), max(ix - wide, 0)
        box = band[y0 : iy + wide + 1, x0 : ix + wide + 1]
        py, px = np.unravel_index(int(np.argmax(box)), box.shape)
        distances.append(math.hypot(x0 + px - centre[0], y0 + py - centre[1]))
    return float(np.mean(distances))


def _separation_lambda_d(run: RecipeRun, exposure: PreprocessedExposure) -> float:
    given = float(run.params["spot_separation_lambda_d"])
    if given > 0:
        return given
    fields = exposure.data.mean(axis=0)
    guesses = field_centre_guess((fields.shape[1], 2 * fields.shape[2]))
    orientation = str(exposure.header.get(WAFFLE_ORIENT_KEY.removeprefix("HIERARCH "), ""))
    values = []
    for index, channel in enumerate(exposure.channels):
        lod = lambda_over_d_px(channel.wavelength_um)
        radius = estimate_spot_separation(
            fields[index], lambda_over_d=lod, centre=guesses[index], orientation=orientation
        )
        values.append(radius / lod)
    separation = float(np.mean(values))
    run.log.info(
        "waffle spots measured at %.2f lambda/D (%s)",
        separation,
        ", ".join(f"{v:.2f}" for v in values),
    )
    return separation


def run(run: RecipeRun) -> None:
    """Measure the star centre of every star-centre exposure, write the table."""
    calibrations = Calibrations.load(run)
    items = sorted(
        run.inputs.of_role("IRD_STAR_CENTER_RAW"), key=lambda f: str(f.header.get("DATE-OBS", ""))
    )
    rows = []
    images = []
    first: PreprocessedExposure | None = None
    for index, item in enumerate(items):
        run.progress(90.0 * index / len(items), f"star centre from {item.path.name}")
        exposure = calibrations.preprocess(
            item.path, collapse=True, kernel_sigma=float(run.params["kernel_sigma"])
        )
        if first is None:
            first = exposure
        elif exposure.filter_combination != first.filter_combination:
            raise RecipeError(
                f"{item.path.name}: filter {exposure.filter_combination!r} differs from "
                f"{first.filter_combination!r} of {items[0].path.name} ({FILTER_KEY})"
            )
        try:
            separation = _separation_lambda_d(run, exposure)
            centres = exposure_star_centres(exposure, spot_separation_lambda_d=separation)
        except ValueError as error:
            raise RecipeError(f"{item.path.name}: {error}") from None
        guesses = field_centre_guess((exposure.data.shape[2], 2 * exposure.data.shape[3]))
        mjd = float(exposure.times.mjd[0])
        for channel_index, (side, centre) in enumerate(
            zip(("left", "right"), centres.channels, strict=True)
        ):
            gx, gy = guesses[channel_index]
            rows.append(
                {
                    "file": item.path.name,
                    "mjd": mjd,
                    "channel": side,
                    "filter": centre.name,
                    "wavelength_um": centre.wavelength_um,
                    "x": centre.x,
                    "y": centre.y,
                    "offset_x": centre.x - gx,
                    "offset_y": centre.y - gy,
                    "separation_px": centre.separation_px,
                    "separation_lambda_d": centre.separation_px
                    / lambda_over_d_px(centre.wavelength_um),
                    "residual_px": centre.residual_px,
                    "fwhm_px": centre.fwhm_px,
                }
            )
        images.append(exposure.data[0])
        run.log.info(
            "%s: star at %s",
            item.path.name,
            "; ".join(f"{c.name} ({c.x:.3f}, {c.y:.3f})" for c in centres.channels),
        )
    assert first is not None
    table = Table(rows)
    for column in ("x", "y", "offset_x", "offset_y", "separation_px", "residual_px", "fwhm_px"):
        table[column].unit = "pix"
    table["wavelength_um"].unit = "um"
    qc: dict[str, float | int] = {"n_exposures": len(items)}
    for side in ("left", "right"):
        mine = table[table["channel"] == side]
        qc[f"centre_x_{side}"] = float(np.mean(mine["x"]))
        qc[f"centre_y_{side}"] = float(np.mean(mine["y"]))
        qc[f"offset_{side}"] = float(np.max(np.hypot(mine["offset_x"], mine["offset_y"])))
        qc[f"waffle_residual_{side}"] = float(np.max(mine["residual_px"]))
        qc[f"drift_{side}"] = float(np.hypot(np.ptp(mine["x"]), np.ptp(mine["y"])))
    qc["spot_separation_lambda_d"] = float(np.mean(table["separation_lambda_d"]))
    write_product(
        run,
        "star_center.fits",
        np.mean(images, axis=0),
        category="IRD_STAR_CENTER",
        source=items[0],
        qc=qc,
        cards={FILTER_KEY: first.filter_combination},
        extensions=[table_hdu(table, STAR_CENTER_EXTENSION)],
    )
    run.qc.update(qc)


RECIPE = sphere_recipe(
    name="ird_star_center",
    version="1.0",
    description="IRDIS star centre per field from the waffle spots of star-centre frames.",
    inputs=(
        InputSlot(
            "IRD_STAR_CENTER_RAW",
            ("IRD_STAR_CENTER_RAW",),
            min_count=1,
            doc="Star-centre (waffle) exposures, OBJECT,CENTER.",
            primary=True,
        ),
        DARK_SLOT,
        BACKGROUND_SLOT,
        FLAT_SLOT,
    ),
    params=(
        ParamSpec(
            "spot_separation_lambda_d",
            "float",
            0.0,
            "Distance of the waffle spots from the star in lambda/D (14.06 for IRDIS's "
            "standard waffle); 0 measures it on the frame.",
            minimum=0.0,
            maximum=40.0,
        ),
        KERNEL_PARAM,
    ),
    outputs=(OutputSpec("IRD_STAR_CENTER", "star position per field and exposure"),),
    run=run,
    default_timeout_s=1800.0,
)
