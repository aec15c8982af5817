"""Products of a process loaded as objects, by the category in their header.

``HCI_CONTRAST_CURVE`` -> :class:`ContrastCurveProduct` (a ``ContrastCurve`` with ``.table``),
``HCI_COMPANION_TABLE`` -> ``CompanionTable``, S/N maps and other images -> their FITS HDU,
anything else -> the opened ``HDUList``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import QTable

from hcdc_kernel.products import (
    CATEGORY_KEY,
    COMPANION_TABLE_CATEGORY,
    CONTRAST_CURVE_CATEGORY,
    CompanionTable,
    ContrastCurve,
    table_category,
)

__all__ = ["ContrastCurveProduct", "load_product", "product_category"]

_FITS_SUFFIXES = frozenset({".fits", ".fit", ".fts", ".fz"})


@dataclass(frozen=True, eq=False)
class ContrastCurveProduct(ContrastCurve):
    """A contrast curve downloaded from hcdc: ``.plot()`` and ``.table`` (a QTable)."""

    @property
    def table(self) -> QTable:
        """One row per separation, with units and the provenance in ``meta``."""
        return self.to_table()


def product_category(path: Path) -> str | None:
    """The hcdc product category of a file (``HCDC PRO CATG``, else ``ESO PRO CATG``)."""
    if path.suffix.lower() in _FITS_SUFFIXES:
        header = fits.getheader(path)
        for key in (CATEGORY_KEY, "HIERARCH HCDC PRO CATG", "HIERARCH ESO PRO CATG"):
            if key in header:
                return str(header[key])
        return None
    if path.suffix.lower() == ".ecsv":
        return table_category(QTable.read(path, format="ascii.ecsv").meta)
    return None


def load_product(path: Path) -> Any:
    """The product in ``path`` as an object (see the module docstring)."""
    category = product_category(path)
    if category == CONTRAST_CURVE_CATEGORY:
        return ContrastCurveProduct.read(path)
    if category == COMPANION_TABLE_CATEGORY:
        return CompanionTable.read(path)
    if path.suffix.lower() not in _FITS_SUFFIXES:
        return path
    with fits.open(path) as hdul:
        hdul.readall()
        images = [h for h in hdul if h.is_image and h.data is not None]
        if len(images) == 1:
            # A copy outlives the closed file.
            return images[0].copy()
        return fits.HDUList([h.copy() for h in hdul])
