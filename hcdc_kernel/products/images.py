"""Image products (S/N map, final image): FITS with provenance metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from astropy.io import fits
from numpy.typing import ArrayLike, NDArray

from hcdc_kernel.products.description import ProductDescription
from hcdc_kernel.products.provenance import (
    header_from_meta,
    meta_from_header,
    software_versions,
)

__all__ = ["FinalImageProduct", "ImageProduct", "SnrMapProduct", "read_image_product"]


@dataclass(frozen=True, eq=False)
class ImageProduct:
    """A 2-D (or cube) image product with its category and provenance.

    Attributes
    ----------
    data : numpy.ndarray
        The image.
    meta : Mapping
        Provenance: algorithm, parameters, inputs, software versions...
    description : ProductDescription, optional
        Observation, recipe, units and geometry written as header cards
        (:mod:`hcdc_kernel.products.description`).
    """

    category: ClassVar[str] = ""
    data: NDArray[np.float64]
    meta: Mapping[str, Any] = field(default_factory=dict)
    description: ProductDescription | None = None

    @classmethod
    def create(
        cls,
        data: ArrayLike,
        *,
        meta: Mapping[str, Any] | None = None,
        description: ProductDescription | None = None,
    ) -> ImageProduct:
        """Build the product, adding software versions to the metadata."""
        info = dict(meta or {})
        info.setdefault("software", software_versions())
        return cls(data=np.asarray(data, dtype=np.float64), meta=info, description=description)

    def header(self) -> fits.Header:
        """The primary header: category, provenance JSON and the description's cards."""
        header = header_from_meta(self.category, self.meta)
        if self.description is not None:
            header.extend(self.description.cards(naxis=self.data.ndim), update=True)
        return header

    def write(self, path: Path | str) -> Path:
        """Write the image as the primary HDU of a FITS file."""
        target = Path(path)
        fits.PrimaryHDU(data=self.data, header=self.header()).writeto(target, overwrite=True)
        return target


@dataclass(frozen=True, eq=False)
class SnrMapProduct(ImageProduct):
    """S/N map (Mawet et al. 2014 statistics), category ``HCI_SNR_MAP``."""

    category: ClassVar[str] = "HCI_SNR_MAP"


@dataclass(frozen=True, eq=False)
class FinalImageProduct(ImageProduct):
    """Final derotated, combined image, category ``HCI_FINAL_IMAGE``."""

    category: ClassVar[str] = "HCI_FINAL_IMAGE"


_BY_CATEGORY: dict[str, type[ImageProduct]] = {
    SnrMapProduct.category: SnrMapProduct,
    FinalImageProduct.category: FinalImageProduct,
}


def read_image_product(path: Path | str) -> ImageProduct:
    """Read an image product; the class follows the file's category."""
    with fits.open(Path(path)) as hdul:
        category, meta = meta_from_header(hdul[0].header)
        data = np.asarray(hdul[0].data, dtype=np.float64)
    try:
        product_class = _BY_CATEGORY[category]
    except KeyError:
        raise ValueError(f"{path} is not an image product (category {category!r})") from None
    return product_class(data=data, meta=meta)
