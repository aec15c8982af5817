"""FITS views for the detail panes: a searchable header and an image with stretch and slider."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import numpy as np
import traitlets
from astropy.visualization import (
    AsinhStretch,
    ImageNormalize,
    LinearStretch,
    LogStretch,
    MinMaxInterval,
    ZScaleInterval,
)
from numpy.typing import NDArray

from hcdc_kernel.client.products import MAX_IMAGE_BYTES, check_image_size
from hcdc_widgets.markup import format_html, join, pre

__all__ = ["HeaderView", "ImageView", "render_png"]

_STRETCHES = {"linear": LinearStretch, "log": LogStretch, "asinh": AsinhStretch}
_INTERVALS = {"zscale": ZScaleInterval, "minmax": MinMaxInterval}


def render_png(
    image: NDArray[Any], *, interval: str = "zscale", stretch: str = "linear", cmap: str = "gray"
) -> bytes:
    """``image`` normalised (ZScale or min-max interval, then a stretch) as PNG bytes.

    ZScale is IRAF's display interval (Tody 1986); astropy implements it.
    """
    import matplotlib.pyplot as plt

    data = np.asarray(image, dtype=float)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        data = np.zeros_like(data)
        finite = data.ravel()
    norm = ImageNormalize(finite, interval=_INTERVALS[interval](), stretch=_STRETCHES[stretch]())
    scaled = np.nan_to_num(np.ma.filled(norm(data), 0.0))
    buffer = io.BytesIO()
    plt.imsave(buffer, scaled, cmap=cmap, origin="lower", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


class HeaderView(w.VBox):
    """A FITS header as keyword = value lines, filtered by a search box (case-insensitive)."""

    search = traitlets.Unicode("")

    def __init__(self) -> None:
        self._cards: list[tuple[str, str]] = []
        self._search = w.Text(placeholder="search keywords or values", description="Search")
        self._text = w.HTML(layout=w.Layout(max_height="320px", overflow="auto"))
        super().__init__([self._search, self._text])
        traitlets.link((self._search, "value"), (self, "search"))
        self.observe(lambda _: self._render(), "search")

    def show(self, header: Mapping[str, Any]) -> None:
        """Display ``header`` (keyword -> value)."""
        self._cards = [(str(k), str(v)) for k, v in header.items()]
        self._render()

    @property
    def visible_keywords(self) -> list[str]:
        """Keywords that match the search."""
        needle = self.search.lower()
        return [k for k, v in self._cards if needle in k.lower() or needle in v.lower()]

    def _render(self) -> None:
        shown = set(self.visible_keywords)
        lines = [format_html("{:<30} = {}", k, v) for k, v in self._cards if k in shown]
        self._text.value = pre(join("\n", lines), style="font-size:11px;margin:0")


class ImageView(w.VBox):
    """An image (or a cube, a slice at a time) with ZScale/min-max interval and stretches."""

    plane = traitlets.Int(0)
    stretch = traitlets.Unicode("linear")
    interval = traitlets.Unicode("zscale")
    #: Largest HDU :meth:`show_hdu` loads (bytes once loaded, decompressed); larger is refused.
    max_image_bytes = traitlets.Int(MAX_IMAGE_BYTES)

    def __init__(self, *, width: str = "360px") -> None:
        self._data: NDArray[Any] | None = None
        self._image = w.Image(format="png", layout=w.Layout(width=width))
        self._stretch = w.Dropdown(options=list(_STRETCHES), description="Stretch")
        self._interval = w.Dropdown(options=list(_INTERVALS), description="Interval")
        self._slider = w.IntSlider(description="Plane", min=0, max=0, disabled=True)
        self._caption = w.Label()
        super().__init__(
            [w.HBox([self._interval, self._stretch]), self._slider, self._image, self._caption]
        )
        traitlets.link((self._stretch, "value"), (self, "stretch"))
        traitlets.link((self._interval, "value"), (self, "interval"))
        traitlets.link((self._slider, "value"), (self, "plane"))
        self.observe(lambda _: self._render(), ["plane", "stretch", "interval"])

    def show(self, data: NDArray[Any] | None, *, caption: str = "") -> None:
        """Display a 2-D image or a cube (first axis: planes); ``None`` clears the view."""
        self._caption.value = caption
        if data is None:
            self._data = None
            self._image.value = b""
            return
        array = np.asarray(data)
        while array.ndim > 3:
            array = array[0]
        self._data = array
        planes = array.shape[0] if array.ndim == 3 else 1
        self._slider.max = max(planes - 1, 0)
        self._slider.disabled = planes <= 1
        self.plane = min(self.plane, planes - 1)
        self._render()

    def show_hdu(self, hdu: Any, *, caption: str = "") -> None:
        """Display an image HDU, its size checked from its header before its data is loaded.

        Raises
        ------
        ImageTooLargeError
            (a ValueError) above ``max_image_bytes``: the message gives the shape and size.
        """
        check_image_size(hdu, max_bytes=self.max_image_bytes)
        self.show(hdu.data, caption=caption)

    @property
    def png(self) -> bytes:
        """The PNG shown."""
        return bytes(self._image.value)

    def _render(self) -> None:
        if self._data is None:
            return
        image = self._data[self.plane] if self._data.ndim == 3 else self._data
        self._image.value = render_png(image, interval=self.interval, stretch=self.stretch)
