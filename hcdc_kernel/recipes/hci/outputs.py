"""Writers of the hci recipe products and helpers shared by the recipes.

Every FITS product carries ``HIERARCH HCDC PRO CATG`` (its category) and its
provenance as JSON in ``HIERARCH HCDC META``, the layout of
:mod:`hcdc_kernel.products.provenance`, so :func:`~hcdc_kernel.products.provenance.meta_from_header`
reads them all. Cubes carry their parallactic angles as a ``PARANG`` column
of an ``ANGLES`` binary-table extension and the pixel scale as
``HIERARCH HCDC PIXSCALE``, so that one file feeds the next recipe.
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
from hcdc_kernel.products.provenance import CATEGORY_KEY, software_versions
from hcdc_kernel.recipes.hci.base import RecipeError, RecipeRun
from hcdc_kernel.recipes.spec import ParamSpec

__all__ = [
    "FWHM_PARAM",
    "PXSCALE_PARAM",
    "product_header",
    "resolve_fwhm",
    "write_cube",
    "write_image",
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    return value


def product_header(
    category: str, meta: Mapping[str, Any], *, pixscale: float | None = None
) -> fits.Header:
    """Primary header of a product: category, provenance JSON, pixel scale."""
    header = fits.Header()
    header[f"HIERARCH {CATEGORY_KEY}"] = category
    info = dict(meta)
    info.setdefault("software", software_versions())
    header[f"HIERARCH {META_KEY}"] = json.dumps(_jsonable(info), sort_keys=True)
    if pixscale is not None:
        header["HIERARCH HCDC PIXSCALE"] = float(pixscale)
    return header


def write_image(
    run: RecipeRun,
    name: str,
    data: ArrayLike,
    *,
    category: str,
    meta: Mapping[str, Any],
    pixscale: float | None = None,
    qc: Mapping[str, Any] | None = None,
) -> Path:
    """Write an image (or cube) product and record it in the run."""
    path = run.path(name)
    header = product_header(category, meta, pixscale=pixscale)
    fits.PrimaryHDU(data=np.asarray(data, dtype=np.float32), header=header).writeto(
        path, overwrite=True
    )
    run.add_product(path, category, qc)
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
) -> Path:
    """Write a cube with its parallactic angles (``ANGLES`` extension, ``PARANG`` column)."""
    path = run.path(name)
    header = product_header(category, meta, pixscale=pixscale)
    primary = fits.PrimaryHDU(data=np.asarray(cube, dtype=np.float32), header=header)
    table = fits.BinTableHDU(Table({"PARANG": np.asarray(angles, dtype=np.float64)}), name="ANGLES")
    fits.HDUList([primary, table]).writeto(path, overwrite=True)
    run.add_product(path, category, qc)
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
) -> Path:
    """Write a binary-table product (the table in the first extension)."""
    path = run.path(name)
    header = product_header(category, meta, pixscale=pixscale)
    hdu = fits.table_to_hdu(Table(table, meta={}))
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


def resolve_fwhm(run: RecipeRun, psf: NDArray[np.float64] | None) -> float:
    """The ``fwhm`` parameter, or the FWHM fitted on the PSF when it is 0."""
    given = float(run.params.get("fwhm", 0.0))
    if given > 0:
        return given
    if psf is None:
        raise RecipeError("the FWHM is unknown: give the fwhm parameter or a PSF input")
    value = psf_fwhm(psf)
    run.log.info("FWHM fitted on the PSF: %.3f px", value)
    return value


def centred_psf_stamp(psf: NDArray[np.float64], *, fwhm: float) -> NDArray[np.float64]:
    """The PSF cut to an odd square stamp of about 4 FWHM around its centre."""
    cy, cx = frame_center(psf.shape)
    half = min(int(np.ceil(2 * fwhm)) + 2, cy, cx, psf.shape[0] - 1 - cy, psf.shape[1] - 1 - cx)
    return psf[cy - half : cy + half + 1, cx - half : cx + half + 1]
