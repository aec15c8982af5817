"""`hcdc demo` ends with the nights reduced: processes in several states, products, companions.

The quick demo on SQLite (one backend: the reductions take a minute or two): both IRDIS nights
through ``irdis_dbi`` (cubes validated, one field reprocessed and waiting for validation), the
NACO beta Pic sequence through ``naco_adi`` where the shared data is present (its contrast
steps refuse to guess the star flux, then are reprocessed with the published one).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from astropy.table import Table
from sqlalchemy import func, select

from hcdc_kernel.demo import read_companions
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import DataFile, Process, ProcessOutput, ValidationEvent
from hcdc_server.services.demo import (
    NACO_REFERENCE,
    REPROCESS_PARAMS,
    VALIDATION_COMMENT,
    install_demo,
)
from tests.conftest import SHARED_DIR


def _factory(tmp_path: Path) -> Factory:
    made = Factory(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'hcdc.sqlite'}",
            resolve_targets=False,
        )
    )
    made.init_database()
    return made


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Factory]:
    made = _factory(tmp_path)
    yield made
    made.close()


def _tables(factory: Factory) -> dict[tuple[str, str], Table]:
    """Companion tables (FITS) by (process reference, workflow step)."""
    with factory.sessions() as session:
        rows = session.execute(
            select(Process.reference, Process.workflow_step, DataFile.path)
            .join(ProcessOutput, ProcessOutput.process_id == Process.id)
            .join(DataFile, DataFile.id == ProcessOutput.data_file_id)
            .where(DataFile.frame_type == "HCI_COMPANION_TABLE", DataFile.path.like("%.fits"))
        ).all()
    return {(str(r.reference), str(r.workflow_step)): Table.read(r.path) for r in rows}


def test_demo_ends_with_both_nights_reduced(factory: Factory) -> None:
    summary = install_demo(factory, quick=True)
    statuses = Counter(summary["reduction"]["processes"])
    naco = (SHARED_DIR / "data" / "naco_betapic").is_dir()
    assert statuses["waiting_validation"] == 1
    assert statuses["error"] == (2 if naco else 0)
    # NACO: centre, ADI, S/N map, and the two refused steps done again with the star flux.
    assert statuses["done"] == 28 + (5 if naco else 0)
    assert set(statuses) <= {"done", "waiting_validation", "error"}

    with factory.sessions() as session:
        events = session.scalars(
            select(ValidationEvent.comment).where(ValidationEvent.to_status == "valid")
        ).all()
        waiting = session.scalars(
            select(Process).where(Process.validation_status == "to_validate")
        ).one()
        curves = session.scalar(
            select(func.count()).where(DataFile.frame_type == "HCI_CONTRAST_CURVE")
        )
    assert events == [VALIDATION_COMMENT] * 4
    assert waiting.params["angle_source"] == REPROCESS_PARAMS["angle_source"]
    assert waiting.reprocess_of_id is not None
    assert curves >= 4

    tables = _tables(factory)
    truth = read_companions(Path(summary["companions"]))
    for companion in truth:
        side = "left" if companion.filter == "H2" else "right"
        (reference,) = {ref for ref, _ in tables if companion.night in ref}
        (row,) = tables[(reference, f"companions_{side}")]
        theta = math.radians(companion.pa_deg)
        x, y = 64 - companion.sep_px * math.sin(theta), 64 + companion.sep_px * math.cos(theta)
        assert math.hypot(float(row["x"]) - x, float(row["y"]) - y) < 0.5
        assert float(row["contrast"]) == pytest.approx(companion.contrast, rel=0.15)
    if naco:
        (planet,) = tables[(NACO_REFERENCE, "companions")]
        assert float(planet["sep_arcsec"]) == pytest.approx(0.45, abs=0.03)
        # Absil et al. 2013: dL' = 8.01 +- 0.16 on these data.
        assert 7.5 < float(planet["delta_mag"]) < 8.5

    # A second run launches nothing and changes nothing.
    again = install_demo(factory, quick=True)
    assert again["reduction"]["processes"] == summary["reduction"]["processes"]


def test_up_only_launches_the_reductions(factory: Factory) -> None:
    summary = install_demo(factory, quick=True, wait=False)
    statuses = summary["reduction"]["processes"]
    naco = (SHARED_DIR / "data" / "naco_betapic").is_dir()
    assert statuses == {"queued": 28 + (5 if naco else 0)}
