"""The demo nights carry AO telemetry and site-monitor tables with varying conditions; on the
first night, frame selection by tau0 (conditions handed to the job by the dispatcher) changes
the frames the ADI step receives."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from sqlalchemy import select

from hcdc_kernel.conditions import CONDITIONS_FILE, read_sparta
from hcdc_kernel.demo import write_demo_nights
from hcdc_kernel.enums import ProcessStatus
from hcdc_kernel.sphere.angles import frame_times
from hcdc_server.factory import Factory
from hcdc_server.models.processes import InputRef, LaunchRequest
from hcdc_server.schema.tables import (
    DataFile,
    FrameConditions,
    Process,
    ProcessInput,
    ProcessOutput,
)
from hcdc_server.services.conditions import inherit_outputs
from hcdc_server.services.demo import DEMO_LOGIN, install_demo
from tests.dispatch.helpers import run_worker

MIN_TAU0 = 0.002


def test_demo_writes_varying_telemetry(tmp_path: Path) -> None:
    manifest = write_demo_nights(tmp_path, quick=True)
    assert len(manifest.site_tables) == 2 and len(manifest.telemetry) >= 2
    tau0 = np.concatenate(
        [
            s.values
            for p in manifest.telemetry
            for s in read_sparta(p).series
            if s.parameter == "tau0"
        ]
    )
    assert all(read_sparta(p).messages == () for p in manifest.telemetry)
    assert tau0.min() < MIN_TAU0 < 0.0035 < tau0.max()


def _science(factory: Factory, night: str) -> list[tuple[int, Path, float | None]]:
    with factory.sessions() as session:
        rows = session.execute(
            select(DataFile.id, DataFile.path, FrameConditions.tau0)
            .join(FrameConditions, FrameConditions.data_file_id == DataFile.id)
            .where(DataFile.frame_type == "IRD_SCIENCE_DBI_RAW", DataFile.path.like(f"%{night}%"))
            .order_by(DataFile.date_obs)
        ).all()
    return [(int(i), Path(p), t) for i, p, t in rows]


def _cube(path: Path, raws: list[Path]) -> Path:
    """A centred cube of the night's science frames, one frame per DIT, timed as
    ird_preprocess times them (``MJD`` of each DIT's middle)."""
    times = np.concatenate([frame_times(fits.getheader(p), path=p).mjd for p in raws])
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    star = 500.0 * np.exp(-((xx - 16) ** 2 + (yy - 16) ** 2) / 8.0)
    cube = star[None] + rng.normal(0.0, 1.0, (times.size, 32, 32))
    first = fits.getheader(raws[0])
    header = fits.Header()
    header["HIERARCH HCDC PRO CATG"] = "IRD_SCIENCE_CUBE"
    header["HIERARCH HCDC PIXSCALE"] = 0.01225
    header["HIERARCH ESO DET SEQ1 DIT"] = first["HIERARCH ESO DET SEQ1 DIT"]
    header["DATE-OBS"] = first["DATE-OBS"]
    angles = fits.table_to_hdu(Table({"PARANG": np.linspace(0.0, 40.0, times.size), "MJD": times}))
    angles.name = "ANGLES"
    fits.HDUList([fits.PrimaryHDU(cube.astype(np.float32), header), angles]).writeto(path)
    return path


def test_frame_selection_by_tau0_changes_the_adi_inputs(factory: Factory, tmp_path: Path) -> None:
    install_demo(factory, quick=True, reduce=False)
    science = _science(factory, "2019-05-28")
    assert len(science) >= 6
    tau0 = [t for _, _, t in science]
    assert all(t is not None for t in tau0)
    bad = [i for i, (_, _, t) in enumerate(science) if t is not None and t < MIN_TAU0]
    assert 0 < len(bad) < len(science)  # the bad spell hits some exposures, not all

    # The cube a pre-processing step would make of these frames, with its provenance.
    user_id = factory.users().get_user(DEMO_LOGIN).id
    records = []
    cube_path = _cube(tmp_path / "cube.fits", [p for _, p, _ in science])
    factory.ingest().ingest([cube_path], on_record=records.append)
    cube_id = records[0].id
    processes = factory.processes()
    with factory.sessions.begin() as session:
        preprocess = Process(
            recipe_id=session.scalar(select(Process.recipe_id).limit(1)) or 1,
            user_id=user_id,
            status=ProcessStatus.DONE,
            created_at=datetime(2026, 1, 1),
            params={},
        )
        session.add(preprocess)
        session.flush()
        for data_id, _, _ in science:
            session.add(ProcessInput(process_id=preprocess.id, data_file_id=data_id, sof_tag="X"))
        session.add(ProcessOutput(process_id=preprocess.id, data_file_id=cube_id))
        session.flush()
        inherit_outputs(session, preprocess.id, [cube_id])

    launched = processes.launch(
        LaunchRequest(
            recipe="hci_frame_selection",
            inputs=[InputRef(data_file_id=cube_id, tag="SCIENCE")],
            params={"min_tau0": MIN_TAU0, "flux_sigma": 0, "correlation_sigma": 0},
        ),
        user_id=user_id,
    )
    selection_id = launched.processes[0].id
    run_worker(factory, timeout_s=240)
    selection = processes.get(selection_id)
    assert selection.status == "done", selection.error
    spec = json.loads(Path(selection.job_dir, "spec.json").read_text())
    assert {"path": str(Path(selection.job_dir) / CONDITIONS_FILE), "tag": "CONDITIONS"} in spec[
        "inputs"
    ]
    with factory.sessions() as session:
        outputs = dict(
            session.execute(
                select(DataFile.frame_type, DataFile.path)
                .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
                .where(ProcessOutput.process_id == selection_id)
            ).all()
        )
    table = Table.read(outputs["HCI_FRAME_SELECTION"], hdu=1)
    ndit = fits.getheader(science[0][1])["HIERARCH ESO DET NDIT"]
    per_file = np.asarray(table["kept"]).reshape(len(science), ndit)
    # every DIT of the exposures in the bad spell is rejected for tau0, the others kept
    assert [i for i, row in enumerate(per_file) if not row.any()] == bad
    assert {str(r) for r in table["reasons"][~np.asarray(table["kept"])]} == {"tau0"}
    kept = int(np.asarray(table["kept"]).sum())
    with fits.open(outputs["HCI_CENTERED_CUBE"]) as hdul:
        assert hdul[0].data.shape[0] == kept < len(table)

    selected_id = next(i for i, p in _paths(factory).items() if p == outputs["HCI_CENTERED_CUBE"])
    adi = processes.launch(
        LaunchRequest(
            recipe="hci_adi_pca",
            inputs=[InputRef(data_file_id=selected_id, tag="SCIENCE")],
            params={"ncomp": 2, "fwhm": 4.0},
        ),
        user_id=user_id,
    ).processes[0]
    run_worker(factory, timeout_s=240)
    done = processes.get(adi.id)
    assert done.status == "done", done.error
    log = Path(done.job_dir, "products", "recipe.log")
    assert f"ADI on {kept} frames" in log.read_text()


def _paths(factory: Factory) -> dict[int, str]:
    with factory.sessions() as session:
        return {int(i): str(p) for i, p in session.execute(select(DataFile.id, DataFile.path))}
