"""Fourier-optics images of one IRDIS channel: coronagraphic star, waffle spots, off-axis PSF.

The model is the textbook one for high-contrast imagers: a VLT pupil (8.2 m, 14 % central
obscuration) carrying a static optical path difference map, a perfect coronagraph that removes
the coherent on-axis field (Cavarroc et al. 2006, A&A 447, 397; Sivaramakrishnan et al. 2001)
plus a small leakage term for the dim core, and Fraunhofer propagation by FFT. The same OPD map
is used in both IRDIS channels, so speckles scale with wavelength as real quasi-static speckles
do (Racine et al. 1999, PASP 111, 587). The waffle pattern applied to the deformable mirror for
star-centre frames puts four satellite spots at a fixed separation in λ/D (Langlois et al. 2013,
Proc. AO4ELT3). Long-exposure tip-tilt jitter is a Gaussian blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft
from scipy.ndimage import gaussian_filter

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

#: VLT primary mirror and central obscuration (M2 shadow, as a fraction of the diameter).
TELESCOPE_DIAMETER_M = 8.2
CENTRAL_OBSCURATION = 0.14
#: IRDIS plate scale (Maire et al. 2016), arcsec per pixel.
IRDIS_PIXEL_SCALE_ARCSEC = 0.01225
_RAD_TO_ARCSEC = 180.0 / np.pi * 3600.0


def lambda_over_d_px(wavelength_um: float, *, pixel_scale_arcsec: float) -> float:
    """Size of λ/D in detector pixels for the VLT pupil."""
    return wavelength_um * 1e-6 / TELESCOPE_DIAMETER_M * _RAD_TO_ARCSEC / pixel_scale_arcsec


@dataclass(frozen=True)
class PupilAberrations:
    """A static optical path difference map, as a sum of sinusoids across the pupil.

    A sum of sinusoids can be evaluated at any pupil sampling, so the same physical map serves
    both IRDIS channels. Frequencies are in cycles per pupil diameter: a sinusoid of ``f``
    cycles puts a pair of speckles at ``f λ/D`` from the star.
    """

    fx: FloatArray
    fy: FloatArray
    amplitude_nm: FloatArray
    phase: FloatArray

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        *,
        rms_nm: float,
        max_cycles: float,
        min_cycles: float = 1.5,
        n_modes: int = 160,
    ) -> PupilAberrations:
        """Random map with a power spectral density ∝ f⁻² (typical of polished optics).

        Mode frequencies are drawn uniformly in the annulus ``min_cycles <= f <= max_cycles``
        and amplitudes ∝ 1/f, then rescaled so that the map has ``rms_nm`` RMS.
        """
        radius = np.sqrt(rng.uniform(min_cycles**2, max_cycles**2, n_modes))
        angle = rng.uniform(0.0, 2.0 * np.pi, n_modes)
        amplitude = 1.0 / radius * rng.rayleigh(1.0, n_modes)
        amplitude *= rms_nm / np.sqrt(np.sum(amplitude**2) / 2.0)
        return cls(
            fx=radius * np.cos(angle),
            fy=radius * np.sin(angle),
            amplitude_nm=amplitude,
            phase=rng.uniform(0.0, 2.0 * np.pi, n_modes),
        )

    def opd_nm(self, u: FloatArray, v: FloatArray) -> FloatArray:
        """OPD (nm) at pupil coordinates ``u``, ``v`` in units of the pupil radius."""
        # Argument 2π f (u / 2): u spans 2 radius units across one diameter.
        arg = np.pi * (np.multiply.outer(self.fx, u) + np.multiply.outer(self.fy, v))
        return np.asarray(
            np.tensordot(self.amplitude_nm, np.cos(arg + self.phase[:, None]), axes=1),
            dtype=np.float64,
        )


class ChannelOptics:
    """Images of one IRDIS channel on a ``size`` × ``size`` field, star near the centre.

    Images are in units of the total stellar flux (an off-axis PSF sums to 1), with rows along
    +y and columns along +x. The star sits at pixel ``(size / 2 + dx, size / 2 + dy)``
    (0-based, ``(x, y)``), with ``(dx, dy) = star_offset_px``.

    Parameters
    ----------
    size : int
        Side of the field in pixels (even).
    wavelength_um : float
        Central wavelength of the channel.
    aberrations : PupilAberrations
        Static OPD of the instrument.
    star_offset_px : tuple of float
        Sub-pixel position of the star relative to the field centre, ``(dx, dy)``.
    jitter_px : float
        RMS tip-tilt jitter over an exposure (Gaussian blur), pixels.
    leakage : float
        Amplitude of the on-axis field that leaks through the coronagraph; the dim core has
        ``leakage²`` of the star's peak.
    pixel_scale_arcsec : float
        Detector plate scale.
    """

    def __init__(
        self,
        *,
        size: int,
        wavelength_um: float,
        aberrations: PupilAberrations,
        star_offset_px: tuple[float, float] = (0.0, 0.0),
        jitter_px: float = 0.8,
        leakage: float = 0.03,
        pixel_scale_arcsec: float = IRDIS_PIXEL_SCALE_ARCSEC,
    ) -> None:
        if size % 2:
            raise ValueError(f"size must be even, got {size}")
        self.size = size
        self.wavelength_um = wavelength_um
        self.lambda_over_d_px = lambda_over_d_px(
            wavelength_um, pixel_scale_arcsec=pixel_scale_arcsec
        )
        self.star_offset_px = star_offset_px
        self.jitter_px = jitter_px
        self.leakage = leakage
        # Twice the field: the image plane repeats every N pixels, keep wrapped light outside.
        self._n = 2 * size
        coords = np.arange(self._n, dtype=np.float64) - self._n / 2
        self._y, self._x = np.meshgrid(coords, coords, indexing="ij")
        radius_px = self._n / self.lambda_over_d_px / 2.0
        rho = np.hypot(self._x, self._y) / radius_px
        self._pupil = (rho <= 1.0) & (rho >= CENTRAL_OBSCURATION)
        opd = np.zeros_like(self._x)
        opd[self._pupil] = aberrations.opd_nm(
            self._x[self._pupil] / radius_px, self._y[self._pupil] / radius_px
        )
        self._phase = 2.0 * np.pi * opd / (wavelength_um * 1e3)
        # Parseval: the full image of the unit-amplitude pupil sums to N² × (pupil area).
        self._norm = float(self._n**2 * np.count_nonzero(self._pupil))
        self._radius_px = radius_px

    def _tilt(self, dx: float, dy: float) -> ComplexArray:
        """Pupil phase ramp that moves the image by ``(dx, dy)`` pixels from the field centre."""
        ox, oy = self.star_offset_px
        return np.asarray(
            np.exp(2j * np.pi * ((dx + ox) * self._x + (dy + oy) * self._y) / self._n),
            dtype=np.complex128,
        )

    def _image(self, pupil_field: ComplexArray) -> FloatArray:
        field = fft.fftshift(fft.fft2(fft.ifftshift(pupil_field)))
        intensity = (field.real**2 + field.imag**2) / self._norm
        if self.jitter_px > 0:
            intensity = gaussian_filter(intensity, self.jitter_px, mode="wrap")
        lo = self._n // 2 - self.size // 2
        return np.asarray(intensity[lo : lo + self.size, lo : lo + self.size], dtype=np.float64)

    def offaxis_psf(self, dx: float = 0.0, dy: float = 0.0) -> FloatArray:
        """Non-coronagraphic PSF of a point source at ``(dx, dy)`` pixels from the star."""
        field = self._pupil * np.exp(1j * self._phase) * self._tilt(dx, dy)
        return self._image(field)

    def waffle_phase(self, amplitude_rad: float, separation_lambda_d: float) -> FloatArray:
        """Deformable-mirror waffle: four spots on the diagonals at ``separation_lambda_d``."""
        cycles = separation_lambda_d / np.sqrt(2.0)  # per axis, cycles per pupil diameter
        k = 2.0 * np.pi * cycles / (2.0 * self._radius_px)
        return np.asarray(
            amplitude_rad * (np.cos(k * (self._x + self._y)) + np.cos(k * (self._x - self._y))),
            dtype=np.float64,
        )

    def coronagraphic_image(self, *, extra_phase: FloatArray | None = None) -> FloatArray:
        """Image of the star behind a perfect coronagraph with ``leakage`` of its core.

        ``extra_phase`` (radians, pupil grid) is added to the static aberrations, e.g. a
        :meth:`waffle_phase` for star-centre frames.
        """
        phase = self._phase if extra_phase is None else self._phase + extra_phase
        field = np.where(self._pupil, np.exp(1j * phase), 0.0)
        coherent = field[self._pupil].mean()
        # Remove the coherent (on-axis) part across the pupil, let a fraction leak.
        residual = (field - (1.0 - self.leakage) * coherent * self._pupil) * self._tilt(0.0, 0.0)
        return self._image(np.asarray(residual, dtype=np.complex128))

    def smooth_halo(self, *, fraction: float, core_lambda_d: float = 3.0) -> FloatArray:
        """Azimuthally smooth AO residual halo holding ``fraction`` of the stellar flux.

        A Moffat profile (β = 1.5) of core ``core_lambda_d`` λ/D, normalised over the
        extended image plane, centred on the star.
        """
        ox, oy = self.star_offset_px
        centre = self.size / 2
        y, x = np.indices((self.size, self.size), dtype=np.float64)
        r2 = ((x - centre - ox) ** 2 + (y - centre - oy) ** 2) / (
            core_lambda_d * self.lambda_over_d_px
        ) ** 2
        profile = (1.0 + r2) ** -1.5
        # Integral of the Moffat profile over the plane: π a² / (β − 1).
        total = np.pi * (core_lambda_d * self.lambda_over_d_px) ** 2 / 0.5
        return np.asarray(fraction * profile / total, dtype=np.float64)
