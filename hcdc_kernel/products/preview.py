"""PNG previews of image products, written beside them for the browsers.

A preview is the image (the median frame of a cube) as an 8-bit colour PNG, origin at the
bottom left as astronomers display FITS images, stretched between two percentiles of its finite
values (an S/N map on a fixed -3...+10 scale, so that previews compare). No figure is drawn:
the colour map is applied to the array and Pillow writes the file, which keeps previews fast and
free of any display or font cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["PREVIEW_CATEGORY", "SNR_RANGE", "preview_path", "write_preview"]

#: Product category of a PNG preview.
PREVIEW_CATEGORY = "HCI_PREVIEW"
#: Display range of S/N maps.
SNR_RANGE = (-3.0, 10.0)
_PERCENTILES = (1.0, 99.5)


def preview_path(product: Path) -> Path:
    """Where the preview of ``product`` goes: same folder and stem, ``.png``."""
    return Path(product).with_suffix(".png")


def _image(data: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(data, dtype=np.float64)
    if array.ndim == 3:
        array = np.nanmedian(array, axis=0) if array.shape[0] > 1 else array[0]
    if array.ndim != 2:
        raise ValueError(f"a preview needs a frame or a cube, got shape {array.shape}")
    return array


def write_preview(
    data: ArrayLike,
    path: Path,
    *,
    value_range: tuple[float, float] | None = None,
    cmap: str = "inferno",
) -> Path:
    """Write a PNG preview of an image or cube and return its path.

    Parameters
    ----------
    data : array_like, shape (ny, nx) or (n, ny, nx)
        The image (a cube is shown as its median frame).
    path : Path
        The PNG file.
    value_range : (low, high), optional
        Display range; by default the 1st and 99.5th percentiles of the finite values.
    cmap : str
        Matplotlib colour map.
    """
    from matplotlib import colormaps
    from PIL import Image

    image = _image(data)
    finite = image[np.isfinite(image)]
    if value_range is not None:
        low, high = value_range
    elif finite.size:
        low, high = (float(v) for v in np.percentile(finite, _PERCENTILES))
    else:
        low, high = 0.0, 1.0
    if not high > low:
        high = low + 1.0
    scaled = np.clip((np.nan_to_num(image, nan=low) - low) / (high - low), 0.0, 1.0)
    rgba = colormaps[cmap](scaled[::-1], bytes=True)  # row 0 at the bottom
    target = Path(path)
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(target, format="PNG")
    return target
