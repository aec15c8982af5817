"""A full disk where jobs write: the process fails with a clear error, the worker goes on.

The job directory is a 1 MiB tmpfs filled up to a chosen number of free pages, so each stage
of a job meets the full disk in turn: the worker writing the spec, the job's start marker,
log, progress, product and manifest. Nothing half-written may be recorded as an output.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from astropy.io import fits
from sqlalchemy import select

from hcdc_server.dispatch.worker import Worker, make_executor
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import DataFile, ProcessOutput
from tests.dispatch.helpers import FINISHED, user_id, worker_settings

PAGE = 4096


@pytest.fixture
def small_jobs_disk(settings) -> Iterator[Path]:
    jobs = settings.jobs_dir
    jobs.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(jobs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield jobs
    finally:
        subprocess.run(["umount", "-l", str(jobs)], check=False)


def _free(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def _fill(disk: Path, leave_bytes: int) -> None:
    """Resize the filler file so that ``leave_bytes`` stay free."""
    filler = disk / "filler"
    filler.touch()
    size = filler.stat().st_size + _free(disk) - leave_bytes
    with filler.open("r+b") as stream:
        stream.truncate(max(0, size))
        stream.seek(0)
        # tmpfs allocates pages on write, not on truncate.
        stream.write(b"\0" * max(0, size))
    assert _free(disk) == leave_bytes


def _run_one(factory, worker: Worker, message: str) -> int:
    request = LaunchRequest(recipe="hcdc_echo", params={"message": message}, force=True)
    pid = factory.processes().launch(request, user_id=user_id(factory)).processes[0].id
    # The same worker object throughout: it must survive each failure to serve the next.
    worker.run(until_idle=True, timeout_s=60)
    assert factory.processes().get(pid).status in FINISHED
    return pid


def _outputs(factory, pid: int) -> list[str]:
    with factory.sessions() as session:
        return list(
            session.scalars(
                select(DataFile.path)
                .join(ProcessOutput, ProcessOutput.data_file_id == DataFile.id)
                .where(ProcessOutput.process_id == pid)
            )
        )


@pytest.mark.slow
def test_full_job_disk_fails_clearly_and_the_worker_keeps_serving(
    factory, small_jobs_disk, tmp_path
):
    settings = worker_settings(capacity=2, poll_interval_s=0.05)
    worker = Worker(
        factory, executor=make_executor(factory, kind="local", settings=settings), settings=settings
    )
    failed_stages = set()
    for pages in (0, 2, 5, 6, 7):
        _fill(small_jobs_disk, pages * PAGE)
        pid = _run_one(factory, worker, f"{pages} pages free")
        process = factory.processes().get(pid)
        outputs = _outputs(factory, pid)
        if process.status == "error":
            assert "no space left on device" in process.error.lower(), process.error
            assert outputs == [], "a failed process records no output"
            failed_stages.add(process.error.split(":")[0].split(";")[0])
        else:
            # Enough room after all: the one product is whole.
            assert process.status == "done", process.error
            assert len(outputs) == 1
            with fits.open(outputs[0]) as hdus:
                assert hdus[0].data.shape == (4, 4)
    # Both the worker's own writes and the job's writes met the full disk.
    assert any(stage.startswith("cannot write the job directory") for stage in failed_stages)
    assert any("job" in stage and "directory" not in stage for stage in failed_stages), (
        failed_stages
    )
    with factory.sessions() as session:
        products = list(session.scalars(select(DataFile.path)))
    for path in products:
        with fits.open(path) as hdus:
            hdus.verify("exception")

    (small_jobs_disk / "filler").unlink()
    pid = _run_one(factory, worker, "room again")
    assert factory.processes().get(pid).status == "done"
    assert len(_outputs(factory, pid)) == 1
