"""A live server whose catalog holds HTML/JavaScript payloads in every user-controlled field.

On top of the quick demo night (:mod:`tests.client.live`), ``seed_hostile`` adds a raw frame whose
file name, OBJECT/target name and programme id are payloads, a workspace whose description is one,
and two processes waiting validation on a second such frame whose reference, recipe parameter, SOF tag,
job log, contrast-curve algorithm and companion-table column are payloads, with their products.
Every payload sets ``window.hcdcXss`` to its number when a browser runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from hcdc_kernel.products import CompanionTable, ContrastCurve, FinalImageProduct, SnrMapProduct
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.models.ingest import IngestRecord
from hcdc_server.schema.tables import (
    DataFile,
    Process,
    ProcessInput,
    ProcessOutput,
    Recipe,
    User,
    Workspace,
)
from tests.client.live import LiveServer, start_live_server

#: Field -> payload; each sets ``window.hcdcXss`` to its own number when it runs.
HOSTILE = {
    "target": "<svg/onload=window.hcdcXss=1>",
    "file": "<img src=x onerror=window.hcdcXss=2>.fits",
    # The processes' input: a SOF cannot name a path with blanks, hence no event handler.
    "input_file": "\"><marquee>'.fits",
    "prog_id": "'><img src=x onerror=window.hcdcXss=3>",
    "reference": "<img src=x onerror=window.hcdcXss=4>",
    "param": '<svg onload="window.hcdcXss=5">',
    "description": "<img src=x onerror=window.hcdcXss=6>",
    "column": "<img src=x onerror=window.hcdcXss=7>",
    "log": "<script>window.hcdcXss=8</script><img src=x onerror=window.hcdcXss=8>",
    "sof_tag": "<img src=x onerror=window.hcdcXss=9>",
    "algorithm": "<img src=x onerror=window.hcdcXss=10>",
}
WORKSPACE = "hostile"


@dataclass(frozen=True)
class HostileCatalog:
    live: LiveServer
    data_id: int
    input_id: int
    process_ids: list[int]

    @property
    def env(self) -> dict[str, str]:
        return self.live.env


def seed_hostile(live: LiveServer, folder: Path) -> HostileCatalog:
    """Add the hostile frame, workspace and processes to ``live``'s catalog."""
    factory = Factory(Settings(data_dir=live.data_dir, resolve_targets=False))
    try:
        data_id = _hostile_frame(factory, folder, HOSTILE["file"], 990001, login=live.login)
        input_id = _hostile_frame(factory, folder, HOSTILE["input_file"], 990002, login=live.login)
        factory.workspaces().add_workspace(
            WORKSPACE, description=HOSTILE["description"], owner_login=live.login
        )
        process_ids = [
            _hostile_process(factory, input_id, index, login=live.login) for index in range(2)
        ]
    finally:
        factory.close()
    return HostileCatalog(live=live, data_id=data_id, input_id=input_id, process_ids=process_ids)


def _ingest(factory: Factory, paths: list[Path], *, login: str) -> list[IngestRecord]:
    records: list[IngestRecord] = []
    factory.ingest().ingest(paths, workspace="demo", user_login=login, on_record=records.append)
    assert all(r.id is not None for r in records), records
    return records


def _hostile_frame(factory: Factory, folder: Path, name: str, obs_id: int, *, login: str) -> int:
    with factory.sessions.begin() as session:
        source = session.scalar(
            select(DataFile.path).where(DataFile.frame_type == "IRD_SCIENCE_DBI_RAW").limit(1)
        )
    assert source is not None
    target = folder / "upload" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with fits.open(source) as hdul:
        header = hdul[0].header
        header["OBJECT"] = (HOSTILE["target"], "")
        header["HIERARCH ESO OBS TARG NAME"] = (HOSTILE["target"], "")
        header["HIERARCH ESO OBS PROG ID"] = (HOSTILE["prog_id"], "")
        header["HIERARCH ESO OBS ID"] = (obs_id, "")
        hdul.writeto(target)
    (record,) = _ingest(factory, [target], login=login)
    assert record.id is not None
    return record.id


def _hostile_process(factory: Factory, data_id: int, index: int, *, login: str) -> int:
    now = datetime.now(UTC).replace(tzinfo=None)
    with factory.sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        workspace = session.scalar(select(Workspace).where(Workspace.name == "demo"))
        recipe = session.scalar(
            select(Recipe).where(Recipe.name == "hcdc_echo", Recipe.is_current.is_(True))
        )
        frame = session.get_one(DataFile, data_id)
        assert user is not None and workspace is not None and recipe is not None
        process = Process(
            recipe_id=recipe.id,
            user_id=user.id,
            workspace_id=workspace.id,
            target_id=frame.target_id,
            reference=HOSTILE["reference"],
            params={"message": HOSTILE["param"]},
            status="waiting_validation",
            validation_status="to_validate",
            progress=100.0,
            created_at=now,
            started_at=now,
            ended_at=now,
            instrument=frame.instrument,
            obs_night=frame.obs_night or date(2019, 5, 27),
            prog_id=HOSTILE["prog_id"],
        )
        session.add(process)
        session.flush()
        session.add(
            ProcessInput(process_id=process.id, data_file_id=data_id, sof_tag=HOSTILE["sof_tag"])
        )
        process_id = process.id
    job_dir = factory.settings.jobs_dir / f"hostile-{process_id}-{uuid.uuid4().hex[:6]}"
    job_dir.mkdir(parents=True)
    (job_dir / "job.log").write_text(f"hcdc_echo: {HOSTILE['log']}\n")
    with factory.sessions.begin() as session:
        session.get_one(Process, process_id).job_dir = str(job_dir)
    records = _ingest(factory, _products(job_dir, index), login=login)
    with factory.sessions.begin() as session:
        for record in records:
            session.add(
                ProcessOutput(
                    process_id=process_id, data_file_id=record.id, category=record.frame_type
                )
            )
    return process_id


def _products(job_dir: Path, index: int) -> list[Path]:
    separation = np.linspace(0.1, 1.0, 16)
    meta = {"algorithm": HOSTILE["algorithm"], "params": {"message": HOSTILE["param"]}}
    curve = ContrastCurve(
        separation_px=separation / 0.01225 * u.pix,
        separation_arcsec=separation * u.arcsec,
        contrast=(1 + index) * 2e-5 * separation**-1.5,
        throughput=np.full(separation.size, 0.6),
        noise=np.ones(separation.size),
        sigma=np.full(separation.size, 5.0),
        sigma_level=5.0,
        algorithm=HOSTILE["algorithm"],
        params={"message": HOSTILE["param"]},
    )
    rng = np.random.default_rng(index)
    companions = CompanionTable.from_rows(
        [
            {"x": 44.0, "y": 26.0, "sep_px": 20.0, "sep_arcsec": 0.245, "pa_deg": 120.0}
            | {"flux": 1.0, "flux_err": 0.1, "contrast": 1e-4, "delta_mag": 10.0, "snr": 9.0}
        ],
        meta=meta,
    )
    companions.table[HOSTILE["column"]] = [float(index)]
    return [
        curve.write_fits(job_dir / "contrast_curve.fits"),
        SnrMapProduct.create(rng.normal(size=(32, 32)), meta=meta).write(job_dir / "snr.fits"),
        FinalImageProduct.create(rng.normal(size=(32, 32)), meta=meta).write(
            job_dir / "final.fits"
        ),
        companions.write_fits(job_dir / "companions.fits"),
    ]


@pytest.fixture(scope="module")
def hostile_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileCatalog]:
    """A live server (and worker) over the demo night plus the hostile catalog."""
    folder = tmp_path_factory.mktemp("hostile")
    servers = start_live_server(folder)
    live = next(servers)
    try:
        yield seed_hostile(live, folder)
    finally:
        servers.close()
