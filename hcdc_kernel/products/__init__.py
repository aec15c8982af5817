"""Level 2/3 high-contrast imaging products: formats with provenance.

* :class:`ContrastCurve` - FITS binary table and ECSV (``HCI_CONTRAST_CURVE``).
* :class:`SnrMapProduct`, :class:`FinalImageProduct` - FITS images
  (``HCI_SNR_MAP``, ``HCI_FINAL_IMAGE``).
* :class:`CompanionTable` - ECSV (``HCI_COMPANION_TABLE``).
* :class:`ProductDescription` - observation, recipe, units and geometry in every header.
* :func:`write_preview` - the PNG preview beside an image product (``HCI_PREVIEW``).

Every FITS header carries ``HIERARCH HCDC PRO CATG`` with the category.
"""

from hcdc_kernel.products.companions import (
    COMPANION_COLUMNS,
    COMPANION_TABLE_CATEGORY,
    CompanionTable,
)
from hcdc_kernel.products.contrast_curve import CONTRAST_CURVE_CATEGORY, ContrastCurve
from hcdc_kernel.products.description import ProductDescription, inherited_cards
from hcdc_kernel.products.images import (
    FinalImageProduct,
    ImageProduct,
    SnrMapProduct,
    read_image_product,
)
from hcdc_kernel.products.preview import PREVIEW_CATEGORY, write_preview
from hcdc_kernel.products.provenance import (
    CATEGORY_KEY,
    PRODUCT_CATEGORIES,
    header_from_meta,
    meta_from_header,
    software_versions,
    table_category,
)

__all__ = [
    "CATEGORY_KEY",
    "COMPANION_COLUMNS",
    "COMPANION_TABLE_CATEGORY",
    "CONTRAST_CURVE_CATEGORY",
    "PREVIEW_CATEGORY",
    "PRODUCT_CATEGORIES",
    "CompanionTable",
    "ContrastCurve",
    "FinalImageProduct",
    "ImageProduct",
    "ProductDescription",
    "SnrMapProduct",
    "header_from_meta",
    "inherited_cards",
    "meta_from_header",
    "read_image_product",
    "software_versions",
    "table_category",
    "write_preview",
]
