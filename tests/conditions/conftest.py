"""A night with known telemetry in a fresh database of each backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hcdc_kernel.demo.conditions import write_sparta_file
from hcdc_server.factory import Factory
from hcdc_server.models.ingest import IngestRecord
from tests.conditions.files import at, linear_track, write_exposure


@dataclass
class Night:
    """Files of the synthetic night and their data file ids by name."""

    factory: Factory
    folder: Path
    ids: dict[str, int] = field(default_factory=dict)
    records: dict[str, IngestRecord] = field(default_factory=dict)

    def ingest(self, *paths: Path) -> None:
        def keep(record: IngestRecord) -> None:
            name = Path(record.path).stem
            self.records[name] = record
            if record.id is not None:
                self.ids[name] = record.id

        self.factory.ingest().ingest(list(paths), on_record=keep)


def write_night(folder: Path) -> dict[str, Path]:
    """Telemetry 03:00-03:30 every 30 s; exposures at the edges, between samples, outside."""
    return {
        "sparta": write_sparta_file(folder / "sparta.fits", linear_track(61)),
        # [0 s, 64 s]: samples at 0, 30, 60
        "edge": write_exposure(folder / "edge.fits", start=at(0), exptime=64.0, value=1),
        # [90 s, 120 s]: both ends are sample times
        "ends": write_exposure(folder / "ends.fits", start=at(90), exptime=30.0, value=2),
        # [95 s, 105 s]: no sample inside
        "short": write_exposure(folder / "short.fits", start=at(95), exptime=10.0, value=3),
        # an hour later: no telemetry, header values only
        "late": write_exposure(
            folder / "late.fits", start=at(3600), exptime=60.0, seeing=1.4, tau0=0.0015, value=4
        ),
        # a dark: never linked, its header's seeing is no sky condition
        "dark": write_exposure(
            folder / "dark.fits",
            start=at(100),
            exptime=64.0,
            seeing=5.0,
            dpr=("CALIB", "DARK", "IMAGE"),
            value=5,
        ),
    }


@pytest.fixture
def night(factory: Factory, tmp_path: Path) -> Night:
    files = write_night(tmp_path / "raw")
    made = Night(factory, tmp_path)
    made.ingest(*files.values())
    return made
