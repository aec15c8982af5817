"""Jobs and the esorex adapter, run for real: hcdc-job, esorex naco_img_dark, time limits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from astropy.io import fits

from hcdc_kernel.jobs.manifest import read_manifest, read_progress
from hcdc_kernel.jobs.runner import EXIT_DUPLICATE, EXIT_TIMEOUT
from hcdc_kernel.jobs.spec import JobInput, JobSpec
from hcdc_kernel.recipes.esorex import build_sof, esorex_command
from tests.dispatch.helpers import write_naco_dark
from tests.requirements import needs_naco

JOB = [sys.executable, "-m", "hcdc_kernel.jobs.cli", "run"]


def run(spec: JobSpec) -> int:
    return subprocess.run([*JOB, str(spec.write())], check=False, timeout=120).returncode


def test_sof_lines_and_command_line(tmp_path):
    inputs = [
        JobInput(str(tmp_path / "a.fits"), "CAL_DARK"),
        JobInput(str(tmp_path / "b.fits"), "X"),
    ]
    assert build_sof(inputs) == f"{tmp_path}/a.fits CAL_DARK\n{tmp_path}/b.fits X\n"
    command = esorex_command(
        "naco_img_dark",
        sof=tmp_path / "in.sof",
        output_dir=tmp_path / "out",
        params={"r": "10 10 10 10", "flag": True},
    )
    assert command == [
        "esorex",
        "--no-checksum=TRUE",
        "--no-datamd5=TRUE",
        f"--output-dir={tmp_path / 'out'}",
        "naco_img_dark",
        "--flag=TRUE",
        "--r=10 10 10 10",
        str(tmp_path / "in.sof"),
    ]


@needs_naco
def test_naco_img_dark_runs_in_a_job_and_reports_products_and_qc(tmp_path):
    darks = [
        write_naco_dark(tmp_path / f"raw/dark{i}.fits", seed=i, date_obs=f"2013-02-01T10:0{i}:00")
        for i in range(3)
    ]
    spec = JobSpec(
        recipe="naco_img_dark",
        version="4.4.11",
        kind="esorex",
        entry="naco_img_dark",
        job_dir=str(tmp_path / "job"),
        inputs=tuple(JobInput(str(p), "CAL_DARK") for p in darks),
        params={"r": "10 10 10 10"},
        timeout_s=120,
    )
    assert run(spec) == 0
    manifest = read_manifest(spec.directory)
    assert manifest is not None and manifest.status == "ok", manifest
    categories = sorted(p.category for p in manifest.products)
    assert categories == [
        "NACO_IMG_DARK_AVG",
        "NACO_IMG_DARK_COLD",
        "NACO_IMG_DARK_DEV",
        "NACO_IMG_DARK_HOT",
    ]
    avg = next(p for p in manifest.products if p.category == "NACO_IMG_DARK_AVG")
    # The master dark's median equals the synthetic level (100 ADU) within the noise.
    assert abs(avg.qc["DARKMED"] - 100.0) < 1.0
    assert fits.getheader(avg.path)["HIERARCH ESO PRO CATG"] == "NACO_IMG_DARK_AVG"
    assert (spec.directory / "input.sof").read_text().count("CAL_DARK") == 3
    assert read_progress(spec.directory).progress == 100.0


@needs_naco
def test_esorex_failure_ends_the_job_in_error_with_the_log(tmp_path):
    spec = JobSpec(
        recipe="naco_img_dark",
        version="4.4.11",
        kind="esorex",
        entry="naco_img_dark",
        job_dir=str(tmp_path / "job"),
        inputs=(JobInput(str(tmp_path / "missing.fits"), "CAL_DARK"),),
    )
    assert run(spec) == 1
    manifest = read_manifest(spec.directory)
    assert manifest.status == "error"
    assert manifest.failure_class == "fatal"
    assert "esorex naco_img_dark exited with status" in manifest.error
    assert "esorex" in (spec.directory / "job.log").read_text()


def test_unavailable_esorex_recipe_is_a_usage_failure(tmp_path):
    spec = JobSpec(
        recipe="sph_ird_master_dark",
        version="0",
        kind="esorex",
        entry="sph_ird_master_dark",
        job_dir=str(tmp_path / "job"),
    )
    assert run(spec) == 2
    manifest = read_manifest(spec.directory)
    assert manifest.failure_class == "usage"
    assert "sph_ird_master_dark" in manifest.error


def sleep_spec(tmp_path, **params) -> JobSpec:
    return JobSpec(
        recipe="hcdc_sleep",
        version="1.0",
        kind="python",
        entry="hcdc_kernel.recipes.trivial:run_sleep",
        job_dir=str(tmp_path / "job"),
        params=params,
        timeout_s=params.pop("timeout_s", None),
        process_id=7,
        path_params=("record",),
    )


def test_time_limit_is_enforced_by_the_job_itself(tmp_path):
    spec = sleep_spec(tmp_path, seconds=30.0, timeout_s=0.5)
    assert run(spec) == EXIT_TIMEOUT
    manifest = read_manifest(spec.directory)
    assert manifest.failure_class == "timeout"
    assert manifest.error == "time limit of 0.5 s exceeded"


def test_a_job_runs_at_most_once(tmp_path):
    spec = sleep_spec(tmp_path, record="runs.txt")
    assert run(spec) == 0
    assert run(spec) == EXIT_DUPLICATE
    assert (spec.directory / "runs.txt").read_text() == "7\n"
    started = json.loads((spec.directory / "started.json").read_text())
    assert started["pid"] > 0


def test_a_hard_crash_leaves_no_manifest(tmp_path):
    spec = sleep_spec(tmp_path, fail="crash")
    assert run(spec) == -9
    assert read_manifest(spec.directory) is None
    assert "crashing on purpose" in (spec.directory / "job.log").read_text()


def test_console_script_is_installed():
    assert shutil.which("hcdc-job") is not None
