"""Benchmark hcdc's high-contrast science against vip-hci, in one process.

Runs on the same inputs, checks the results agree, prints time ratios:

* S/N map (Mawet et al. 2014) on a PCA image of the NACO beta Pic cube, against
  ``vip_hci.metrics.snrmap`` (goal: >= 10x faster);
* contrast curve (full-frame PCA) on the NACO cube, against
  ``vip_hci.metrics.contrast_curve`` (goal: >= 3x faster, within 10 %);
* full-frame PCA of a synthetic 200 x 400 x 400 cube, against
  ``vip_hci.psfsub.pca`` and the floor "numpy SVD + one rotation of every frame"
  (goal: within 1.5x of the floor); with torch, also the GPU decomposition.

Usage: ``python bench/science.py [--quick]`` (``--quick``: a 100 x 200 x 200 PCA
cube and no vip-hci PCA with its slow Fourier rotation).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

NACO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "naco_betapic"


def timed(function: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """Result and best wall time of ``repeat`` calls."""
    best = np.inf
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def synthetic_cube(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Static speckles + a slowly varying pattern + white noise, with 80 deg of rotation."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    c = size // 2
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - c, yy - c)
    speckles = 1e3 * np.exp(-r / 5) + 30 * gaussian_filter(rng.normal(size=(size, size)), 2)
    drift = gaussian_filter(rng.normal(size=(size, size)), 2)
    cube = speckles[None] + 3 * np.linspace(-1, 1, n)[:, None, None] * drift[None]
    cube += rng.normal(scale=0.5, size=cube.shape)
    return cube, np.linspace(-40, 40, n)


def bench_naco() -> None:
    from astropy.io import fits
    from vip_hci.metrics import contrast_curve as vip_contrast_curve
    from vip_hci.metrics import snrmap
    from vip_hci.psfsub import pca

    from hcdc_kernel.hci.adi import pca_full_frame
    from hcdc_kernel.hci.contrast import contrast_curve
    from hcdc_kernel.hci.snr import snr_map

    cube = np.asarray(fits.getdata(NACO / "naco_betapic_cube.fits"), dtype=np.float64)
    angles = np.asarray(fits.getdata(NACO / "naco_betapic_pa.fits"), dtype=np.float64).ravel()
    psf = np.asarray(fits.getdata(NACO / "naco_betapic_psf.fits"), dtype=np.float64)
    fwhm, pxscale, starphot = 4.6, 0.02719, 764939.6  # starphot: VIP tutorial value
    print(f"NACO beta Pic cube {cube.shape} (beta Pic b left in: both codes see the same data)")

    image = pca_full_frame(cube, angles, ncomp=5).final
    ours, t_ours = timed(lambda: snr_map(image, fwhm=fwhm), repeat=3)
    theirs, t_vip = timed(lambda: snrmap(image, fwhm, nproc=1, verbose=False))
    defined = theirs != 0
    diff = rel_diff(ours[defined], theirs[defined])
    print(
        f"S/N map        hcdc {t_ours:6.3f} s  vip {t_vip:6.2f} s  "
        f"speed-up {t_vip / t_ours:5.1f}x  max rel diff {diff:.1e}"
    )

    vip_cc, t_vip = timed(
        lambda: vip_contrast_curve(
            cube, angles, psf, fwhm, pxscale, starphot, pca, ncomp=5, plot=False, verbose=False
        )
    )
    reference = vip_cc["sensitivity_student"].to_numpy()
    for interpolation in ("fft", "biquintic"):
        result, t_ours = timed(
            lambda interpolation=interpolation: contrast_curve(
                cube, angles, psf, fwhm=fwhm, pxscale=pxscale, starphot=starphot,
                algorithm="pca_full_frame",
                algo_params={"ncomp": 5, "interpolation": interpolation},
            )
        )
        worst = float(np.max(np.abs(result.contrast / reference - 1)))
        print(
            f"contrast curve hcdc[{interpolation:9s}] {t_ours:6.2f} s  vip {t_vip:6.2f} s  "
            f"speed-up {t_vip / t_ours:5.1f}x  max |ratio-1| {worst:.3f} over "
            f"{result.contrast.size} separations"
        )


def bench_pca(n: int, size: int, *, with_vip: bool) -> None:
    from hcdc_kernel.hci.adi import pca_full_frame
    from hcdc_kernel.hci.rotation import derotate_cube

    cube, angles = synthetic_cube(n, size)
    ncomp = 10
    print(f"synthetic cube {cube.shape}, ncomp={ncomp}")
    matrix = cube.reshape(n, -1)
    _, t_svd = timed(lambda: np.linalg.svd(matrix, full_matrices=False))
    for interpolation in ("biquintic", "fft"):
        _, t_rot = timed(lambda interpolation=interpolation: derotate_cube(
            cube, angles, interpolation=interpolation))
        _, t_pca = timed(lambda interpolation=interpolation: pca_full_frame(
            cube, angles, ncomp=ncomp, interpolation=interpolation))
        floor = t_svd + t_rot
        print(
            f"PCA[{interpolation:9s}] hcdc {t_pca:6.2f} s  floor (svd {t_svd:.2f} + rotation "
            f"{t_rot:.2f}) {floor:6.2f} s  ratio {t_pca / floor:4.2f}"
        )
    if importlib.util.find_spec("torch") is not None:
        _, t_gpu = timed(lambda: pca_full_frame(cube, angles, ncomp=ncomp, backend="torch"))
        print(f"PCA[torch    ] hcdc {t_gpu:6.2f} s")
    if with_vip:
        from vip_hci.psfsub import pca

        ours = pca_full_frame(cube, angles, ncomp=ncomp).final
        theirs, t_vip = timed(lambda: pca(
            cube, angles, ncomp=ncomp, imlib="skimage", interpolation="biquintic", verbose=False))
        diff = rel_diff(ours, theirs)
        print(f"PCA vip(skimage biquintic) {t_vip:6.2f} s  max rel diff {diff:.1e}")
        ours_fft, t_fft = timed(lambda: pca_full_frame(
            cube, angles, ncomp=ncomp, interpolation="fft"))
        theirs, t_vip = timed(lambda: pca(cube, angles, ncomp=ncomp, verbose=False))
        print(
            f"PCA vip(default vip-fft)   {t_vip:6.2f} s  hcdc[fft] {t_fft:.2f} s  speed-up "
            f"{t_vip / t_fft:4.1f}x  max rel diff {rel_diff(ours_fft.final, theirs):.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller PCA cube, no vip-hci PCA")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if NACO.exists():
        bench_naco()
    else:
        print(f"NACO data not found at {NACO}: skipping the S/N map and contrast curve")
    if args.quick:
        bench_pca(100, 200, with_vip=False)
    else:
        bench_pca(200, 400, with_vip=True)


if __name__ == "__main__":
    main()
