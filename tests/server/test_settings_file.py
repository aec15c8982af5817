"""One Settings: the worker's and Slurm's settings nested in it, from the environment or the
TOML file named by HCDC_CONFIG, which refuses any key hcdc does not have."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hcdc_server.cli import main
from hcdc_server.config import Settings
from hcdc_server.exceptions import SettingsError


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hcdc.toml"
    path.write_text(text)
    return path


def test_worker_and_slurm_settings_are_nested(tmp_path: Path, monkeypatch) -> None:
    path = _file(
        tmp_path,
        'executor = "slurm"\n[worker]\ncapacity = 7\n[slurm]\npartition = "short"\n'
        'extra_directives = ["--mem=4G"]\n[quotas]\nmax_queued_per_user = 5\n',
    )
    monkeypatch.setenv("HCDC_CONFIG", str(path))
    monkeypatch.setenv("HCDC_WORKER__POLL_INTERVAL_S", "0.5")
    settings = Settings()
    assert settings.executor == "slurm"
    assert (settings.worker.capacity, settings.worker.poll_interval_s) == (7, 0.5)
    assert settings.slurm.partition == "short" and settings.slurm.extra_directives == ["--mem=4G"]
    assert settings.quotas.max_queued_per_user == 5
    monkeypatch.setenv("HCDC_WORKER__CAPACITY", "3")  # the environment wins over the file
    assert Settings().worker.capacity == 3


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("exectuor = 'slurm'\n", "'exectuor' (did you mean executor?)"),
        ("[worker]\ncapacty = 3\n", "'worker.capacty' (did you mean capacity?)"),
        ("[slurm]\nqueue = 'x'\n", "'slurm.queue'"),
        ("[quotas]\nmax_queued = 3\n", "'quotas.max_queued'"),
        ("worker = 3\n", "worker is a table"),
        ("[worker\n", "not valid TOML"),
    ],
)
def test_a_settings_file_refuses_what_hcdc_does_not_have(
    tmp_path: Path, monkeypatch, text: str, named: str
) -> None:
    path = _file(tmp_path, text)
    monkeypatch.setenv("HCDC_CONFIG", str(path))
    with pytest.raises(SettingsError) as error:
        Settings()
    assert named in error.value.message and str(path) in error.value.message
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "init"])
    assert result.exit_code == 1 and named in result.output
    assert not (tmp_path / "data").exists()


def test_a_settings_file_that_is_not_there_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HCDC_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"missing\.toml"):
        Settings()
