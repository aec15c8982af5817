"""ADI/RDI PSF subtraction: physics and vip-hci parity."""

import numpy as np
import pytest

from hcdc_kernel.hci.adi import (
    adi_median,
    pca_annular,
    pca_full_frame,
    principal_components,
)
from hcdc_kernel.hci.fakes import companion_xy
from hcdc_kernel.hci.snr import aperture_sums

# vip-hci warns at import about optional bindings (OpenCV, torch) it does not need here.
pytestmark = pytest.mark.filterwarnings("ignore::ImportWarning")

VIP_ROT = {"imlib": "skimage", "interpolation": "biquintic", "verbose": False}


def _rel(ours, theirs):
    return np.abs(ours - theirs).max() / np.abs(theirs).max()


def test_principal_components_match_svd():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(12, 300)) @ np.diag(np.linspace(1, 3, 300))
    comps = principal_components(matrix, 4)
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    # Same subspace: the projectors agree.
    np.testing.assert_allclose(comps.T @ comps, vt[:4].T @ vt[:4], atol=1e-10)


def test_pca_removes_a_static_speckle_pattern(make_adi_cube):
    data = make_adi_cube(noise=0.1, companions=[(12.0, 45.0, 80.0)])
    result = pca_full_frame(data.cube, data.angles, ncomp=1)
    x, y = companion_xy(data.cube.shape, sep_px=[12.0], pa_deg=[45.0])
    # Away from the companion, the residual is at the noise level, far below the speckles.
    yy, xx = np.mgrid[: data.cube.shape[1], : data.cube.shape[2]]
    far = np.hypot(xx - x[0], yy - y[0]) > 6
    ring = far & (np.hypot(xx - 20, yy - 20) > 4) & (np.hypot(xx - 20, yy - 20) < 18)
    assert np.abs(result.final[ring]).std() < 0.02 * np.abs(data.speckles[ring]).std()
    # The companion survives.
    flux = aperture_sums(result.final, x=x, y=y, radius=data.fwhm / 2)[0]
    assert flux > 0.5 * 80.0
    assert result.residuals.shape == data.cube.shape
    assert result.algorithm == "pca_full_frame"
    assert result.params["ncomp"] == 1


def test_median_adi_removes_static_speckles(make_adi_cube):
    data = make_adi_cube(noise=0.0)
    result = adi_median(data.cube, data.angles)
    assert np.abs(result.final).max() < 1e-6 * np.abs(data.speckles).max()


def test_rdi_learns_the_basis_on_the_reference(make_adi_cube):
    science = make_adi_cube(noise=0.1, companions=[(10.0, 0.0, 60.0)], seed=1)
    reference = make_adi_cube(noise=0.1, seed=1)  # same speckles, no companion
    result = pca_full_frame(science.cube, science.angles, ncomp=2, reference_cube=reference.cube)
    x, y = companion_xy(science.cube.shape, sep_px=[10.0], pa_deg=[0.0])
    # No self-subtraction in RDI: most of the flux is recovered.
    flux = aperture_sums(result.final, x=x, y=y, radius=science.fwhm / 2)[0]
    assert flux == pytest.approx(60.0, rel=0.1)
    assert result.params["rdi"] is True


@pytest.mark.parametrize("mask", [None, 4])
def test_pca_full_frame_matches_vip(make_adi_cube, mask):
    from vip_hci.psfsub import pca

    data = make_adi_cube(variable_speckles=5.0, companions=[(11.0, 100.0, 40.0)])
    ours = pca_full_frame(data.cube, data.angles, ncomp=3, mask_center_px=mask)
    theirs = pca(data.cube, data.angles, ncomp=3, mask_center_px=mask, **VIP_ROT)
    assert _rel(ours.final, theirs) < 1e-6


def test_rdi_matches_vip(make_adi_cube):
    from vip_hci.psfsub import pca

    data = make_adi_cube(variable_speckles=5.0)
    ref = make_adi_cube(variable_speckles=5.0, seed=5).cube[::-1]
    ours = pca_full_frame(data.cube, data.angles, ncomp=3, reference_cube=ref)
    theirs = pca(data.cube, data.angles, ncomp=3, cube_ref=ref, **VIP_ROT)
    assert _rel(ours.final, theirs) < 1e-6


@pytest.mark.parametrize(("delta_rot", "asize", "radius_int"), [(1.0, 4.0, 4), (0.5, 3.0, 2)])
def test_pca_annular_matches_vip(make_adi_cube, delta_rot, asize, radius_int):
    from vip_hci.psfsub import pca_annular as vip_pca_annular

    data = make_adi_cube(variable_speckles=5.0, companions=[(9.0, 200.0, 40.0)])
    ours = pca_annular(
        data.cube, data.angles, ncomp=2, fwhm=data.fwhm, delta_rot=delta_rot, asize=asize,
        radius_int=radius_int,
    )
    theirs = vip_pca_annular(
        data.cube, data.angles, ncomp=2, fwhm=data.fwhm, delta_rot=delta_rot, asize=asize,
        radius_int=radius_int, nproc=1, **VIP_ROT,
    )
    assert _rel(ours.final, theirs) < 1e-6


@pytest.mark.parametrize("mask", [None, 3])
def test_median_adi_matches_vip(make_adi_cube, mask):
    from vip_hci.psfsub import median_sub

    data = make_adi_cube(variable_speckles=5.0)
    ours = adi_median(data.cube, data.angles, mask_center_px=mask)
    theirs = median_sub(data.cube, data.angles, radius_int=mask or 0, **VIP_ROT)
    assert _rel(ours.final, theirs) < 1e-6


def test_bad_inputs_give_clear_errors(make_adi_cube):
    data = make_adi_cube(n_frames=6)
    with pytest.raises(ValueError, match="6 frames but 5 angles"):
        pca_full_frame(data.cube, data.angles[:5], ncomp=1)
    cube = data.cube.copy()
    cube[2, 3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        adi_median(cube, data.angles)
    with pytest.raises(ValueError, match="ncomp"):
        pca_full_frame(data.cube, data.angles, ncomp=7)
    with pytest.raises(ValueError, match="library"):
        pca_annular(data.cube, data.angles, ncomp=1, fwhm=4.0, delta_rot=50.0, radius_int=4)
