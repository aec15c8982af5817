"""Rotation: vip-hci parity and geometry."""

import numpy as np
import pytest

from hcdc_kernel.hci.rotation import INTERPOLATION_ORDERS, derotate_cube, frame_center, rotate_frame

# vip-hci warns at import about optional bindings (OpenCV, torch) it does not need here.
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning")


@pytest.mark.parametrize("shape", [(41, 41), (40, 40), (33, 41)])
def test_frame_center_matches_vip(shape):
    from vip_hci.var import frame_center as vip_center

    assert frame_center(shape) == vip_center(np.zeros(shape))


@pytest.mark.parametrize("interpolation", [k for k in INTERPOLATION_ORDERS if k != "fft"])
def test_derotate_matches_vip_skimage(interpolation):
    from vip_hci.preproc import cube_derotate

    rng = np.random.default_rng(3)
    cube = rng.normal(size=(5, 31, 31)) + np.hypot(*np.mgrid[-15:16, -15:16])[None]
    angles = rng.uniform(-170, 170, 5)
    ours = derotate_cube(cube, angles, interpolation=interpolation)
    vip_name = "nearneig" if interpolation == "nearest" else interpolation
    theirs = cube_derotate(cube, angles, imlib="skimage", interpolation=vip_name)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * np.abs(theirs).max())


def test_point_source_moves_by_the_angle():
    frame = np.zeros((41, 41))
    frame[20, 30] = 1.0  # 10 px along +x from the centre (20, 20)
    rotated = rotate_frame(frame, 90.0, interpolation="bilinear")
    # A positive angle is clockwise with y up: +x goes to -y.
    assert np.unravel_index(np.argmax(rotated), rotated.shape) == (10, 20)


def test_derotation_aligns_a_source_that_rotates_with_the_field(make_adi_cube):
    data = make_adi_cube(speckle_amplitude=0.0, noise=0.0, companions=[(12.0, 30.0, 100.0)])
    residual = data.cube - data.speckles[None]
    derotated = derotate_cube(residual, data.angles)
    peaks = {np.unravel_index(np.argmax(f), f.shape) for f in derotated}
    assert len(peaks) == 1
    y, x = peaks.pop()
    pa = np.rad2deg(np.arctan2(y - 20, x - 20)) - 90.0
    assert abs(pa - 30.0) < 5.0
    assert abs(np.hypot(y - 20, x - 20) - 12.0) < 1.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="angles"):
        derotate_cube(np.zeros((3, 9, 9)), [0.0, 1.0])
    with pytest.raises(ValueError, match="interpolation"):
        derotate_cube(np.zeros((2, 9, 9)), [0.0, 1.0], interpolation="lanczos")  # type: ignore[arg-type]


def test_fourier_rotation_is_close_to_vip_fft_and_splines():
    from scipy.ndimage import gaussian_filter
    from vip_hci.preproc import frame_rotate

    rng = np.random.default_rng(5)
    image = np.pad(gaussian_filter(rng.normal(size=(33, 33)), 2.0), 4)
    inner = (slice(8, -8), slice(8, -8))
    for angle in (12.0, -37.0, 101.0, 233.0):
        fft = rotate_frame(image, angle, interpolation="fft")
        spline = rotate_frame(image, angle, interpolation="biquintic")
        vip = frame_rotate(image, angle, imlib="vip-fft")
        scale = np.abs(image).max()
        assert np.abs(fft - vip)[inner].max() < 0.01 * scale
        assert np.abs(fft - spline)[inner].max() < 0.05 * scale


def test_fourier_rotation_preserves_flux():
    image = np.zeros((41, 41))
    image[18:23, 25:30] = 1.0
    cube = derotate_cube(np.stack([image, image]), [33.0, -71.0], interpolation="fft")
    # Only the ringing of the sharp box edges that leaves the field is lost.
    np.testing.assert_allclose(cube.sum(axis=(1, 2)), image.sum(), rtol=1e-3)
