"""Shared pieces of the dispatch tests: synthetic NACO darks, users, running a worker."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from hcdc_kernel.enums import FINISHED_STATUSES as FINISHED
from hcdc_server.config import Settings
from hcdc_server.dispatch.settings import WorkerSettings
from hcdc_server.dispatch.worker import Worker, make_executor
from hcdc_server.factory import Factory

#: The ``record`` parameter of ``hcdc_sleep`` in tests: a file inside each job directory.
RUNS = "runs.txt"


def write_naco_dark(
    path: Path,
    *,
    date_obs: str = "2013-02-01T10:00:00",
    dit: float = 0.2,
    mode: str = "HighWellDepth",
    seed: int = 0,
    size: int = 64,
) -> Path:
    """A small NACO dark with the headers ``naco_img_dark`` needs (DESIGN.md)."""
    header = fits.Header()
    header["INSTRUME"] = "NAOS+CONICA"
    header["DATE-OBS"] = date_obs
    header["EXPTIME"] = dit
    header["HIERARCH ESO DPR CATG"] = "CALIB"
    header["HIERARCH ESO DPR TYPE"] = "DARK"
    header["HIERARCH ESO DPR TECH"] = "IMAGE"
    header["HIERARCH ESO DET DIT"] = dit
    header["HIERARCH ESO DET NDIT"] = 10
    header["HIERARCH ESO DET NCORRS"] = 3
    header["HIERARCH ESO DET MODE NAME"] = mode
    header["HIERARCH ESO INS OPTI7 NAME"] = "L27"
    rng = np.random.default_rng(seed)
    data = (100 + rng.normal(0, 5, (size, size))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=data, header=header).writeto(path)
    return path


def ingest(factory: Factory, paths: list[Path]) -> list[int]:
    records = []
    factory.ingest().ingest(paths, on_record=records.append)
    return [r.id for r in records]


def user_id(factory: Factory, login: str = "alice") -> int:
    try:
        return factory.users().get_user(login).id
    except Exception:
        return factory.users().add_user(login).id


def recorded_runs(settings: Settings, name: str = RUNS) -> list[int]:
    """The process ids ``hcdc_sleep`` recorded (``record=name``), one per run, from every job."""
    return sorted(
        int(line)
        for path in settings.jobs_dir.glob(f"*/a*/{name}")
        for line in path.read_text().split()
    )


def worker_settings(**overrides: object) -> WorkerSettings:
    values: dict[str, object] = {"capacity": 4, "poll_interval_s": 0.1, "stale_after_s": 30.0}
    values.update(overrides)
    return WorkerSettings(**values)


def run_worker(
    factory: Factory, *, kind: str = "local", timeout_s: float = 120.0, **overrides: object
) -> Worker:
    """Run a worker until nothing is left to do (or the timeout)."""
    settings = worker_settings(**overrides)
    worker = Worker(
        factory, executor=make_executor(factory, kind=kind, settings=settings), settings=settings
    )
    worker.run(until_idle=True, timeout_s=timeout_s)
    return worker


def wait_for(factory: Factory, ids: list[int], *, timeout_s: float = 120.0) -> dict[int, str]:
    """Statuses once every process in ``ids`` has finished (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    processes = factory.processes()
    while True:
        statuses = {i: processes.get(i).status for i in ids}
        if all(s in FINISHED for s in statuses.values()) or time.monotonic() > deadline:
            return statuses
        time.sleep(0.2)
