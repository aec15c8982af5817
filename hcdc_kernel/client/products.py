"""Products of a process loaded as objects, by the category in their header.

``HCI_CONTRAST_CURVE`` -> :class:`ContrastCurveProduct` (a ``ContrastCurve`` with ``.table``),
``HCI_COMPANION_TABLE`` -> ``CompanionTable``, S/N maps and other images -> their FITS HDU,
anything else -> the opened ``HDUList``.

Every HDU's size once loaded is read from its header first (a tile-compressed image decompresses
to ZNAXISn x ZBITPIX): a file that would take more than ``MAX_IMAGE_BYTES`` of memory is refused
with :class:`ImageTooLargeError` before any data is read, so a small compressed file cannot fill
a notebook's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.io import fits
from astropy.table import QTable

from hcdc_kernel.frames.header_io import decompressed_bytes
from hcdc_kernel.products import (
    CATEGORY_KEY,
    COMPANION_TABLE_CATEGORY,
    CONTRAST_CURVE_CATEGORY,
    CompanionTable,
    ContrastCurve,
    table_category,
)

__all__ = [
    "MAX_IMAGE_BYTES",
    "ContrastCurveProduct",
    "ImageTooLargeError",
    "check_image_size",
    "load_product",
    "product_category",
]

_FITS_SUFFIXES = frozenset({".fits", ".fit", ".fts", ".fz"})
#: Most memory one HDU's data may take once loaded by the product readers and the widgets.
MAX_IMAGE_BYTES = 1 << 30


class ImageTooLargeError(ValueError):
    """An HDU whose data would take more memory than allowed; nothing of it was loaded."""


def check_image_size(hdu: Any, *, max_bytes: int = MAX_IMAGE_BYTES, name: str = "") -> int:
    """The bytes ``hdu``'s data takes once loaded, from its header; refused above ``max_bytes``.

    Reads the header only: a tile-compressed HDU is not decompressed to be measured (astropy
    shows its header as the image's, ``NAXISn``/``BITPIX`` of the decompressed image).

    Raises
    ------
    ImageTooLargeError
        Above ``max_bytes``, with the shape, the size and a way to read a part instead.
    """
    header = hdu.header
    size = decompressed_bytes(header)
    if size > max_bytes:
        shape = " x ".join(str(header[f"NAXIS{i}"]) for i in range(header["NAXIS"], 0, -1))
        where = f"{name}: " if name else ""
        raise ImageTooLargeError(
            f"{where}HDU {hdu.name!r} ({shape}, BITPIX {header['BITPIX']}) takes "
            f"{size / 2**20:.0f} MiB once loaded, above the {max_bytes / 2**20:.0f} MiB limit; "
            "read a part with astropy.io.fits.open(...)[...].section[...]"
        )
    return size


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


def load_product(path: Path, *, max_image_bytes: int = MAX_IMAGE_BYTES) -> Any:
    """The product in ``path`` as an object (see the module docstring).

    Raises
    ------
    ImageTooLargeError
        When an HDU of a FITS product would take more than ``max_image_bytes`` once loaded.
    """
    category = product_category(path)
    if category == CONTRAST_CURVE_CATEGORY:
        return ContrastCurveProduct.read(path)
    if category == COMPANION_TABLE_CATEGORY:
        return CompanionTable.read(path)
    if path.suffix.lower() not in _FITS_SUFFIXES:
        return path
    with fits.open(path) as hdul:
        hdul.readall()  # headers only: each data unit loads when first used, below
        for hdu in hdul:
            check_image_size(hdu, max_bytes=max_image_bytes, name=path.name)
        images = [h for h in hdul if h.is_image and h.data is not None]
        if len(images) == 1:
            # A copy outlives the closed file.
            return images[0].copy()
        return fits.HDUList([h.copy() for h in hdul])
