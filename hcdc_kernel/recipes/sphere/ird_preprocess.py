"""``ird_preprocess``: IRDIS science exposures to a centred cube per field, with its angles.

For each science exposure, in time order (the steps of vlt-sphere's
``sph_ird_preprocess_science`` and ``sph_ird_combine_data``):

1. the sky, background or dark of its DIT is subtracted, the flat of its filter divides it,
   bad pixels are interpolated, and it splits into its two fields
   (:func:`hcdc_kernel.sphere.preprocess_exposure`), one frame per DIT or the mean of the cube
   (``collapse=mean``);
2. the parallactic angle of each frame comes from ``TEL PARANG START/END`` at its time
   (cross-checked against ``RA``/``DEC``/``LST``; ``angle_source``), and the derotation angle
   adds the pupil offset of the derotator mode and true north (Maire et al. 2016);
3. each field is shifted so that the star (from ``ird_star_center``, interpolated in time
   between star-centre exposures) falls on its centre pixel, and cut to ``size`` pixels.

Per field (``channel``: ``left``, ``right`` or ``both``) it writes the cube with its angles in
an ``ANGLES`` table (``PARANG`` is the derotation angle, what ADI rotates each frame by, as
vip-hci's ``angle_list``; ``PARALLACTIC`` the parallactic angle; ``MJD``), the off-axis PSF
scaled to the science DIT (``HCI_PSF``, from ``ird_flux``: its 1×FWHM aperture flux is the star
flux of one science frame) and the derotated mean of the frames without ADI, which is what
validators look at. The cube feeds the ``hci_*`` recipes (ADI, S/N map, contrast curve,
companions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.table import Table

from hcdc_kernel.hci.rotation import derotate_cube
from hcdc_kernel.recipes.spec import InputSlot, OutputSpec, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeError, RecipeRun, sphere_recipe
from hcdc_kernel.recipes.sphere.common import (
    BACKGROUND_SLOT,
    DARK_SLOT,
    FLAT_SLOT,
    KERNEL_PARAM,
    Calibrations,
)
from hcdc_kernel.recipes.sphere.io import InputFile, read_table, table_hdu, write_product
from hcdc_kernel.recipes.sphere.ird_flux import STAR_FLUX_EXTENSION
from hcdc_kernel.recipes.sphere.ird_star_center import STAR_CENTER_EXTENSION
from hcdc_kernel.sphere.angles import (
    DEROTATOR_MODE,
    DEROTATOR_POSANG,
    derotation_angles,
    parallactic_angles,
)
from hcdc_kernel.sphere.centring import recentre_fields
from hcdc_kernel.sphere.errors import CalibrationMismatchError
from hcdc_kernel.sphere.exposures import (
    DIT_KEY,
    FILTER_KEY,
    keyword_float,
    keyword_text,
    read_exposure,
    same_dit,
)
from hcdc_kernel.sphere.filters import IRDIS_PIXEL_SCALE_MAS, filter_channels

__all__ = ["RECIPE"]

SCIENCE_TAG = "IRD_SCIENCE_RAW"
SIDES = ("left", "right")
PIXSCALE_ARCSEC = IRDIS_PIXEL_SCALE_MAS / 1000.0


@dataclass(frozen=True)
class _Centres:
    """Star position per field against time, from the star-centre products."""

    mjd: npt.NDArray[np.float64]
    xy: npt.NDArray[np.float64]  # (n, 2 fields, 2)
    path_names: tuple[str, ...]

    def at(self, mjd: float) -> npt.NDArray[np.float64]:
        """(x, y) per field at ``mjd``: linear in time, the nearest outside the span."""
        order = np.argsort(self.mjd)
        out = np.empty((2, 2))
        for field in range(2):
            for axis in range(2):
                out[field, axis] = np.interp(mjd, self.mjd[order], self.xy[order, field, axis])
        return out


def _filter_of(header: fits.Header) -> str:
    return str(header.get(FILTER_KEY.removeprefix("HIERARCH "), "")).strip()


def _centres(run: RecipeRun, combination: str, field_shape: tuple[int, int]) -> _Centres:
    mjds: list[float] = []
    xys: list[list[tuple[float, float]]] = []
    names = []
    for path in run.inputs.paths("IRD_STAR_CENTER"):
        header, table, image = read_table(path, "IRD_STAR_CENTER", STAR_CENTER_EXTENSION)
        found = _filter_of(header)
        if found != combination:
            raise CalibrationMismatchError(
                f"the star centre was measured with filter {found!r}, the science frames "
                f"use {combination!r}",
                path=path,
                keyword=FILTER_KEY,
            )
        if image is not None and tuple(image.shape[-2:]) != field_shape:
            raise CalibrationMismatchError(
                f"star-centre fields are {tuple(image.shape[-2:])} px, science fields "
                f"{field_shape}",
                path=path,
            )
        for file_name in dict.fromkeys(table["file"]):
            rows = table[table["file"] == file_name]
            by_side = {str(r["channel"]): (float(r["x"]), float(r["y"])) for r in rows}
            if set(by_side) != set(SIDES):
                raise RecipeError(f"{path.name}: {file_name} lacks a field in its table")
            mjds.append(float(rows["mjd"][0]))
            xys.append([by_side[side] for side in SIDES])
        names.append(path.name)
    return _Centres(np.array(mjds), np.array(xys, dtype=np.float64), tuple(names))


def _psf(run: RecipeRun, combination: str) -> tuple[npt.NDArray[np.float64], Table, str] | None:
    paths = run.inputs.paths("IRD_PSF")
    if not paths:
        return None
    path = paths[0]
    header, table, stamps = read_table(path, "IRD_PSF", STAR_FLUX_EXTENSION)
    found = _filter_of(header)
    if found != combination:
        raise CalibrationMismatchError(
            f"the PSF was measured with filter {found!r}, the science frames use {combination!r}",
            path=path,
            keyword=FILTER_KEY,
        )
    if stamps is None or stamps.ndim != 3 or stamps.shape[0] != 2:
        raise RecipeError(f"{path.name}: expected a PSF stamp per field, shape (2, n, n)")
    return stamps, table, path.name


def _crop(frames: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.float32]:
    """Central ``size`` × ``size`` of recentred frames, the star staying on the centre pixel."""
    ny, nx = frames.shape[-2:]
    side = min(size, ny, nx) if size > 0 else min(ny, nx)
    y0, x0 = ny // 2 - side // 2, nx // 2 - side // 2
    return frames[..., y0 : y0 + side, x0 : x0 + side]


def _check_same(item: InputFile, first: InputFile) -> None:
    dit = keyword_float(item.header, DIT_KEY, path=item.path)
    first_dit = keyword_float(first.header, DIT_KEY, path=first.path)
    if not same_dit(dit, first_dit):
        raise CalibrationMismatchError(
            f"DIT {dit:g} s differs from {first_dit:g} s of {first.path.name}: one sequence "
            "has one DIT",
            path=item.path,
            keyword=DIT_KEY,
        )
    for key in (FILTER_KEY, DEROTATOR_MODE):
        value = keyword_text(item.header, key, path=item.path)
        expected = keyword_text(first.header, key, path=first.path)
        if value != expected:
            raise CalibrationMismatchError(
                f"{value!r} differs from {expected!r} of {first.path.name}",
                path=item.path,
                keyword=key,
            )


def run(run: RecipeRun) -> None:
    """Calibrate, date, angle and centre the sequence; write a cube per field."""
    calibrations = Calibrations.load(run)
    items: Sequence[InputFile] = sorted(
        run.inputs.of_role(SCIENCE_TAG), key=lambda f: str(f.header.get("DATE-OBS", ""))
    )
    first = items[0]
    for item in items[1:]:
        _check_same(item, first)
    combination = keyword_text(first.header, FILTER_KEY, path=first.path)
    try:
        channels = filter_channels(combination)
    except ValueError as error:
        raise CalibrationMismatchError(str(error), path=first.path, keyword=FILTER_KEY) from None
    mode = keyword_text(first.header, DEROTATOR_MODE, path=first.path)
    posang = keyword_float(first.header, DEROTATOR_POSANG, path=first.path, default=0.0)
    chosen = [0, 1] if run.params["channel"] == "both" else [SIDES.index(run.params["channel"])]
    collapse = run.params["collapse"] == "mean"
    size = int(run.params["size"])
    source = str(run.params["angle_source"])
    tolerance = float(run.params["angle_tolerance_deg"])

    frames: list[npt.NDArray[np.float32]] = []
    parang: list[npt.NDArray[np.float64]] = []
    mjd: list[npt.NDArray[np.float64]] = []
    centres: _Centres | None = None
    shifts = []
    differences = []
    sources = set()
    bad_pixels = 0
    background = ""
    for index, item in enumerate(items):
        run.progress(80.0 * index / len(items), f"pre-processing {item.path.name}")
        exposure = read_exposure(item.path)
        pre = calibrations.preprocess(
            exposure, collapse=collapse, kernel_sigma=float(run.params["kernel_sigma"])
        )
        if centres is None:
            centres = _centres(run, combination, pre.data.shape[-2:])
        angles = parallactic_angles(
            exposure.header,
            path=exposure.path,
            collapse=collapse,
            source=source,  # type: ignore[arg-type]
            tolerance_deg=tolerance,
        )
        sources.add(angles.source)
        if angles.ephemeris_difference_deg is not None:
            differences.append(angles.ephemeris_difference_deg)
        xy = centres.at(float(np.mean(pre.times.mjd)))
        shifts.append(xy)
        moved = recentre_fields(pre.data, xy)
        frames.append(_crop(moved[:, chosen], size))
        parang.append(angles.degrees)
        mjd.append(np.asarray(pre.times.mjd, dtype=np.float64))
        bad_pixels = max(bad_pixels, pre.bad_pixel_count)
        background = pre.background_kind or ""
    assert centres is not None
    cube = np.concatenate(frames)
    parallactic = np.concatenate(parang)
    derotation = derotation_angles(parallactic, derotator_mode=mode, posang_deg=posang)
    times = np.concatenate(mjd)
    dit = keyword_float(first.header, DIT_KEY, path=first.path)
    psf = _psf(run, combination)
    run.progress(85.0, f"{cube.shape[0]} frames, rotation {np.ptp(derotation):.1f} deg")

    run.qc.update(
        {
            "n_frames": int(cube.shape[0]),
            "rotation_deg": float(np.ptp(derotation)),
            "parang_source": "/".join(sorted(sources)),
            "background": background,
            "bad_pixels": bad_pixels,
        }
    )
    if differences:
        run.qc["parang_vs_pointing_deg"] = float(max(differences))
    angle_table = Table(
        {
            "PARANG": derotation,
            "PARALLACTIC": parallactic,
            "MJD": times,
        },
        units={"PARANG": "deg", "PARALLACTIC": "deg", "MJD": "d"},
    )
    field_shape = pre.data.shape[-2:]
    mean_shift = np.mean(shifts, axis=0)
    for position, field in enumerate(chosen):
        side, channel = SIDES[field], channels[field]
        data = cube[:, position]
        star = (float(data.shape[-1] // 2), float(data.shape[-2] // 2))
        cards = {
            "HIERARCH HCDC IRD CHANNEL": side,
            "HIERARCH HCDC IRD FILTER": channel.name,
            "HIERARCH HCDC WAVELENGTH": channel.wavelength_um,
            FILTER_KEY: combination,
        }
        qc = {
            "n_frames": int(data.shape[0]),
            "rotation_deg": float(np.ptp(derotation)),
            "centre_shift_x": float(field_shape[1] // 2 - mean_shift[field, 0]),
            "centre_shift_y": float(field_shape[0] // 2 - mean_shift[field, 1]),
        }
        fwhm = None
        if psf is not None:
            stamps, table, name = psf
            rows = table[table["channel"] == side]
            star_flux = float(np.mean(rows["aperture_flux"])) * dit
            fwhm = float(np.mean(rows["fwhm_px"]))
            qc["star_flux"] = star_flux
            qc["fwhm_px"] = fwhm
            cards["HIERARCH HCDC STAR FLUX"] = star_flux
            half = stamps.shape[-1] // 2
            write_product(
                run,
                f"psf_{channel.name}.fits",
                stamps[field] * dit,
                category="HCI_PSF",
                source=first,
                qc={"star_flux": star_flux, "fwhm_px": fwhm},
                meta={"psf_source": name, "science_dit_s": dit, "channel": side},
                cards=cards,
                pixscale=PIXSCALE_ARCSEC,
                star_xy=(float(half), float(half)),
                fwhm=fwhm,
                centred=True,
            )
        write_product(
            run,
            f"science_cube_{channel.name}.fits",
            data,
            category="IRD_SCIENCE_CUBE",
            source=first,
            qc=qc,
            meta={
                "channel": side,
                "filter": channel.name,
                "wavelength_um": channel.wavelength_um,
                "star_centre_from": list(centres.path_names),
                "derotator_mode": mode,
            },
            cards=cards,
            extensions=[table_hdu(angle_table, "ANGLES")],
            pixscale=PIXSCALE_ARCSEC,
            star_xy=star,
            fwhm=fwhm,
            centred=True,
        )
        run.progress(90.0 + 5.0 * position, f"derotated stack of {channel.name}")
        stack = np.mean(derotate_cube(data, derotation, interpolation="bicubic"), axis=0)
        write_product(
            run,
            f"derotated_stack_{channel.name}.fits",
            stack,
            category="IRD_DEROTATED_STACK",
            source=first,
            qc={"n_frames": int(data.shape[0])},
            meta={"channel": side, "filter": channel.name, "combination": "mean, no ADI"},
            cards=cards,
            pixscale=PIXSCALE_ARCSEC,
            star_xy=star,
            fwhm=fwhm,
            north_up=True,
            centred=True,
        )
        run.qc.update({f"{k}_{channel.name}": v for k, v in qc.items() if k != "n_frames"})


RECIPE = sphere_recipe(
    name="ird_preprocess",
    version="1.0",
    description="IRDIS science sequence to a centred, calibrated cube per field with "
    "parallactic and derotation angles and the PSF at the science DIT.",
    inputs=(
        InputSlot(
            SCIENCE_TAG,
            ("IRD_SCIENCE_DBI_RAW", "IRD_SCIENCE_IMAGING_RAW"),
            min_count=1,
            doc="Coronagraphic science exposures (DBI or classical imaging) of one sequence.",
            primary=True,
        ),
        DARK_SLOT,
        BACKGROUND_SLOT,
        FLAT_SLOT,
        InputSlot(
            "IRD_STAR_CENTER",
            ("IRD_STAR_CENTER",),
            min_count=1,
            doc="Star centre from the waffle frames (ird_star_center).",
        ),
        InputSlot(
            "IRD_PSF",
            ("IRD_PSF",),
            min_count=0,
            max_count=1,
            doc="Off-axis PSF and star flux (ird_flux); without it no HCI_PSF is written.",
        ),
    ),
    params=(
        ParamSpec(
            "channel",
            "str",
            "both",
            "Field(s) to write: left (e.g. H2 of DB_H23), right (H3) or both.",
            choices=("both", "left", "right"),
        ),
        ParamSpec(
            "collapse",
            "str",
            "none",
            "none: one frame per DIT; mean: one frame per exposure.",
            choices=("none", "mean"),
        ),
        ParamSpec(
            "size",
            "int",
            290,
            "Side (px) of the centred cube, at most the field (vlt-sphere's default 290).",
            minimum=16,
            maximum=1024,
        ),
        ParamSpec(
            "angle_source",
            "str",
            "header",
            "Parallactic angles from TEL PARANG START/END (header), from RA/DEC/LST "
            "(ephemeris), or the header falling back to the pointing (auto).",
            choices=("header", "ephemeris", "auto"),
        ),
        ParamSpec(
            "angle_tolerance_deg",
            "float",
            1.0,
            "Largest accepted difference between TEL PARANG and the pointing (deg).",
            minimum=0.0,
            maximum=180.0,
        ),
        KERNEL_PARAM,
    ),
    outputs=(
        OutputSpec("IRD_SCIENCE_CUBE", "centred cube per field with its ANGLES table"),
        OutputSpec("HCI_PSF", "off-axis PSF per field at the science DIT"),
        OutputSpec("IRD_DEROTATED_STACK", "derotated mean of the frames (no ADI), per field"),
    ),
    run=run,
    needs_validation=True,
    default_timeout_s=7200.0,
)
