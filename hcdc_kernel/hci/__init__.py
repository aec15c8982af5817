"""High-contrast imaging algorithms on numpy arrays (no file I/O).

Cubes are (n_frames, ny, nx); angles are parallactic angles in degrees as
vip-hci takes them; the star is at ``(ny // 2, nx // 2)``; positions are 0-based
(x, y) pixels; position angles are east of north.
"""

from hcdc_kernel.hci.adi import AdiResult, adi_median, pca_annular, pca_full_frame
from hcdc_kernel.hci.contrast import ContrastCurveResult, contrast_curve, noise_per_annulus
from hcdc_kernel.hci.fakes import inject_companions, normalize_psf, psf_aperture_flux
from hcdc_kernel.hci.rotation import derotate_cube, frame_center, rotate_frame
from hcdc_kernel.hci.snr import SnrMeasurement, aperture_sums, snr_at, snr_map

__all__ = [
    "AdiResult",
    "ContrastCurveResult",
    "SnrMeasurement",
    "adi_median",
    "aperture_sums",
    "contrast_curve",
    "derotate_cube",
    "frame_center",
    "inject_companions",
    "noise_per_annulus",
    "normalize_psf",
    "pca_annular",
    "pca_full_frame",
    "psf_aperture_flux",
    "rotate_frame",
    "snr_at",
    "snr_map",
]
