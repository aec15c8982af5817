"""A job writes only inside its own directory: path parameters and the Landlock sandbox.

The jobs run for real (``hcdc-job run``), as the worker runs them. The probe recipe lives in a
module written into the test's folder, so that nothing in hcdc itself tries to write outside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hcdc_kernel.jobs import runner
from hcdc_kernel.jobs.manifest import read_manifest
from hcdc_kernel.jobs.runner import EXIT_OK, EXIT_USAGE
from hcdc_kernel.jobs.sandbox import SandboxUnavailableError, landlock_abi
from hcdc_kernel.jobs.spec import JobSpec
from hcdc_kernel.recipes.spec import check_job_path, resolve_job_path
from hcdc_server.app import create_app
from tests.api.client import api_client

JOB = [sys.executable, "-m", "hcdc_kernel.jobs.cli", "run"]

PROBE = '''
"""Try to write to each of params["targets"] and report what happened in the job folder."""
import json
from pathlib import Path


def probe(context):
    results = {}
    for target in context.params["targets"]:
        try:
            with open(target, "a") as stream:
                stream.write("written by a job\\n")
            results[target] = "written"
        except OSError as exc:
            results[target] = type(exc).__name__
    shell = context.run_subprocess(
        ["sh", "-c", f"echo child >> {context.params['targets'][0]}"]
    )
    results["child exit status"] = shell
    (context.output_dir.parent / "probe.json").write_text(json.dumps(results))
'''


def landlock_or_skip() -> int:
    try:
        return landlock_abi()
    except SandboxUnavailableError as exc:
        pytest.skip(f"this kernel has no Landlock: {exc}")


def run(spec: JobSpec, *, pythonpath: Path | None = None) -> int:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run([*JOB, str(spec.write())], check=False, timeout=120, env=env).returncode


def sleep_spec(job_dir: Path, **params: object) -> JobSpec:
    return JobSpec(
        recipe="hcdc_sleep",
        version="1.0",
        kind="python",
        entry="hcdc_kernel.recipes.trivial:run_sleep",
        job_dir=str(job_dir),
        params=params,
        process_id=7,
        path_params=("record",),
    )


# -- path parameters -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["/etc/passwd", "../other/runs.txt", "a/../../x", "~/x", "."])
def test_a_path_parameter_must_stay_in_the_job_directory(value):
    with pytest.raises(ValueError, match=r"job directory|relative path"):
        check_job_path(value)


def test_a_path_parameter_is_made_absolute_in_the_job_directory(tmp_path):
    assert check_job_path("./logs//runs.txt") == "logs/runs.txt"
    assert resolve_job_path(tmp_path, "logs/runs.txt") == tmp_path.resolve() / "logs/runs.txt"
    (tmp_path / "out").symlink_to(tmp_path.parent)
    with pytest.raises(ValueError, match="symbolic link"):
        resolve_job_path(tmp_path, "out/runs.txt")


def test_a_launch_naming_a_file_outside_its_job_is_refused_with_400(factory, tmp_path):
    factory.users().add_user("root", role="admin")
    headers = {"X-Auth-Ident": "root", "X-Auth-Token": factory.users().create_token("root").token}
    victim = tmp_path / "upload.fits"
    with api_client(create_app(factory)) as http:
        for value in (str(victim), "../../../upload.fits"):
            body = {"recipe": "hcdc_sleep", "params": {"record": value}, "force": True}
            answer = http.post("/api/processes", json=body, headers=headers)
            assert answer.status_code == 400, answer.text
            assert "param record" in answer.json()["message"]
        fine = {"recipe": "hcdc_sleep", "params": {"record": "runs.txt"}, "force": True}
        assert http.post("/api/processes", json=fine, headers=headers).status_code == 201
    assert not victim.exists()


def test_the_job_refuses_a_path_that_leads_out_of_its_directory(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "out").symlink_to(outside)
    spec = sleep_spec(job_dir, record="out/runs.txt")
    assert run(spec) == EXIT_USAGE
    manifest = read_manifest(job_dir)
    assert manifest.failure_class == "usage"
    assert "param record" in manifest.error and "symbolic link" in manifest.error
    assert not (outside / "runs.txt").exists()
    # A spec written by hand with a path out of the job is refused by the job too.
    other = sleep_spec(tmp_path / "job2", record=str(outside / "runs.txt"))
    assert run(other) == EXIT_USAGE
    assert not (outside / "runs.txt").exists()


def test_record_lands_in_the_job_directory(tmp_path):
    spec = sleep_spec(tmp_path / "job", record="logs/runs.txt")
    (tmp_path / "job" / "logs").mkdir(parents=True)
    assert run(spec) == EXIT_OK
    assert (tmp_path / "job" / "logs" / "runs.txt").read_text() == "7\n"


# -- the sandbox -----------------------------------------------------------------------------


def test_a_job_writes_in_its_own_folder_only(tmp_path):
    abi = landlock_or_skip()
    (tmp_path / "probe_recipe.py").write_text(textwrap.dedent(PROBE))
    data = tmp_path / "data"
    upload = data / "uploads" / "bob.fits"
    upload.parent.mkdir(parents=True)
    upload.write_text("bob's private frame\n")
    other_job = data / "jobs" / "2" / "a1"
    other_job.mkdir(parents=True)
    job_dir = data / "jobs" / "1" / "a1"
    own = job_dir / "mine.txt"
    targets = [
        str(upload),
        str(data / "hcdc.sqlite"),
        str(other_job / "manifest.json"),
        str(own),
        str(tmp_path / "beside-the-data.txt"),
    ]
    spec = JobSpec(
        recipe="probe",
        version="1",
        kind="python",
        entry="probe_recipe:probe",
        job_dir=str(job_dir),
        params={"targets": targets},
        sandbox="required",
    )
    assert run(spec, pythonpath=tmp_path) == EXIT_OK, (job_dir / "job.log").read_text()
    results = json.loads((job_dir / "probe.json").read_text())
    assert results[str(own)] == "written"
    for target in targets:
        if target != str(own):
            assert results[target] == "PermissionError", (target, results)
    assert results["child exit status"] != 0  # programs the job starts are confined too
    assert upload.read_text() == "bob's private frame\n"
    assert not (data / "hcdc.sqlite").exists()
    assert not (other_job / "manifest.json").exists()
    assert not (tmp_path / "beside-the-data.txt").exists()
    manifest = read_manifest(job_dir)
    assert manifest.status == "ok"
    assert manifest.sandbox == f"landlock ABI {abi}: writes only beneath {job_dir.resolve()}"


def test_a_python_recipe_runs_under_the_sandbox_with_its_own_temporary_folder(tmp_path):
    landlock_or_skip()
    spec = JobSpec(
        recipe="hcdc_echo",
        version="1.0",
        kind="python",
        entry="hcdc_kernel.recipes.trivial:run_echo",
        job_dir=str(tmp_path / "job"),
        params={"message": "sandboxed"},
    )
    assert run(spec) == EXIT_OK, (tmp_path / "job" / "job.log").read_text()
    manifest = read_manifest(spec.directory)
    assert manifest.sandbox.startswith("landlock")
    assert [Path(p.path).name for p in manifest.products] == ["echo.fits"]
    assert (spec.directory / "tmp").is_dir()


def test_without_landlock_a_job_warns_or_refuses_as_configured(tmp_path, monkeypatch, capsys):
    def unavailable(_writable):  # type: ignore[no-untyped-def]
        raise SandboxUnavailableError("no Landlock in this kernel")

    monkeypatch.setattr(runner, "confine_writes", unavailable)
    auto = JobSpec(recipe="r", version="1", kind="python", entry="m:f", job_dir=str(tmp_path))
    assert runner._confine(auto) == "none: no Landlock in this kernel"
    assert "WARNING: this job's writes are not confined" in capsys.readouterr().out
    required = JobSpec(**{**auto.__dict__, "sandbox": "required"})
    with pytest.raises(SandboxUnavailableError):
        runner._confine(required)
    off = JobSpec(**{**auto.__dict__, "sandbox": "off"})
    assert runner._confine(off) == "off"
