"""A live ``hcdc serve`` (and ``hcdc worker``) on a free port over the quick demo night.

The data dir is seeded with ``hcdc demo --quick`` (user ``demo``, workspace ``demo``), a second
user ``colleague`` with a token, and a version of the ``hcdc_echo`` recipe that needs validation
(so that processes reach ``waiting_validation``); the test recipes ``hcdc_echo`` and
``hcdc_sleep`` are shown to every user.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


@dataclass(frozen=True)
class LiveServer:
    url: str
    login: str
    token: str
    other_login: str
    other_token: str
    data_dir: Path
    cache_dir: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment of a notebook kernel talking to this server."""
        return {
            "HCDC_URL": self.url,
            "HCDC_TOKEN": self.token,
            "HCDC_USER": self.login,
            "HCDC_CACHE_DIR": str(self.cache_dir),
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hcdc_cli(data_dir: Path, *args: str, env: dict[str, str]) -> str:
    """Run ``hcdc --data-dir DIR ARGS``; its stdout, or RuntimeError with its output."""
    done = subprocess.run(
        ["hcdc", "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hcdc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hcdc serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/hub/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"hcdc serve not ready after 60 s:\n{log.read_text()}")


def start_live_server(folder: Path) -> Iterator[LiveServer]:
    """Seed ``folder``, start the server and a worker; stop them afterwards."""
    data_dir = folder / "data"
    env = {**os.environ, "HCDC_RESOLVE_TARGETS": "false", "HCDC_DATA_DIR": str(data_dir)}
    demo = json.loads(hcdc_cli(data_dir, "demo", "--quick", "--no-reduce", env=env))
    hcdc_cli(data_dir, "user", "add", "colleague", "--email", "colleague@hcdc.invalid", env=env)
    other_token = hcdc_cli(data_dir, "token", "create", "colleague", env=env).strip().split()[-1]
    spec = folder / "validated.json"
    spec.write_text(json.dumps({"needs_validation": True}))
    hcdc_cli(
        data_dir,
        "recipe",
        "add-version",
        "hcdc_echo",
        "1.1",
        "--spec",
        str(spec),
        "--current",
        env=env,
    )
    for recipe in ("hcdc_echo", "hcdc_sleep"):
        # Hidden recipes are for administrators: this deployment's administrator shows the
        # test recipes to its users.
        hcdc_cli(data_dir, "recipe", "hide", "--show", recipe, env=env)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = folder / "serve.log"
    worker_log = folder / "worker.log"
    with server_log.open("wb") as out, worker_log.open("wb") as wout:
        server = subprocess.Popen(
            ["hcdc", "--data-dir", str(data_dir), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            ["hcdc", "--data-dir", str(data_dir), "worker", "--poll", "0.2"],
            env=env,
            stdout=wout,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(url, server, server_log)
            yield LiveServer(
                url=url,
                login=demo["login"],
                token=demo["token"],
                other_login="colleague",
                other_token=other_token,
                data_dir=data_dir,
                cache_dir=folder / "cache",
            )
        finally:
            for process in (worker, server):
                process.terminate()
            for process in (worker, server):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One live server for the session (see the module docstring)."""
    yield from start_live_server(tmp_path_factory.mktemp("live"))
