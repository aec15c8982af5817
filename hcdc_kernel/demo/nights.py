"""Write synthetic SPHERE/IRDIS DBI nights with injected companions (``hcdc demo``).

Each science cube holds the two IRDIS fields side by side (left H2, right H3 for
``DB_H23``). The star sits behind the coronagraph; its quasi-static speckles are identical in
every frame (only photon and read noise change), while the companions turn with the
parallactic angle, which is what angular differential imaging exploits (Marois et al. 2006,
ApJ 641, 556). The truth (companion positions and flux ratios, star centres, photometric
scales) is written to ``companions.json`` beside the raw files.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.demo.conditions import write_night_conditions
from hcdc_kernel.demo.detector import DetectorModel
from hcdc_kernel.demo.ephemeris import (
    IRDIS_INSTRUMENT_OFFSET_DEG,
    IRDIS_PUPIL_OFFSET_DEG,
    TRUE_NORTH_DEG,
    irdis_derotation_angle,
    sky_position,
)
from hcdc_kernel.demo.headers import Pointing, archive_name, irdis_header
from hcdc_kernel.demo.optics import (
    IRDIS_PIXEL_SCALE_ARCSEC,
    ChannelOptics,
    PupilAberrations,
    lambda_over_d_px,
)
from hcdc_kernel.demo.plan import DEMO_NIGHTS, DPR, Exposure, FrameKind, NightSetup, plan_night
from hcdc_kernel.sphere.filters import nd_transmission

FloatArray = npt.NDArray[np.float64]

#: IRDIS DB_H23 channels: (name, central wavelength in µm), left field first (Vigan et al. 2010).
DB_H23_CHANNELS: tuple[tuple[str, float], ...] = (("H2", 1.5888), ("H3", 1.6671))
#: Waffle spots: separation in λ/D and DM amplitude in µm (``OCS WAFFLE AMPL``).
WAFFLE_SEPARATION_LAMBDA_D = 10.0
WAFFLE_AMPLITUDE_UM = 0.025
#: Background rates per pixel, ADU/s (H band: faint sky, warm optics).
SKY_RATE_ADU_S = 1.5
INSTRUMENT_RATE_ADU_S = 0.8
LAMP_RATE_ADU_S = 3000.0
#: Fraction of the stellar flux in the smooth AO halo and RMS of the static aberrations.
HALO_FRACTION = 0.004
STATIC_ABERRATION_NM = 30.0
MIN_SIZE = 64
COMPANIONS_FILE = "companions.json"


@dataclass(frozen=True)
class InjectedCompanion:
    """A companion written into the science frames of one channel of one night.

    ``pa_deg`` is east of north; ``contrast`` is the flux ratio to the star in ``filter``;
    ``sep_px`` is the separation in IRDIS pixels (12.25 mas).
    """

    target: str
    night: str
    sep_arcsec: float
    pa_deg: float
    contrast: float
    sep_px: float
    filter: str


@dataclass(frozen=True)
class DemoManifest:
    """What :func:`write_demo_nights` wrote.

    ``counts`` maps each hcdc frame type (DOMAIN.md) to the number of files of that type.
    """

    root: Path
    files: tuple[Path, ...]
    counts: Mapping[str, int]
    companions: tuple[InjectedCompanion, ...]
    #: SPARTA files (AO telemetry, ``SPH_SPARTA_RAW``) and site-monitor tables (CSV).
    telemetry: tuple[Path, ...] = ()
    site_tables: tuple[Path, ...] = ()


def write_demo_nights(
    dest: Path, *, seed: int = 20190527, size: int = 128, quick: bool = False
) -> DemoManifest:
    """Write two synthetic SPHERE/IRDIS DBI nights under ``dest/raw/<night>/``.

    Parameters
    ----------
    dest : pathlib.Path
        Root folder; created if needed. Raw files go to ``dest/raw/<night>/SPHER.<UTC>.fits``,
        the injected truth to ``dest/companions.json``, the night's AO telemetry (SPARTA
        files) and site-monitor table to ``dest/conditions/<night>/``.
    seed : int
        Seed of every random draw (detector, aberrations, noise, weather): same seed and
        options, same bytes.
    size : int
        Side of each IRDIS field in pixels (even, at least 64); a raw frame is
        ``size`` × ``2 size``.
    quick : bool
        Write a minimal set (about 30 small files) spanning the same parallactic rotation,
        for tests; otherwise about 100 files.

    Returns
    -------
    DemoManifest
        Files written, expected count per frame type, injected companions.
    """
    if size < MIN_SIZE or size % 2:
        raise ValueError(f"size must be even and at least {MIN_SIZE}, got {size}")
    dest = Path(dest)
    detector = demo_detector(seed=seed, size=size)
    night_seqs = _seed_sequences(seed)[1:]

    files: list[Path] = []
    companions: list[InjectedCompanion] = []
    truth: list[dict[str, object]] = []
    telemetry: list[Path] = []
    site_tables: list[Path] = []
    for setup, night_seq in zip(DEMO_NIGHTS, night_seqs, strict=True):
        conditions_seed = int(night_seq.generate_state(1)[0])
        writer = _NightWriter(setup, detector=detector, size=size, seed_seq=night_seq)
        files.extend(writer.write_all(dest / "raw" / setup.night, quick=quick))
        companions.extend(writer.injected_companions())
        truth.append(writer.truth())
        sparta, table = _write_conditions(
            dest / "conditions" / setup.night, setup, quick=quick, seed=conditions_seed
        )
        telemetry.extend(sparta)
        site_tables.append(table)

    counts = Counter(
        DPR[exposure.kind].frame_type
        for setup in DEMO_NIGHTS
        for exposure in plan_night(setup, quick=quick)
    )
    _write_truth(
        dest / COMPANIONS_FILE,
        seed=seed,
        size=size,
        quick=quick,
        nights=truth,
        companions=companions,
    )
    return DemoManifest(
        root=dest,
        files=tuple(files),
        counts=MappingProxyType(dict(sorted(counts.items()))),
        companions=tuple(companions),
        telemetry=tuple(telemetry),
        site_tables=tuple(site_tables),
    )


def _write_conditions(
    folder: Path, setup: NightSetup, *, quick: bool, seed: int
) -> tuple[list[Path], Path]:
    """The AO telemetry and site-monitor table over the night's sequence on sky, with a spell
    of bad turbulence in the middle of the science frames."""
    on_sky = [e for e in plan_night(setup, quick=quick) if e.on_sky]
    header = fits.Header()
    header["INSTRUME"] = "SPHERE"
    header["OBJECT"] = setup.target.object_name
    header["RA"] = setup.target.ra_deg
    header["DEC"] = setup.target.dec_deg
    header["HIERARCH ESO OBS PROG ID"] = setup.prog_id
    header["HIERARCH ESO OBS ID"] = setup.obs_id
    return write_night_conditions(
        folder,
        start=min(e.start for e in on_sky),
        end=max(e.end for e in on_sky),
        seeing_arcsec=setup.seeing_arcsec,
        tau0_s=setup.tau0_s,
        seed=seed,
        header=header,
    )


def _seed_sequences(seed: int) -> list[np.random.SeedSequence]:
    """The detector's seed sequence, then one per demo night."""
    return np.random.SeedSequence(seed).spawn(1 + len(DEMO_NIGHTS))


def demo_detector(*, seed: int = 20190527, size: int = 128) -> DetectorModel:
    """The detector model :func:`write_demo_nights` draws for ``seed`` and ``size``.

    Its offset, dark current (hot pixels) and flat (dead pixels) are the truth that dark, flat
    and bad-pixel calibrations of the written nights can be checked against.
    """
    if size < MIN_SIZE or size % 2:
        raise ValueError(f"size must be even and at least {MIN_SIZE}, got {size}")
    detector_seq = _seed_sequences(seed)[0]
    return DetectorModel.random(np.random.default_rng(detector_seq), shape=(size, 2 * size))


class _NightWriter:
    """Renders and writes the exposures of one night."""

    def __init__(
        self,
        setup: NightSetup,
        *,
        detector: DetectorModel,
        size: int,
        seed_seq: np.random.SeedSequence,
    ) -> None:
        self.setup = setup
        self.detector = detector
        self.size = size
        optics_seq, self._noise_seq, weather_seq, diff_seq = seed_seq.spawn(4)
        field_half = size / 2
        common = PupilAberrations.random(
            np.random.default_rng(optics_seq),
            rms_nm=STATIC_ABERRATION_NM,
            max_cycles=0.8 * field_half / self._lambda_d(DB_H23_CHANNELS[-1][1]),
        )
        diff_rng = np.random.default_rng(diff_seq)
        self.optics: dict[str, ChannelOptics] = {}
        for name, wavelength in DB_H23_CHANNELS:
            # Non-common path between the two channels: a few nm of their own.
            own = PupilAberrations.random(
                diff_rng, rms_nm=4.0, max_cycles=0.8 * field_half / self._lambda_d(wavelength)
            )
            self.optics[name] = ChannelOptics(
                size=size,
                wavelength_um=wavelength,
                aberrations=_combine(common, own),
                star_offset_px=setup.star_offset_px[name],
            )
        self._weather_rng = np.random.default_rng(weather_seq)
        self._static: dict[tuple[str, str], FloatArray] = {}

    @staticmethod
    def _lambda_d(wavelength_um: float) -> float:
        return lambda_over_d_px(wavelength_um, pixel_scale_arcsec=IRDIS_PIXEL_SCALE_ARCSEC)

    # -- truth -------------------------------------------------------------------------------

    def injected_companions(self) -> list[InjectedCompanion]:
        """One entry per companion and channel."""
        return [
            InjectedCompanion(
                target=self.setup.target.object_name,
                night=self.setup.night,
                sep_arcsec=c.sep_arcsec,
                pa_deg=c.pa_deg,
                contrast=c.contrast[name],
                sep_px=c.sep_arcsec / IRDIS_PIXEL_SCALE_ARCSEC,
                filter=name,
            )
            for c in self.setup.target.companions
            for name, _ in DB_H23_CHANNELS
        ]

    def truth(self) -> dict[str, object]:
        """Per-night facts that reductions need to be checked against."""
        setup = self.setup
        return {
            "night": setup.night,
            "target": setup.target.object_name,
            "ra_deg": setup.target.ra_deg,
            "dec_deg": setup.target.dec_deg,
            "fields": [
                {
                    "filter": name,
                    "wavelength_um": wavelength,
                    "x_range": [i * self.size, (i + 1) * self.size],
                    # 0-based (x, y) of the star in the field: centre + sub-pixel offset.
                    "star_center_px": [
                        self.size / 2 + setup.star_offset_px[name][0],
                        self.size / 2 + setup.star_offset_px[name][1],
                    ],
                    "lambda_over_d_px": self.optics[name].lambda_over_d_px,
                    "star_flux_adu_per_s": setup.target.star_flux_adu_s[name],
                    "nd_transmission": _nd_transmission(setup.flux_nd, name),
                }
                for i, (name, wavelength) in enumerate(DB_H23_CHANNELS)
            ],
            "science_dit_s": setup.science_dit,
            "flux_dit_s": setup.flux_dit,
            "flux_nd_filter": setup.flux_nd,
            "flux_nd_transmission": [
                _nd_transmission(setup.flux_nd, name) for name, _ in DB_H23_CHANNELS
            ],
            "waffle_separation_lambda_d": WAFFLE_SEPARATION_LAMBDA_D,
        }

    # -- rendering ---------------------------------------------------------------------------

    def write_all(self, folder: Path, *, quick: bool) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        exposures = plan_night(self.setup, quick=quick)
        noise_seqs = self._noise_seq.spawn(len(exposures))
        doy = self.setup.science_start.timetuple().tm_yday
        written: list[Path] = []
        counters = {"OBS": 0, "CAL": 0}
        for exposure, noise_seq in zip(exposures, noise_seqs, strict=True):
            family = "OBS" if exposure.on_sky else "CAL"
            counters[family] += 1
            origfile = f"SPHERE_IRDIS_{family}{doy:03d}_{counters[family]:04d}.fits"
            pointing = self._pointing(exposure) if exposure.on_sky else None
            header = irdis_header(self.setup, exposure, origfile=origfile, pointing=pointing)
            flux = self._incoming_flux(exposure)
            data = self.detector.read_out(
                np.random.default_rng(noise_seq), flux=flux, dit=exposure.dit, ndit=exposure.ndit
            )
            path = folder / archive_name(exposure.start)
            fits.PrimaryHDU(data=data, header=header).writeto(path, overwrite=True)
            written.append(path)
        return written

    def _pointing(self, exposure: Exposure) -> Pointing:
        target = self.setup.target
        times = Time([exposure.start, exposure.end], scale="utc")
        sky = sky_position(times, ra_deg=target.ra_deg, dec_deg=target.dec_deg)
        rng = self._weather_rng
        seeing = self.setup.seeing_arcsec * math.exp(rng.normal(0.0, 0.12))
        ra, dec = target.ra_deg, target.dec_deg
        if exposure.kind is FrameKind.SKY:
            # Sky frames are taken a few arcseconds away from the star.
            dec += 6.0 / 3600.0
        return Pointing(
            parang_start=float(sky.parallactic_angle[0]),
            parang_end=float(sky.parallactic_angle[1]),
            airmass_start=float(sky.airmass[0]),
            airmass_end=float(sky.airmass[1]),
            altitude=float(sky.altitude[0]),
            # ESO counts telescope azimuth from south through west.
            azimuth=float((sky.azimuth[0] - 180.0) % 360.0),
            lst_seconds=float(sky.lst_seconds[0]),
            seeing_start=seeing,
            seeing_end=seeing * math.exp(rng.normal(0.0, 0.05)),
            tau0=self.setup.tau0_s * math.exp(rng.normal(0.0, 0.15)),
            ra_deg=ra,
            dec_deg=dec,
        )

    def _field_pair(self, make: Mapping[str, FloatArray]) -> FloatArray:
        """Left and right fields side by side (``[..., y, x]``)."""
        return np.concatenate([make[name] for name, _ in DB_H23_CHANNELS], axis=-1)

    def _static_image(self, kind: str, name: str) -> FloatArray:
        """Star images that do not change during the night (cached per channel)."""
        key = (kind, name)
        if key not in self._static:
            optics = self.optics[name]
            if kind == "coronagraphic":
                image = optics.coronagraphic_image() + optics.smooth_halo(fraction=HALO_FRACTION)
            elif kind == "waffle":
                amplitude = 2.0 * np.pi * WAFFLE_AMPLITUDE_UM / optics.wavelength_um
                image = optics.coronagraphic_image(
                    extra_phase=optics.waffle_phase(amplitude, WAFFLE_SEPARATION_LAMBDA_D)
                ) + optics.smooth_halo(fraction=HALO_FRACTION)
            else:
                image = optics.offaxis_psf() + optics.smooth_halo(fraction=HALO_FRACTION)
            self._static[key] = image
        return self._static[key]

    def _incoming_flux(self, exposure: Exposure) -> FloatArray:
        """Photon rate (ADU/s per pixel, before the flat) for each DIT of ``exposure``."""
        size = self.size
        shape = (size, 2 * size)
        kind = exposure.kind
        if kind is FrameKind.DARK:
            return np.zeros(shape)
        if kind is FrameKind.BACKGROUND:
            return np.full(shape, INSTRUMENT_RATE_ADU_S)
        if kind is FrameKind.FLAT:
            return np.full(shape, LAMP_RATE_ADU_S)
        background = SKY_RATE_ADU_S + INSTRUMENT_RATE_ADU_S
        if kind is FrameKind.SKY:
            return np.full(shape, background)
        star_kind = {
            FrameKind.SCIENCE: "coronagraphic",
            FrameKind.CENTER: "waffle",
        }.get(kind, "offaxis")
        transmission = {
            name: _nd_transmission(exposure.nd_filter, name) for name, _ in DB_H23_CHANNELS
        }
        star_flux = self.setup.target.star_flux_adu_s
        star = self._field_pair(
            {
                name: star_flux[name] * transmission[name] * self._static_image(star_kind, name)
                for name, _ in DB_H23_CHANNELS
            }
        )
        per_dit = np.empty((exposure.ndit, *shape))
        derotation = self._derotation_at_dit_midpoints(exposure)
        for i, angle in enumerate(derotation):
            companions = self._field_pair(
                {
                    name: star_flux[name] * transmission[name] * self._companions_image(name, angle)
                    for name, _ in DB_H23_CHANNELS
                }
            )
            per_dit[i] = background + star + companions
        return per_dit

    def _derotation_at_dit_midpoints(self, exposure: Exposure) -> FloatArray:
        target = self.setup.target
        times = Time(exposure.dit_midpoints(), scale="utc")
        sky = sky_position(times, ra_deg=target.ra_deg, dec_deg=target.dec_deg)
        return irdis_derotation_angle(sky.parallactic_angle)

    def _companions_image(self, name: str, derotation_deg: float) -> FloatArray:
        """Companions of one channel for a frame whose derotation angle is ``derotation_deg``.

        A source at sky position angle θ (east of north) appears on the detector at
        θ − derotation, counted from +y towards −x (see :func:`irdis_derotation_angle`).
        """
        optics = self.optics[name]
        image = np.zeros((self.size, self.size))
        for companion in self.setup.target.companions:
            sep_px = companion.sep_arcsec / IRDIS_PIXEL_SCALE_ARCSEC
            theta = math.radians(companion.pa_deg - derotation_deg)
            dx, dy = -sep_px * math.sin(theta), sep_px * math.cos(theta)
            image += companion.contrast[name] * optics.offaxis_psf(dx, dy)
        return image


def _combine(a: PupilAberrations, b: PupilAberrations) -> PupilAberrations:
    """The sum of two OPD maps (their sinusoids together)."""
    return PupilAberrations(
        fx=np.concatenate([a.fx, b.fx]),
        fy=np.concatenate([a.fy, b.fy]),
        amplitude_nm=np.concatenate([a.amplitude_nm, b.amplitude_nm]),
        phase=np.concatenate([a.phase, b.phase]),
    )


def _nd_transmission(nd_filter: str, channel: str) -> float:
    """Transmission of a SPHERE neutral density in one DB_H23 channel.

    The measured curves integrated over the channel's filter (vlt-sphere's
    ``SPHERE_CPI_ND.txt``, :func:`hcdc_kernel.sphere.nd_transmission`), as the real instrument
    passes them: ``ND_1.0`` lets through 11.4 % in H2 and 13.9 % in H3, not 10 %.
    """
    left, right = nd_transmission(nd_filter, "DB_H23", model="measured")
    return left if channel == DB_H23_CHANNELS[0][0] else right


def _write_truth(
    path: Path,
    *,
    seed: int,
    size: int,
    quick: bool,
    nights: list[dict[str, object]],
    companions: list[InjectedCompanion],
) -> None:
    document = {
        "generator": "hcdc_kernel.demo.write_demo_nights",
        "seed": seed,
        "size": size,
        "quick": quick,
        "pixel_scale_arcsec": IRDIS_PIXEL_SCALE_ARCSEC,
        "derotation": {
            "formula": "TEL PARANG + pupil offset + instrument offset + true north",
            "pupil_offset_deg": IRDIS_PUPIL_OFFSET_DEG,
            "instrument_offset_deg": IRDIS_INSTRUMENT_OFFSET_DEG,
            "true_north_deg": TRUE_NORTH_DEG,
            "convention": "vip_hci.preproc.cube_derotate(cube, angles) gives north up, east left",
            "frame_times": "DATE-OBS + i * (DET FRAM UTC - DATE-OBS) / NDIT + DIT / 2",
        },
        "nights": nights,
        "companions": [asdict(c) for c in companions],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def read_companions(path: Path) -> tuple[InjectedCompanion, ...]:
    """Companions listed in a ``companions.json`` written by :func:`write_demo_nights`."""
    document = json.loads(Path(path).read_text())
    return tuple(InjectedCompanion(**entry) for entry in document["companions"])
