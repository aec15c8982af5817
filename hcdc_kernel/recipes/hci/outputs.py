"""Writers of the hci recipe products and helpers shared by the recipes.

Every FITS product carries ``HIERARCH HCDC PRO CATG`` (its category) and its
provenance as JSON in ``HIERARCH HCDC META``, the layout of
:mod:`hcdc_kernel.products.provenance`, so :func:`~hcdc_kernel.products.provenance.meta_from_header`
reads them all. Its header also describes it (:func:`describe`,
:mod:`hcdc_kernel.products.description`): the observation inherited from the recipe's main
input, the recipe, its inputs and parameters, ``BUNIT``, the pixel scale, the star position,
the FWHM and a WCS. Every image product gets a PNG preview beside it (category
``HCI_PREVIEW``, named in ``HIERARCH HCDC PREVIEW``). Cubes carry their parallactic angles as a
``PARANG`` column of an ``ANGLES`` binary-table extension, so that one file feeds the next
recipe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.hci.centering import fit_profile
from hcdc_kernel.hci.rotation import frame_center
from hcdc_kernel.products.description import (
    FWHM_KEY,
    ProductDescription,
    inherited_cards,
)
from hcdc_kernel.products.images import ImageProduct
from hcdc_kernel.products.preview import PREVIEW_CATEGORY, preview_path, write_preview
from hcdc_kernel.products.provenance import CATEGORY_KEY, software_versions
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun
from hcdc_kernel.recipes.hci.inputs import InputFile
from hcdc_kernel.recipes.spec import ParamSpec

__all__ = [
    "FWHM_PARAM",
    "PXSCALE_PARAM",
    "data_unit",
    "describe",
    "product_header",
    "recorded_fwhm",
    "resolve_fwhm",
    "star_at_centre",
    "table_unit",
    "write_cube",
    "write_image",
    "write_image_product",
    "write_table",
]

META_KEY = "HCDC META"

FWHM_PARAM = ParamSpec(
    "fwhm", "float", 0.0, "PSF FWHM in pixels; 0 fits a Gaussian to the PSF input.", minimum=0.0
)
PXSCALE_PARAM = ParamSpec(
    "pxscale",
    "float",
    0.0,
    "Pixel scale in arcsec/px; 0 reads HIERARCH HCDC PIXSCALE or the instrument's.",
    minimum=0.0,
)


def jsonable(value: Any) -> Any:
    """``value`` with mappings, sequences, paths and arrays turned into JSON types."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    return value


def data_unit(header: fits.Header | None, default: str = "adu") -> str:
    """``BUNIT`` of a header, or ``default`` (raw detector counts)."""
    value = header.get("BUNIT") if header is not None else None
    return str(value).strip() if isinstance(value, str) and value.strip() else default


def table_unit(bunit: str) -> str:
    """``bunit`` as astropy reads it (``ADU`` -> ``adu``), else ``adu``."""
    import astropy.units as u

    for candidate in (bunit, bunit.lower()):
        try:
            return u.Unit(candidate).to_string()
        except ValueError:
            continue
    return "adu"


def star_at_centre(shape: tuple[int, ...]) -> tuple[float, float]:
    """(x, y) of the frame centre of hcdc's convention, where recentred frames put the star."""
    cy, cx = frame_center(shape[-2:])
    return float(cx), float(cy)


def recorded_fwhm(header: fits.Header | None) -> float:
    """The FWHM an hcdc product recorded (``HIERARCH HCDC FWHM`` or its metadata), else 0."""
    if header is None:
        return 0.0
    value = header.get(FWHM_KEY) if FWHM_KEY in header else None
    if isinstance(value, int | float) and value > 0:
        return float(value)
    try:
        meta = json.loads(header.get(META_KEY, "{}"))
    except (TypeError, ValueError):
        return 0.0
    recorded = meta.get("fwhm_px") if isinstance(meta, dict) else None
    return float(recorded) if isinstance(recorded, int | float) and recorded > 0 else 0.0


def describe(
    run: RecipeRun,
    *,
    source: InputFile | None = None,
    bunit: str | None = None,
    pixscale: float | None = None,
    star_xy: tuple[float, float] | None = None,
    north_up: bool = False,
    fwhm: float | None = None,
    centred: bool | None = None,
) -> ProductDescription:
    """The description of a product of ``run`` (see :mod:`hcdc_kernel.products.description`).

    The observation is inherited from ``source`` (an input file), by default the first input
    of the recipe's primary slot; ``bunit`` defaults to that input's ``BUNIT`` (else adu).
    """
    if source is None:
        slot = getattr(run.recipe, "primary_slot", None) or next(
            (s for s in run.recipe.inputs if s.primary), None
        )
        chosen = run.inputs.of_role(slot.tag) if slot is not None else ()
        source = chosen[0] if chosen else (run.inputs.files[0] if run.inputs.files else None)
    header = source.header if source is not None else None
    return ProductDescription(
        observation=inherited_cards(header),
        recipe=run.recipe.name,
        version=run.recipe.version,
        inputs=tuple((f.path.name, f.role) for f in run.inputs.files),
        params=dict(run.params),
        bunit=data_unit(header) if bunit is None else bunit,
        pixscale=pixscale,
        star_xy=star_xy,
        north_up=north_up,
        fwhm=fwhm,
        centred=centred,
    )


def product_header(
    category: str,
    meta: Mapping[str, Any],
    *,
    pixscale: float | None = None,
    description: ProductDescription | None = None,
    naxis: int = 2,
) -> fits.Header:
    """Primary header of a product: category, provenance JSON, description, pixel scale."""
    header = fits.Header()
    header[f"HIERARCH {CATEGORY_KEY}"] = category
    info = dict(meta)
    info.setdefault("software", software_versions())
    header[f"HIERARCH {META_KEY}"] = json.dumps(jsonable(info), sort_keys=True)
    if description is not None:
        header.extend(description.cards(naxis=naxis), update=True)
    if pixscale is not None:
        header["HIERARCH HCDC PIXSCALE"] = (float(pixscale), "[arcsec/px] pixel scale")
    return header


def _preview(
    run: RecipeRun,
    path: Path,
    data: ArrayLike,
    description: ProductDescription,
    value_range: tuple[float, float] | None = None,
) -> tuple[ProductDescription, Path | None]:
    """Write the PNG preview of an image product (not of 1-D data)."""
    if np.ndim(data) < 2:
        return description, None
    png = write_preview(data, preview_path(path), value_range=value_range)
    return description.replace(preview=png.name), png


def write_image(
    run: RecipeRun,
    name: str,
    data: ArrayLike,
    *,
    category: str,
    meta: Mapping[str, Any],
    pixscale: float | None = None,
    qc: Mapping[str, Any] | None = None,
    description: ProductDescription | None = None,
) -> Path:
    """Write an image (or cube) product and its preview, and record them in the run."""
    path = run.path(name)
    values = np.asarray(data, dtype=np.float32)
    described = description or describe(run, pixscale=pixscale)
    described, png = _preview(run, path, values, described)
    header = product_header(
        category, meta, pixscale=pixscale, description=described, naxis=values.ndim
    )
    fits.PrimaryHDU(data=values, header=header).writeto(path, overwrite=True)
    run.add_product(path, category, qc)
    if png is not None:
        run.add_product(png, PREVIEW_CATEGORY)
    return path


def write_image_product(
    run: RecipeRun,
    name: str,
    product: ImageProduct,
    *,
    qc: Mapping[str, Any] | None = None,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """Write an :class:`ImageProduct` (final image, S/N map) and its preview; record both."""
    path = run.path(name)
    described, png = _preview(
        run, path, product.data, product.description or describe(run), value_range
    )
    type(product)(data=product.data, meta=product.meta, description=described).write(path)
    run.add_product(path, product.category, qc)
    if png is not None:
        run.add_product(png, PREVIEW_CATEGORY)
    return path


def write_cube(
    run: RecipeRun,
    name: str,
    cube: ArrayLike,
    angles: ArrayLike,
    *,
    category: str,
    meta: Mapping[str, Any],
    pixscale: float | None,
    qc: Mapping[str, Any] | None = None,
    description: ProductDescription | None = None,
) -> Path:
    """Write a cube with its parallactic angles (``ANGLES`` extension, ``PARANG`` column)."""
    path = run.path(name)
    values = np.asarray(cube, dtype=np.float32)
    described = description or describe(run, pixscale=pixscale)
    described, png = _preview(run, path, values, described)
    header = product_header(
        category, meta, pixscale=pixscale, description=described, naxis=values.ndim
    )
    primary = fits.PrimaryHDU(data=values, header=header)
    table = fits.BinTableHDU(
        Table({"PARANG": np.asarray(angles, dtype=np.float64)}, units={"PARANG": "deg"}),
        name="ANGLES",
    )
    fits.HDUList([primary, table]).writeto(path, overwrite=True)
    run.add_product(path, category, qc)
    if png is not None:
        run.add_product(png, PREVIEW_CATEGORY)
    return path


def write_table(
    run: RecipeRun,
    name: str,
    table: Table,
    *,
    category: str,
    meta: Mapping[str, Any],
    pixscale: float | None = None,
    qc: Mapping[str, Any] | None = None,
    description: ProductDescription | None = None,
) -> Path:
    """Write a binary-table product (the table in the first extension, units on its columns)."""
    path = run.path(name)
    described = description or describe(run, pixscale=pixscale)
    header = product_header(category, meta, pixscale=pixscale, description=described, naxis=0)
    hdu = fits.table_to_hdu(Table(table, meta={}))
    for index, column in enumerate(table.columns.values(), start=1):
        # astropy leaves out TUNITn of a dimensionless column: say it is one.
        if getattr(column, "unit", None) is not None and f"TUNIT{index}" not in hdu.header:
            hdu.header.set(f"TUNIT{index}", "", "dimensionless", after=f"TFORM{index}")
    hdu.name = category
    fits.HDUList([fits.PrimaryHDU(header=header), hdu]).writeto(path, overwrite=True)
    run.add_product(path, category, qc)
    return path


def psf_fwhm(psf: NDArray[np.float64]) -> float:
    """FWHM (px) of a PSF from a 2-D Gaussian fit of its core."""
    cy, cx = np.unravel_index(int(np.argmax(psf)), psf.shape)
    first = fit_profile(psf, x=float(cx), y=float(cy), fwhm=4.0, box=min(psf.shape) // 2 * 2 - 1)
    if not first.success:
        raise RecipeError("the Gaussian fit of the PSF failed; give the fwhm parameter")
    return float(0.5 * (first.fwhm_x + first.fwhm_y))


def resolve_fwhm(
    run: RecipeRun, psf: NDArray[np.float64] | None, *, required: bool = True
) -> float:
    """The FWHM (px): the ``fwhm`` parameter, else fitted on the PSF, else as an input recorded it.

    An input recorded it when an earlier hcdc recipe wrote ``HIERARCH HCDC FWHM`` (or
    ``fwhm_px`` in its metadata) on it. Without any of the three: a :class:`RecipeError`
    naming what to give, or 0 when not ``required``.
    """
    given = float(run.params.get("fwhm", 0.0))
    if given > 0:
        return given
    if psf is not None:
        value = psf_fwhm(psf)
        run.log.info("FWHM fitted on the PSF: %.3f px", value)
        return value
    recorded = max((recorded_fwhm(f.header) for f in run.inputs.files), default=0.0)
    if recorded > 0:
        run.log.info("FWHM recorded by the input: %.3f px", recorded)
        return recorded
    if required:
        raise RecipeError(
            "the FWHM is unknown: give the fwhm parameter, a PSF input, or an input whose "
            "header records it (HIERARCH HCDC FWHM)"
        )
    return 0.0


def centred_psf_stamp(psf: NDArray[np.float64], *, fwhm: float) -> NDArray[np.float64]:
    """The PSF cut to an odd square stamp of about 4 FWHM around its centre."""
    cy, cx = frame_center(psf.shape)
    half = min(int(np.ceil(2 * fwhm)) + 2, cy, cx, psf.shape[0] - 1 - cy, psf.shape[1] - 1 - cx)
    return psf[cy - half : cy + half + 1, cx - half : cx + half + 1]
