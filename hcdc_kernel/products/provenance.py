"""Provenance metadata shared by all hcdc products."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import QTable

__all__ = [
    "CATEGORY_KEY",
    "PRODUCT_CATEGORIES",
    "header_from_meta",
    "meta_from_header",
    "read_table_product",
    "software_versions",
    "table_category",
]

#: FITS keyword (without HIERARCH) carrying the product category.
CATEGORY_KEY = "HCDC PRO CATG"

#: Categories of the high-contrast imaging products.
PRODUCT_CATEGORIES = (
    "HCI_CONTRAST_CURVE",
    "HCI_SNR_MAP",
    "HCI_FINAL_IMAGE",
    "HCI_COMPANION_TABLE",
    "HCI_CENTERED_CUBE",
    "HCI_ANGLES",
    "HCI_PSF",
)

_PACKAGES = ("hcdc", "numpy", "scipy", "astropy", "scikit-image", "photutils", "vip-hci")

# Structured metadata travels as JSON in one header card (split over CONTINUE cards).
_META_KEY = "HCDC META"


def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape hcdc's science results."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def header_from_meta(category: str, meta: Mapping[str, Any]) -> fits.Header:
    """FITS header with the product category and the metadata as JSON."""
    if category not in PRODUCT_CATEGORIES:
        raise ValueError(f"unknown product category {category!r}")
    header = fits.Header()
    header[f"HIERARCH {CATEGORY_KEY}"] = category
    header[f"HIERARCH {_META_KEY}"] = json.dumps(_jsonable(meta), sort_keys=True)
    return header


def meta_from_header(header: fits.Header) -> tuple[str, dict[str, Any]]:
    """Category and metadata written by :func:`header_from_meta`."""
    if CATEGORY_KEY not in header:
        raise ValueError(f"not an hcdc product: no {CATEGORY_KEY} keyword")
    meta = json.loads(header[_META_KEY]) if _META_KEY in header else {}
    return str(header[CATEGORY_KEY]), meta


FITS_SUFFIXES = frozenset({".fits", ".fit", ".fts"})


def read_table_product(path: Path, category: str, what: str) -> tuple[QTable, dict[str, Any]]:
    """The table and metadata of a product written as FITS (table in HDU 1) or ECSV.

    ``ValueError`` naming ``what`` when the file is another product.
    """
    if path.suffix.lower() in FITS_SUFFIXES:
        with fits.open(path) as hdul:
            found, meta = meta_from_header(hdul[0].header)
            if found != category or len(hdul) < 2:
                raise ValueError(f"{path} is not a {what} ({CATEGORY_KEY}={found!r})")
            table = QTable.read(hdul[1])
        meta[CATEGORY_KEY] = found
    else:
        table = QTable.read(path, format="ascii.ecsv")
        meta = dict(table.meta)
        named = table_category(meta)
        if named != category:
            raise ValueError(f"{path} is not a {what} (category {named!r})")
    return table, meta


def table_category(meta: Mapping[str, Any]) -> str | None:
    """The category an ECSV product's metadata names (either spelling hcdc has written)."""
    found = meta.get(CATEGORY_KEY) or meta.get("category")
    return str(found) if found else None
