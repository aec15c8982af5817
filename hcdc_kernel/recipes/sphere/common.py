"""Calibrations shared by the IRDIS recipes that pre-process on-sky exposures.

Star-centre, flux and science exposures are calibrated the same way
(:func:`hcdc_kernel.sphere.preprocess_exposure`): the sky, instrument background or dark of
their DIT (in that order of preference) is subtracted, the detector flat of their filter
combination divides them, and the bad pixels of both are interpolated. The calibrations come as
products of ``ird_master_dark`` and ``ird_flat``, any number of them (a workflow hands over all
those of a night): each exposure takes the ones that match it, and an exposure that none
matches stops the run with a message naming its file and the keyword (``DET SEQ1 DIT`` or
``INS COMB IFLT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hcdc_kernel.recipes.spec import InputSlot, ParamSpec
from hcdc_kernel.recipes.sphere.base import RecipeRun
from hcdc_kernel.recipes.sphere.io import read_flat, read_master
from hcdc_kernel.sphere.calibration import DetectorFlat, MasterDark
from hcdc_kernel.sphere.errors import CalibrationMismatchError
from hcdc_kernel.sphere.exposures import FILTER_KEY, RawExposure, read_exposure
from hcdc_kernel.sphere.preprocessing import (
    PreprocessedExposure,
    preprocess_exposure,
    select_background,
)

__all__ = [
    "BACKGROUND_SLOT",
    "DARK_SLOT",
    "FLAT_SLOT",
    "KERNEL_PARAM",
    "Calibrations",
]

DARK_SLOT = InputSlot(
    "IRD_MASTER_DARK",
    ("IRD_MASTER_DARK",),
    min_count=1,
    doc="Master darks (ird_master_dark); each exposure takes the one of its DIT.",
)
BACKGROUND_SLOT = InputSlot(
    "IRD_MASTER_BACKGROUND",
    ("IRD_MASTER_BACKGROUND", "IRD_MASTER_SKY"),
    min_count=0,
    doc="Instrument backgrounds and skies of the same DIT and filter, preferred to darks.",
)
FLAT_SLOT = InputSlot(
    "IRD_FLAT_FIELD",
    ("IRD_FLAT_FIELD",),
    min_count=1,
    doc="Detector flats (ird_flat); each exposure takes the one of its filter combination.",
)
KERNEL_PARAM = ParamSpec(
    "kernel_sigma",
    "float",
    1.0,
    "Width (px) of the Gaussian weights that interpolate bad pixels.",
    minimum=0.3,
    maximum=5.0,
)


@dataclass(frozen=True, eq=False)
class Calibrations:
    """The masters and flats given to a run, with the files they came from."""

    masters: tuple[tuple[MasterDark, Path], ...]
    flats: tuple[tuple[DetectorFlat, Path], ...]

    @classmethod
    def load(cls, run: RecipeRun) -> Calibrations:
        masters = tuple(
            (read_master(path), path)
            for tag in (DARK_SLOT.tag, BACKGROUND_SLOT.tag)
            for path in run.inputs.paths(tag)
        )
        flats = tuple((read_flat(path), path) for path in run.inputs.paths(FLAT_SLOT.tag))
        for master, path in masters:
            run.log.info(
                "calibration %s %g s %s: %s",
                master.kind,
                master.dit,
                master.filter_combination or "-",
                path.name,
            )
        for flat, path in flats:
            run.log.info("flat %s: %s", flat.filter_combination, path.name)
        return cls(masters=masters, flats=flats)

    def background_for(self, exposure: RawExposure) -> MasterDark:
        """Sky, else background, else dark of the exposure's DIT (and filter)."""
        return select_background(
            [m for m, _ in self.masters],
            dit=exposure.dit,
            filter_combination=exposure.filter_combination,
            path=exposure.path,
        )

    def flat_for(self, exposure: RawExposure) -> DetectorFlat:
        """The flat of the exposure's filter combination."""
        for flat, _ in self.flats:
            if flat.filter_combination == exposure.filter_combination:
                return flat
        available = ", ".join(
            f"{flat.filter_combination or '?'} ({path.name})" for flat, path in self.flats
        )
        raise CalibrationMismatchError(
            f"no detector flat of filter {exposure.filter_combination!r} among the inputs "
            f"(flats: {available or 'none'})",
            path=exposure.path,
            keyword=FILTER_KEY,
        )

    def preprocess(
        self, source: Path | RawExposure, *, collapse: bool, kernel_sigma: float = 1.0
    ) -> PreprocessedExposure:
        """Calibrate one raw exposure, read from ``source`` when a path
        (see :func:`preprocess_exposure`)."""
        exposure = source if isinstance(source, RawExposure) else read_exposure(source)
        return preprocess_exposure(
            exposure,
            background=self.background_for(exposure),
            flat=self.flat_for(exposure),
            collapse=collapse,
            kernel_sigma=kernel_sigma,
        )
