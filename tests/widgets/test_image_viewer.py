"""The interactive image viewer: readout, separation/PA, zoom, stretch, markers, cubes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hcdc_widgets.image_viewer import ImageViewer, cursor_text, separation_pa


def test_separation_and_position_angle_follow_the_north_up_east_left_convention():
    star = (50.0, 50.0)
    assert separation_pa(50.0, 60.0, star=star, pixel_scale_mas=12.25) == pytest.approx(
        (122.5, 0.0)
    )  # north
    assert separation_pa(40.0, 50.0, star=star, pixel_scale_mas=None)[1] == pytest.approx(90.0)
    assert separation_pa(50.0, 40.0, star=star, pixel_scale_mas=None)[1] == pytest.approx(180.0)
    assert separation_pa(60.0, 50.0, star=star, pixel_scale_mas=None)[1] == pytest.approx(270.0)
    sep, _ = separation_pa(53.0, 54.0, star=star, pixel_scale_mas=27.19)
    assert sep == pytest.approx(5.0 * 27.19)


def test_cursor_text_names_pixel_value_and_offsets():
    text = cursor_text(3.0, 4.0, 12.5, star=(0.0, 0.0), pixel_scale_mas=10.0)
    assert text.startswith("x=3.0 y=4.0  value=12.5  sep=50.0 mas PA=")
    assert "value=—" in cursor_text(1.0, 1.0, float("nan"))
    assert "sep" not in cursor_text(1.0, 1.0, 1.0)


def test_read_out_gives_the_pixel_value_under_the_cursor():
    data = np.arange(40 * 30, dtype=float).reshape(30, 40)  # value = 40 y + x
    viewer = ImageViewer(data, star=(20.0, 15.0), pixel_scale_mas=12.25)
    reading = viewer.read_out(7.2, 11.4)  # nearest pixel (7, 11)
    assert reading["value"] == 40 * 11 + 7
    assert reading["separation"] == pytest.approx(math.hypot(7.2 - 20, 11.4 - 15) * 12.25)
    assert "value=447" in viewer._readout.value
    assert viewer.read_out(-3.0, 5.0)["value"] is None  # outside the image


def test_zoom_and_reset_change_the_visible_range():
    viewer = ImageViewer(np.zeros((64, 128)))
    assert viewer.view == {"x_min": -0.5, "x_max": 127.5, "y_min": -0.5, "y_max": 63.5}
    viewer.zoom(4.0, center=(100.0, 20.0))
    assert viewer.view["x_max"] - viewer.view["x_min"] == pytest.approx(32.0)
    assert (viewer.view["x_min"] + viewer.view["x_max"]) / 2 == pytest.approx(100.0)
    assert "zoom ×4.00" in viewer._view_label.value
    viewer.reset_zoom()
    assert viewer.view["x_max"] == 127.5
    with pytest.raises(ValueError, match="positive"):
        viewer.zoom(0)


def test_stretch_interval_and_colour_bar():
    rng = np.random.default_rng(1)
    data = rng.normal(100.0, 5.0, (50, 50))
    data[25, 25] = 1e5  # a bright star: min-max is dominated by it, zscale is not
    viewer = ImageViewer(data)
    assert viewer._colors.max < 200  # zscale on the background
    viewer.interval = "minmax"
    assert viewer._colors.max == pytest.approx(1e5)
    viewer.stretch = "log"
    shown = np.asarray(viewer._image.image)
    assert (viewer._colors.min, viewer._colors.max) == (0.0, 1.0)
    assert shown.max() == pytest.approx(1.0) and shown.min() >= 0.0
    viewer.colormap = "viridis"
    assert viewer._colors.scheme == "viridis" and not viewer._colors.reverse


def test_cube_planes_markers_and_bad_shapes():
    cube = np.stack([np.full((8, 8), float(i)) for i in range(3)])
    viewer = ImageViewer(cube, markers=[{"x": 2, "y": 3, "label": "b"}])
    assert viewer._plane.max == 2
    viewer.plane = 2
    assert viewer.read_out(1, 1)["value"] == 2.0
    assert list(viewer._markers.x) == [2.0] and list(viewer._markers.names) == ["b"]
    with pytest.raises(ValueError, match="image or a cube"):
        viewer.show(np.zeros(5))
