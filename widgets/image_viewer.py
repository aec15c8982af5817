"""ImageViewer: an interactive astronomical image for raw frames and products.

The image is drawn by bqplot-image-gl (WebGL, an ipywidget: works in JupyterLab and Voila,
offline) with bqplot's pan and zoom (drag and mouse wheel), a colour bar, an astropy interval
(ZScale, min-max or a percentile) and stretch (linear, sqrt, log, asinh), and a cursor readout:
pixel, value and, when the star position is known, separation and position angle from the star.
Companion markers (e.g. detections on an S/N map) are drawn over it with their labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    PercentileInterval,
    SqrtStretch,
    ZScaleInterval,
)
from numpy.typing import NDArray

from hcdc_widgets.markup import format_html

__all__ = ["INTERVALS", "STRETCHES", "ImageViewer", "cursor_text", "separation_pa"]

STRETCHES = {
    "linear": LinearStretch,
    "sqrt": SqrtStretch,
    "log": LogStretch,
    "asinh": AsinhStretch,
}
INTERVALS = {
    "zscale": ZScaleInterval,
    "minmax": MinMaxInterval,
    "99.5%": lambda: PercentileInterval(99.5),
    "99%": lambda: PercentileInterval(99.0),
}
COLORMAPS = ("Greys", "viridis", "inferno", "magma", "RdBu")


def separation_pa(
    x: float, y: float, *, star: tuple[float, float], pixel_scale_mas: float | None
) -> tuple[float, float]:
    """Separation (mas, or px without a pixel scale) and position angle (deg, east of north).

    The image is north up, east left (a derotated product): PA is measured from +y towards -x.
    """
    dx, dy = x - star[0], y - star[1]
    separation = math.hypot(dx, dy) * (pixel_scale_mas or 1.0)
    pa = math.degrees(math.atan2(-dx, dy)) % 360.0
    return separation, pa


def cursor_text(
    x: float,
    y: float,
    value: float | None,
    *,
    star: tuple[float, float] | None = None,
    pixel_scale_mas: float | None = None,
) -> str:
    """The readout line for the cursor at pixel (``x``, ``y``) (0-based, pixel centres)."""
    parts = [f"x={x:.1f} y={y:.1f}"]
    parts.append("value=—" if value is None or not np.isfinite(value) else f"value={value:.5g}")
    if star is not None:
        separation, pa = separation_pa(x, y, star=star, pixel_scale_mas=pixel_scale_mas)
        unit = "mas" if pixel_scale_mas else "px"
        parts.append(f"sep={separation:.1f} {unit} PA={pa:.1f}°")
    return "  ".join(parts)


class ImageViewer(w.VBox):
    """Zoom, pan, stretch and read out a 2-D image; cubes show one plane chosen by a slider.

    Attributes (traitlets)
    ----------------------
    interval, stretch, colormap : str
        Display interval (``zscale``, ``minmax``, ``99.5%``, ``99%``), stretch (``linear``,
        ``sqrt``, ``log``, ``asinh``) and colour map.
    plane : int
        The plane of a cube shown.
    cursor : dict
        The last cursor position read out: ``x``, ``y``, ``value`` (and ``separation``,
        ``pa`` where the star is known).
    view : dict
        The visible pixel range ``x_min``, ``x_max``, ``y_min``, ``y_max`` (changes on zoom/pan).
    """

    interval = traitlets.Unicode("zscale")
    stretch = traitlets.Unicode("linear")
    colormap = traitlets.Unicode("Greys")
    plane = traitlets.Int(0)
    cursor = traitlets.Dict()
    view = traitlets.Dict()

    def __init__(
        self,
        data: NDArray[Any] | None = None,
        *,
        star: tuple[float, float] | None = None,
        pixel_scale_mas: float | None = None,
        markers: Sequence[Mapping[str, Any]] = (),
        title: str = "",
        size_px: int = 480,
    ) -> None:
        import bqplot as bq
        from bqplot_image_gl import ImageGL
        from bqplot_image_gl.interacts import MouseInteraction

        self.star = star
        self.pixel_scale_mas = pixel_scale_mas
        self._cube: NDArray[np.float64] = np.zeros((1, 2, 2))
        self._x = bq.LinearScale(allow_padding=False)
        self._y = bq.LinearScale(allow_padding=False)
        # Greys runs white to black: reversed, bright pixels are white as astronomers expect.
        self._colors = bq.ColorScale(scheme=self.colormap, min=0.0, max=1.0, reverse=True)
        self._image = ImageGL(
            image=np.zeros((2, 2), dtype=np.float32),
            scales={"x": self._x, "y": self._y, "image": self._colors},
        )
        self._markers = bq.Scatter(
            x=[],
            y=[],
            names=[],
            display_names=True,
            scales={"x": self._x, "y": self._y},
            colors=["#ff3b30"],
            marker="circle",
            fill=False,
            stroke="#ff3b30",
            default_size=200,
        )
        axes = [
            bq.Axis(scale=self._x, label="x (px)"),
            bq.Axis(scale=self._y, orientation="vertical", label="y (px)"),
            bq.ColorAxis(scale=self._colors, orientation="vertical", side="right"),
        ]
        self._panzoom = bq.interacts.PanZoom(scales={"x": [self._x], "y": [self._y]})
        self._mouse = MouseInteraction(
            x_scale=self._x,
            y_scale=self._y,
            move_throttle=70,
            next=self._panzoom,
            events=["click", "mousemove"],
        )
        self.figure = bq.Figure(
            marks=[self._image, self._markers],
            axes=axes,
            interaction=self._mouse,
            title=title,
            min_aspect_ratio=1.0,
            max_aspect_ratio=1.0,
            fig_margin={"top": 40, "bottom": 50, "left": 60, "right": 90},
            layout=w.Layout(width=f"{size_px + 150}px", height=f"{size_px + 90}px"),
        )
        self._interval = w.Dropdown(
            options=list(INTERVALS), value=self.interval, description="Scale"
        )
        self._stretch = w.Dropdown(
            options=list(STRETCHES), value=self.stretch, description="Stretch"
        )
        self._colormap = w.Dropdown(
            options=list(COLORMAPS), value=self.colormap, description="Colours"
        )
        self._plane = w.IntSlider(description="Plane", min=0, max=0, continuous_update=False)
        self._reset = w.Button(description="Reset zoom", icon="expand")
        self._readout = w.HTML(value="move the cursor over the image")
        self._readout.add_class("hcdc-image-readout")
        self._view_label = w.HTML()
        self._view_label.add_class("hcdc-image-view")
        super().__init__(
            [
                w.HBox([self._interval, self._stretch, self._colormap]),
                w.HBox([self._plane, self._reset]),
                self.figure,
                self._readout,
                self._view_label,
            ]
        )
        self.add_class("hcdc-image-viewer")
        for control, name in (
            (self._interval, "interval"),
            (self._stretch, "stretch"),
            (self._colormap, "colormap"),
            (self._plane, "plane"),
        ):
            traitlets.link((control, "value"), (self, name))
        self.observe(lambda _: self._draw(), ["interval", "stretch", "plane"])
        self.observe(lambda change: self._set_colormap(change["new"]), "colormap")
        self._reset.on_click(lambda _: self.reset_zoom())
        for scale in (self._x, self._y):
            scale.observe(lambda _: self._on_scale_change(), ["min", "max"])
        self._mouse.on_msg(self._on_mouse)
        if data is not None:
            self.show(data, star=star, pixel_scale_mas=pixel_scale_mas)
        self.set_markers(markers)

    # -- data ----------------------------------------------------------------------------------

    def show(
        self,
        data: NDArray[Any],
        *,
        star: tuple[float, float] | None = None,
        pixel_scale_mas: float | None = None,
    ) -> None:
        """Show a 2-D image or a cube (``(n, ny, nx)``: the slider picks the plane)."""
        array = np.asarray(data, dtype=float)
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim != 3 or min(array.shape[1:]) < 1:
            raise ValueError(f"an image or a cube is needed, got shape {np.shape(data)}")
        self._cube = array
        self.star = star if star is not None else self.star
        self.pixel_scale_mas = (
            pixel_scale_mas if pixel_scale_mas is not None else self.pixel_scale_mas
        )
        self._plane.max = array.shape[0] - 1
        self.plane = min(self.plane, array.shape[0] - 1)
        self._draw()
        self.reset_zoom()

    @property
    def image(self) -> NDArray[np.float64]:
        """The plane shown (data values)."""
        return self._cube[self.plane]

    def _draw(self) -> None:
        plane = self.image
        finite = plane[np.isfinite(plane)]
        if finite.size == 0:
            finite = np.zeros(1)
        norm = ImageNormalize(
            finite, interval=INTERVALS[self.interval](), stretch=STRETCHES[self.stretch]()
        )
        ny, nx = plane.shape
        if self.stretch == "linear":
            # Linear: the colour bar reads data values between the interval's limits.
            shown = np.nan_to_num(plane, nan=float(norm.vmin)).astype(np.float32)
            self._colors.min, self._colors.max = float(norm.vmin), float(norm.vmax)
        else:
            shown = np.nan_to_num(np.ma.filled(norm(plane), 0.0)).astype(np.float32)
            self._colors.min, self._colors.max = 0.0, 1.0
        with self._image.hold_sync():
            self._image.image = shown
            # Pixel centres at integer coordinates: pixel (0, 0) covers -0.5..0.5.
            self._image.x = (-0.5, nx - 0.5)
            self._image.y = (-0.5, ny - 0.5)

    def _set_colormap(self, name: str) -> None:
        with self._colors.hold_sync():
            self._colors.scheme = name
            self._colors.reverse = name == "Greys"

    def set_markers(self, markers: Sequence[Mapping[str, Any]]) -> None:
        """Circle and label positions (dicts with ``x``, ``y`` and optionally ``label``)."""
        self._markers.x = [float(m["x"]) for m in markers]
        self._markers.y = [float(m["y"]) for m in markers]
        self._markers.names = [str(m.get("label", "")) for m in markers]

    # -- view ----------------------------------------------------------------------------------

    def reset_zoom(self) -> None:
        """Show the whole image."""
        ny, nx = self.image.shape
        with self._x.hold_sync(), self._y.hold_sync():
            self._x.min, self._x.max = -0.5, nx - 0.5
            self._y.min, self._y.max = -0.5, ny - 0.5

    def zoom(self, factor: float, *, center: tuple[float, float] | None = None) -> None:
        """Zoom by ``factor`` (>1: closer) around ``center`` (default: the view's centre)."""
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor}")
        x0, x1, y0, y1 = self._limits()
        cx, cy = center if center is not None else ((x0 + x1) / 2, (y0 + y1) / 2)
        half_x, half_y = (x1 - x0) / (2 * factor), (y1 - y0) / (2 * factor)
        with self._x.hold_sync(), self._y.hold_sync():
            self._x.min, self._x.max = cx - half_x, cx + half_x
            self._y.min, self._y.max = cy - half_y, cy + half_y

    def _limits(self) -> tuple[float, float, float, float]:
        ny, nx = self.image.shape
        x0 = -0.5 if self._x.min is None else float(self._x.min)
        x1 = nx - 0.5 if self._x.max is None else float(self._x.max)
        y0 = -0.5 if self._y.min is None else float(self._y.min)
        y1 = ny - 0.5 if self._y.max is None else float(self._y.max)
        return x0, x1, y0, y1

    def _on_scale_change(self) -> None:
        x0, x1, y0, y1 = self._limits()
        self.view = {"x_min": x0, "x_max": x1, "y_min": y0, "y_max": y1}
        nx = self.image.shape[1]
        zoom = nx / max(x1 - x0, 1e-9)
        self._view_label.value = format_html(
            "<small>view x {}–{}, y {}–{} (zoom ×{})</small>",
            f"{x0:.1f}",
            f"{x1:.1f}",
            f"{y0:.1f}",
            f"{y1:.1f}",
            f"{zoom:.2f}",
        )

    # -- cursor --------------------------------------------------------------------------------

    def read_out(self, x: float, y: float) -> dict[str, Any]:
        """Read the pixel under (``x``, ``y``) and show it in the readout line."""
        ny, nx = self.image.shape
        col, row = round(x), round(y)
        inside = 0 <= col < nx and 0 <= row < ny
        value = float(self.image[row, col]) if inside else None
        reading: dict[str, Any] = {"x": x, "y": y, "value": value}
        if self.star is not None:
            separation, pa = separation_pa(
                x, y, star=self.star, pixel_scale_mas=self.pixel_scale_mas
            )
            reading |= {"separation": separation, "pa": pa}
        self.cursor = reading
        text = cursor_text(x, y, value, star=self.star, pixel_scale_mas=self.pixel_scale_mas)
        self._readout.value = format_html("<code>{}</code>", text)
        return reading

    def _on_mouse(self, _widget: Any, content: Mapping[str, Any], _buffers: Any) -> None:
        if content.get("event") in ("mousemove", "click"):
            domain = content.get("domain") or {}
            if "x" in domain and "y" in domain:
                self.read_out(float(domain["x"]), float(domain["y"]))
