"""A HAWAII-2RG-like detector for synthetic IRDIS frames: offset, dark current, flat, noise.

Raw counts follow the usual model that dark, background and flat calibrations undo:
``raw = offset + dark_rate · DIT + flat · flux · DIT + noise`` with photon noise on
everything collected and Gaussian read noise (Finger et al. 2008, SPIE 7021 for the IRDIS
detector; Dohlen et al. 2008 for IRDIS). Counts are ADU (float32 on disk, as IRDIS writes its
up-the-ramp ``Nondest`` frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class DetectorModel:
    """Pixel maps of one detector (``ny`` × ``nx``), fixed for a whole observing run.

    Attributes
    ----------
    offset_adu : numpy.ndarray
        Per-pixel electronic offset (a constant per readout channel plus fixed pattern).
    dark_rate : numpy.ndarray
        Dark current, ADU/s, with a sprinkle of hot pixels.
    flat : numpy.ndarray
        Relative pixel response (mean 1 in each field), with a few dead pixels.
    read_noise_adu : float
        RMS read noise per frame.
    gain_e_per_adu : float
        Conversion gain, used for photon noise.
    """

    offset_adu: FloatArray
    dark_rate: FloatArray
    flat: FloatArray
    read_noise_adu: float = 3.0
    gain_e_per_adu: float = 1.75

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        *,
        shape: tuple[int, int],
        hot_fraction: float = 2e-3,
        dead_fraction: float = 5e-4,
    ) -> DetectorModel:
        """Draw a detector: 32-column readout channels, hot and dead pixels, vignetting."""
        ny, nx = shape
        channel_offsets = rng.normal(30.0, 4.0, size=int(np.ceil(nx / 32)))
        offset = np.repeat(channel_offsets, 32)[:nx][None, :] + rng.normal(0.0, 0.5, shape)
        dark = np.full(shape, 0.05) + rng.exponential(0.02, shape)
        hot = rng.random(shape) < hot_fraction
        dark[hot] = rng.uniform(20.0, 400.0, int(hot.sum()))
        flat = rng.normal(1.0, 0.015, shape)
        # Each half of the detector sees its own field, vignetted towards the edges.
        half = nx // 2
        y, x = np.indices((ny, half), dtype=np.float64)
        r2 = ((x - half / 2) ** 2 + (y - ny / 2) ** 2) / (ny / 2) ** 2
        vignetting = 1.0 - 0.06 * r2
        flat *= np.concatenate([vignetting, 0.97 * vignetting], axis=1)
        dead = rng.random(shape) < dead_fraction
        flat[dead] = rng.uniform(0.0, 0.1, int(dead.sum()))
        return cls(offset_adu=offset, dark_rate=dark, flat=flat)

    @property
    def shape(self) -> tuple[int, int]:
        """Detector shape ``(ny, nx)``."""
        ny, nx = self.offset_adu.shape
        return ny, nx

    def read_out(
        self,
        rng: np.random.Generator,
        *,
        flux: FloatArray,
        dit: float,
        ndit: int,
    ) -> Float32Array:
        """Raw cube ``(ndit, ny, nx)`` for an incoming ``flux`` (ADU/s before the flat).

        ``flux`` is either one image (the same every DIT) or one per DIT.
        """
        incoming = np.broadcast_to(flux, (ndit, *self.shape))
        collected = self.dark_rate * dit + self.flat * incoming * dit
        sigma = np.sqrt(
            np.clip(collected, 0.0, None) / self.gain_e_per_adu + self.read_noise_adu**2
        )
        noise = rng.standard_normal(collected.shape) * sigma
        return np.asarray(self.offset_adu + collected + noise, dtype=np.float32)
