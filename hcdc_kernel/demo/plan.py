"""What the demo nights observe, and when: targets, companions and the exposure sequence.

The sequence follows a SPHERE/IRDIS DBI coronagraphic observation as the SHINE survey runs it
(Chauvin et al. 2017, SF2A; Langlois et al. 2021, A&A 651, A71): acquisition, off-axis flux
(PSF) frames with a neutral density, a star-centre frame with waffle spots, the pupil-tracked
coronagraphic sequence, star-centre and flux frames again, a sky; then, in the morning, the
daily calibrations (darks and instrument backgrounds for every DIT used, lamp flats).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class FrameKind(StrEnum):
    """Kinds of exposures in a demo night."""

    ACQUISITION = "acquisition"
    FLUX = "flux"
    CENTER = "center"
    SCIENCE = "science"
    SKY = "sky"
    DARK = "dark"
    BACKGROUND = "background"
    FLAT = "flat"


@dataclass(frozen=True)
class DprKeywords:
    """ESO data-processing keywords of a kind of frame, and the hcdc frame type they mean."""

    catg: str
    type: str
    tech: str
    frame_type: str


#: DOMAIN.md's frame-type table, restricted to the IRDIS DBI frames a demo night holds.
DPR: Mapping[FrameKind, DprKeywords] = MappingProxyType(
    {
        FrameKind.ACQUISITION: DprKeywords("ACQUISITION", "OBJECT", "IMAGE", "ACQUISITION"),
        FrameKind.FLUX: DprKeywords("SCIENCE", "OBJECT,FLUX", "IMAGE,DUAL", "IRD_FLUX_RAW"),
        FrameKind.CENTER: DprKeywords(
            "SCIENCE", "OBJECT,CENTER", "IMAGE,DUAL,CORONOGRAPHY", "IRD_STAR_CENTER_RAW"
        ),
        FrameKind.SCIENCE: DprKeywords(
            "SCIENCE", "OBJECT", "IMAGE,DUAL,CORONOGRAPHY", "IRD_SCIENCE_DBI_RAW"
        ),
        FrameKind.SKY: DprKeywords("SCIENCE", "SKY", "IMAGE,DUAL,CORONOGRAPHY", "IRD_SKY_RAW"),
        FrameKind.DARK: DprKeywords("CALIB", "DARK", "IMAGE", "IRD_DARK_RAW"),
        FrameKind.BACKGROUND: DprKeywords(
            "CALIB", "DARK,BACKGROUND", "IMAGE", "IRD_BACKGROUND_RAW"
        ),
        FrameKind.FLAT: DprKeywords("CALIB", "FLAT,LAMP", "IMAGE", "IRD_FLAT_FIELD_RAW"),
    }
)

ON_SKY_KINDS = frozenset(
    {FrameKind.ACQUISITION, FrameKind.FLUX, FrameKind.CENTER, FrameKind.SCIENCE, FrameKind.SKY}
)

#: Detector time per DIT beyond the integration itself (reset and read), seconds.
READOUT_OVERHEAD_S = 0.1
#: Time between the end of one file and the start of the next in a template, seconds.
FILE_OVERHEAD_S = 4.0


@dataclass(frozen=True)
class CompanionSpec:
    """A companion to inject: sky position (east of north) and flux ratio per channel."""

    sep_arcsec: float
    pa_deg: float
    contrast: Mapping[str, float]


@dataclass(frozen=True)
class DemoTarget:
    """A star as the observer typed it into the OB, with its true coordinates and flux."""

    object_name: str
    targ_name: str
    ra_deg: float
    dec_deg: float
    #: Total stellar flux reaching IRDIS per channel without neutral density, ADU/s.
    star_flux_adu_s: Mapping[str, float]
    companions: tuple[CompanionSpec, ...]


@dataclass(frozen=True)
class NightSetup:
    """One observing night: target, programme, timing and instrument settings."""

    night: str
    target: DemoTarget
    prog_id: str
    obs_id: int
    obs_name: str
    pi_coi: str
    science_start: datetime
    science_dit: float
    science_ndit: int
    n_science: int
    flux_dit: float
    flux_nd: str
    calib_start: datetime
    star_offset_px: Mapping[str, tuple[float, float]]
    seeing_arcsec: float
    tau0_s: float


@dataclass(frozen=True)
class Exposure:
    """One raw file to write."""

    kind: FrameKind
    start: datetime
    dit: float
    ndit: int
    nd_filter: str = "OPEN"
    expno: int = 1
    nexp: int = 1

    @property
    def dit_period_s(self) -> float:
        """Time from the start of one DIT to the start of the next."""
        return self.dit + READOUT_OVERHEAD_S

    @property
    def end(self) -> datetime:
        """End of the last DIT (``DET FRAM UTC``)."""
        return self.start + timedelta(seconds=self.ndit * self.dit_period_s)

    def dit_midpoints(self) -> list[datetime]:
        """Middle of each DIT, as the SPHERE pipelines time-stamp frames of a cube."""
        return [
            self.start + timedelta(seconds=i * self.dit_period_s + self.dit / 2)
            for i in range(self.ndit)
        ]

    @property
    def on_sky(self) -> bool:
        """Whether the telescope points at the target (not a daytime calibration)."""
        return self.kind in ON_SKY_KINDS


def _sequence(
    kind: FrameKind, start: datetime, *, dit: float, ndit: int, count: int, nd_filter: str = "OPEN"
) -> list[Exposure]:
    """``count`` consecutive exposures of one template."""
    out: list[Exposure] = []
    t = start
    for i in range(count):
        exposure = Exposure(kind, t, dit, ndit, nd_filter, expno=i + 1, nexp=count)
        out.append(exposure)
        t = exposure.end + timedelta(seconds=FILE_OVERHEAD_S)
    return out


def plan_night(setup: NightSetup, *, quick: bool) -> tuple[Exposure, ...]:
    """The exposures of a night, in time order.

    ``quick`` keeps the same time span (hence the same parallactic rotation) with fewer,
    shorter cubes and one of each calibration.
    """
    minute = timedelta(minutes=1)
    full_science = _sequence(
        FrameKind.SCIENCE,
        setup.science_start,
        dit=setup.science_dit,
        ndit=setup.science_ndit,
        count=setup.n_science,
    )
    if quick:
        n_quick = max(4, setup.n_science // 4)
        picks = sorted({round(i * (setup.n_science - 1) / (n_quick - 1)) for i in range(n_quick)})
        science = [
            Exposure(
                FrameKind.SCIENCE,
                full_science[i].start,
                setup.science_dit,
                2,
                expno=k + 1,
                nexp=len(picks),
            )
            for k, i in enumerate(picks)
        ]
    else:
        science = full_science
    first, last = science[0].start, science[-1].end
    flux_ndit = 2 if quick else 4
    on_sky: list[Exposure] = []
    if not quick:
        on_sky.append(
            Exposure(FrameKind.ACQUISITION, first - 14 * minute, setup.flux_dit, 1, setup.flux_nd)
        )
    on_sky.append(
        Exposure(FrameKind.FLUX, first - 10 * minute, setup.flux_dit, flux_ndit, setup.flux_nd)
    )
    on_sky.append(Exposure(FrameKind.CENTER, first - 6 * minute, setup.science_dit, 2))
    on_sky.extend(science)
    if not quick:
        on_sky.append(Exposure(FrameKind.CENTER, last + 1 * minute, setup.science_dit, 2))
        on_sky.append(
            Exposure(FrameKind.FLUX, last + 5 * minute, setup.flux_dit, flux_ndit, setup.flux_nd)
        )
    on_sky.append(Exposure(FrameKind.SKY, last + 8 * minute, setup.science_dit, 2))

    n_dark, n_background, n_flat = (1, 1, 1) if quick else (3, 2, 4)
    calibs: list[Exposure] = []
    t = setup.calib_start
    for kind, count in ((FrameKind.DARK, n_dark), (FrameKind.BACKGROUND, n_background)):
        for dit in sorted({setup.science_dit, setup.flux_dit}, reverse=True):
            block = _sequence(kind, t, dit=dit, ndit=1 if quick else 3, count=count)
            calibs.extend(block)
            t = block[-1].end + 2 * minute
    calibs.extend(_sequence(FrameKind.FLAT, t, dit=setup.flux_dit, ndit=1, count=n_flat))
    return (*on_sky, *calibs)


_H23 = ("H2", "H3")

#: The two demo nights: PDS 70 on 2019-05-27 and HD 142527 two nights later. Coordinates are
#: the stars' ICRS positions; fluxes and companions are synthetic.
DEMO_NIGHTS: tuple[NightSetup, ...] = (
    NightSetup(
        night="2019-05-27",
        target=DemoTarget(
            object_name="PDS 70",
            targ_name="PDS70",
            ra_deg=212.042311,
            dec_deg=-41.397938,
            star_flux_adu_s=dict(zip(_H23, (4.0e5, 3.7e5), strict=True)),
            companions=(
                CompanionSpec(
                    sep_arcsec=0.245,
                    pa_deg=152.0,
                    contrast=dict(zip(_H23, (4.0e-5, 3.0e-5), strict=True)),
                ),
            ),
        ),
        prog_id="1100.C-0481(D)",
        obs_id=2342281,
        obs_name="PDS70_IRDIS_DBI_H23",
        pi_coi="SHINE",
        science_start=datetime(2019, 5, 28, 2, 58, 40),
        science_dit=48.0,
        science_ndit=4,
        n_science=32,
        flux_dit=2.0,
        flux_nd="ND_1.0",
        calib_start=datetime(2019, 5, 28, 10, 12, 5),
        star_offset_px={"H2": (0.35, -0.25), "H3": (-0.6, 0.45)},
        seeing_arcsec=0.72,
        tau0_s=0.0045,
    ),
    NightSetup(
        night="2019-05-29",
        target=DemoTarget(
            object_name="HD142527",
            targ_name="HD142527",
            ra_deg=239.174538,
            dec_deg=-42.323131,
            star_flux_adu_s=dict(zip(_H23, (4.0e6, 3.8e6), strict=True)),
            companions=(
                CompanionSpec(
                    sep_arcsec=0.31,
                    pa_deg=287.0,
                    contrast=dict(zip(_H23, (1.5e-5, 1.2e-5), strict=True)),
                ),
            ),
        ),
        prog_id="0103.C-0865(A)",
        obs_id=2405517,
        obs_name="HD142527_DBI_H23",
        pi_coi="SPHERE CONSORTIUM",
        science_start=datetime(2019, 5, 30, 3, 40, 10),
        science_dit=32.0,
        science_ndit=4,
        n_science=24,
        flux_dit=2.0,
        flux_nd="ND_2.0",
        calib_start=datetime(2019, 5, 30, 10, 31, 40),
        star_offset_px={"H2": (-0.2, 0.4), "H3": (0.5, -0.3)},
        seeing_arcsec=0.55,
        tau0_s=0.0062,
    ),
)
