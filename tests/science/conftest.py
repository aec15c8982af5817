"""Shared fixtures for the high-contrast science tests.

* ``naco_betapic``: the real NACO beta Pictoris ADI sequence from
  ``../shared/data/naco_betapic`` (cube (61, 101, 101), angles (61,), PSF (39, 39)),
  skipping the test when the shared data is absent. The star is NOT exactly
  centred in this cube: recentre before anything that needs the star centre.
* ``make_adi_cube``: a factory of synthetic ADI cubes (static speckles + noise +
  optional companions that rotate with the parallactic angles), small enough
  for unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

NACO_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "naco_betapic"


@dataclass(frozen=True, eq=False)
class NacoBetaPic:
    """The NACO beta Pic sequence (float64 arrays)."""

    cube: np.ndarray
    angles: np.ndarray
    psf: np.ndarray
    fwhm: float = 4.6
    pxscale: float = 0.02719
    directory: Path = NACO_DIR


@pytest.fixture(scope="session")
def naco_betapic() -> NacoBetaPic:
    """The real NACO data, or a skip naming the missing path."""
    files = [NACO_DIR / f"naco_betapic_{name}.fits" for name in ("cube", "pa", "psf")]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        pytest.skip(f"NACO beta Pic data not found ({', '.join(missing)}); ../shared is absent")
    cube, angles, psf = (np.asarray(fits.getdata(f), dtype=np.float64) for f in files)
    return NacoBetaPic(cube=cube, angles=angles.reshape(-1), psf=psf)


def gaussian_psf(size: int, fwhm: float, *, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    """A circular Gaussian of unit peak on a (size, size) grid centred at size // 2 + (x0, y0)."""
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    c = size // 2
    yy, xx = np.mgrid[:size, :size]
    return np.exp(-((xx - c - x0) ** 2 + (yy - c - y0) ** 2) / (2.0 * sigma**2))


@dataclass(frozen=True, eq=False)
class SyntheticAdi:
    """A synthetic ADI sequence and what was put in it.

    ``companions`` lists (sep_px, pa_deg, flux) with flux in units of ``psf``
    (the PSF normalised to unit flux in a 1xFWHM aperture); ``speckles`` is the
    static pattern (star halo + speckles) common to all frames.
    """

    cube: np.ndarray
    angles: np.ndarray
    psf: np.ndarray
    fwhm: float
    speckles: np.ndarray
    companions: Sequence[tuple[float, float, float]] = field(default_factory=tuple)


def _make_adi_cube(
    *,
    n_frames: int = 24,
    size: int = 41,
    fwhm: float = 4.0,
    rotation_deg: float = 80.0,
    speckle_amplitude: float = 50.0,
    noise: float = 0.5,
    companions: Sequence[tuple[float, float, float]] = (),
    variable_speckles: float = 0.0,
    seed: int = 0,
) -> SyntheticAdi:
    from hcdc_kernel.hci.fakes import inject_companions, normalize_psf

    rng = np.random.default_rng(seed)
    c = size // 2
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - c, yy - c)
    halo = 1e3 * np.exp(-r / 3.0)
    # Speckles: smoothed random field modulated by the halo, fixed in the pupil frame.
    from scipy.ndimage import gaussian_filter

    field_ = gaussian_filter(rng.normal(size=(size, size)), fwhm / 2.355)
    field_ /= field_.std()
    speckles = halo + speckle_amplitude * field_ * np.exp(-r / 15.0)
    angles = np.linspace(-rotation_deg / 2.0, rotation_deg / 2.0, n_frames)
    cube = np.repeat(speckles[None], n_frames, axis=0)
    if variable_speckles:
        drift = gaussian_filter(rng.normal(size=(size, size)), fwhm / 2.355)
        cube += variable_speckles * np.linspace(-1, 1, n_frames)[:, None, None] * drift[None]
    cube = cube + rng.normal(scale=noise, size=cube.shape)
    psf_raw = gaussian_psf(4 * int(np.ceil(fwhm)) + 1, fwhm)
    psf = normalize_psf(psf_raw, fwhm=fwhm)
    if companions:
        seps, pas, fluxes = (np.array(v, dtype=float) for v in zip(*companions, strict=True))
        cube = inject_companions(cube, psf, angles, flux=fluxes, sep_px=seps, pa_deg=pas)
    return SyntheticAdi(
        cube=cube,
        angles=angles,
        psf=psf,
        fwhm=fwhm,
        speckles=speckles,
        companions=tuple(companions),
    )


@pytest.fixture
def make_adi_cube() -> Callable[..., SyntheticAdi]:
    """Factory of synthetic ADI cubes.

    Keyword arguments: ``n_frames`` (24), ``size`` (41, odd or even), ``fwhm``
    (4.0 px), ``rotation_deg`` (80, total field rotation), ``speckle_amplitude``
    (50), ``noise`` (0.5, white noise sigma), ``companions`` (sequence of
    (sep_px, pa_deg, flux)), ``variable_speckles`` (0: amplitude of a speckle
    pattern drifting linearly in time), ``seed`` (0).
    """
    return _make_adi_cube
