"""A quick synthetic IRDIS demo (two nights, 128-pixel fields) and its truth, for the tests.

``irdis_demo`` writes :func:`hcdc_kernel.demo.write_demo_nights` once per session and sorts
its files by hcdc frame type and DIT; ``truth`` is its ``companions.json``; ``detector`` is
the generator's detector model (true offset, dark current, flat, hot and dead pixels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from hcdc_kernel.demo import demo_detector, write_demo_nights
from hcdc_kernel.demo.detector import DetectorModel
from hcdc_kernel.frames import classify
from hcdc_kernel.sphere import (
    DetectorFlat,
    MasterDark,
    detector_flat_from_files,
    master_dark_from_files,
)

SIZE = 128
SEED = 20190527


@dataclass(frozen=True)
class DemoNight:
    """Files of one demo night by (frame type, DIT), and its truth."""

    night: str
    files: dict[tuple[str, float], list[Path]]
    truth: dict[str, Any]

    def first(self, frame_type: str, dit: float) -> Path:
        return self.files[(frame_type, dit)][0]


@dataclass(frozen=True)
class IrdisDemo:
    root: Path
    nights: tuple[DemoNight, ...]
    detector: DetectorModel
    size: int


@pytest.fixture(scope="session")
def irdis_demo(tmp_path_factory: pytest.TempPathFactory) -> IrdisDemo:
    root = tmp_path_factory.mktemp("irdis_demo")
    write_demo_nights(root, seed=SEED, size=SIZE, quick=True)
    truth = json.loads((root / "companions.json").read_text())
    nights = []
    for night_truth in truth["nights"]:
        files: dict[tuple[str, float], list[Path]] = {}
        for path in sorted((root / "raw" / night_truth["night"]).glob("*.fits")):
            header = fits.getheader(path)
            frame_type, _ = classify(dict(header))
            key = (frame_type, float(header["HIERARCH ESO DET SEQ1 DIT"]))
            files.setdefault(key, []).append(path)
        nights.append(DemoNight(night=night_truth["night"], files=files, truth=night_truth))
    return IrdisDemo(
        root=root,
        nights=tuple(nights),
        detector=demo_detector(seed=SEED, size=SIZE),
        size=SIZE,
    )


@dataclass(frozen=True)
class Calibrations:
    darks: tuple[MasterDark, ...]
    flat: DetectorFlat


def _calibrate(night: DemoNight) -> Calibrations:
    kinds = ("IRD_DARK_RAW", "IRD_BACKGROUND_RAW", "IRD_SKY_RAW")
    darks = tuple(
        master_dark_from_files(paths) for (kind, _), paths in night.files.items() if kind in kinds
    )
    flat_dit = night.truth["flux_dit_s"]
    dark = next(d for d in darks if d.kind == "dark" and d.dit == flat_dit)
    flat = detector_flat_from_files(night.files[("IRD_FLAT_FIELD_RAW", flat_dit)], dark=dark)
    return Calibrations(darks=darks, flat=flat)


@pytest.fixture(scope="session")
def calibrations(irdis_demo: IrdisDemo) -> tuple[Calibrations, ...]:
    """Master darks, backgrounds, skies and the flat of each demo night."""
    return tuple(_calibrate(night) for night in irdis_demo.nights)
