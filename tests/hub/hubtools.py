"""Drive a real `hcdc up` from tests and benchmarks: start it, log in, spawn, run code, stop.

Everything goes over HTTP and the kernel websocket, as a person's browser would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import httpx
import numpy as np
import psutil
import websocket
from sqlalchemy import select

from hcdc_kernel.products import ContrastCurve, FinalImageProduct, SnrMapProduct
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.models.ingest import IngestRecord
from hcdc_server.schema.tables import (
    DataFile,
    Process,
    ProcessOutput,
    Recipe,
    User,
    Workspace,
)
from hcdc_server.services.demo import install_demo

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def hub_settings_env(data_dir: Path) -> dict[str, str]:
    """Environment of an `hcdc up` on free ports with ``data_dir``, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HCDC_", "JUPYTERHUB_"))}
    env.update(
        HCDC_DATA_DIR=str(data_dir),
        HCDC_RESOLVE_TARGETS="false",
        HCDC_HUB_PORT=str(free_port()),
        HCDC_HUB_API_PORT=str(free_port()),
        HCDC_PROXY_API_PORT=str(free_port()),
        HCDC_HUB_SERVICE_PORT=str(free_port()),
    )
    return env


def prepare_demo(data_dir: Path) -> Factory:
    """The demo (quick night) installed in ``data_dir``, as `hcdc up` would find it."""
    factory = Factory(Settings(data_dir=data_dir, resolve_targets=False))
    install_demo(factory, quick=True, reduce=False)
    return factory


def seed_processes(factory: Factory, *, count: int = 3, login: str = "demo") -> list[int]:
    """Processes waiting for validation in the user's first workspace, with their products.

    Each has a final image, an S/N map and a contrast curve written in hcdc's product formats
    and ingested as the worker does, and a job log; their curves differ (ncomp, algorithm).
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    with factory.sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        workspace = session.scalar(select(Workspace).order_by(Workspace.id))
        frame = session.scalar(select(DataFile).where(DataFile.target_id.is_not(None)))
        assert user is not None and workspace is not None and frame is not None
        workspace_name = workspace.name
        recipe = Recipe(
            name="hcdc_test_adi",
            version=uuid.uuid4().hex[:8],
            kind="python",
            instrument="IRDIS",
            needs_validation=True,
            created_at=now,
            is_hidden=True,
            is_current=False,
        )
        session.add(recipe)
        session.flush()
        ids = []
        for index in range(count):
            process = Process(
                recipe_id=recipe.id,
                user_id=user.id,
                workspace_id=workspace.id,
                target_id=frame.target_id,
                reference=f"seeded {index}",
                params={"ncomp": index + 1, "algorithm": _ALGORITHMS[index % 2]},
                status="waiting_validation",
                validation_status="to_validate",
                progress=100.0,
                created_at=now,
                started_at=now,
                ended_at=now,
                instrument=frame.instrument,
                obs_night=frame.obs_night or date(2019, 5, 27),
            )
            session.add(process)
            session.flush()
            ids.append(process.id)
    for index, process_id in enumerate(ids):
        _seed_products(factory, process_id, index, workspace=workspace_name, login=login)
    return ids


_ALGORITHMS = ("pca", "median")


def _seed_products(
    factory: Factory, process_id: int, index: int, *, workspace: str, login: str
) -> None:
    job_dir = factory.settings.jobs_dir / f"seeded-{process_id}"
    job_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(process_id)
    yy, xx = np.mgrid[:64, :64]
    planet = 6.0 * np.exp(-((xx - 44) ** 2 + (yy - 26) ** 2) / 4.0)
    separation = np.linspace(0.1, 1.0, 24)
    curve = ContrastCurve(
        separation_px=separation / 0.01225 * u.pix,
        separation_arcsec=separation * u.arcsec,
        contrast=(1 + index) * 2e-5 * separation**-1.5,
        throughput=np.full(separation.size, 0.6),
        noise=np.ones(separation.size),
        sigma=np.full(separation.size, 5.0),
        sigma_level=5.0,
        algorithm=_ALGORITHMS[index % 2],
        params={"ncomp": index + 1},
    )
    meta = {"algorithm": _ALGORITHMS[index % 2], "params": {"ncomp": index + 1}}
    paths = [
        curve.write_fits(job_dir / "contrast_curve.fits"),
        SnrMapProduct.create(rng.normal(size=(64, 64)) + planet, meta=meta).write(
            job_dir / "snr_map.fits"
        ),
        FinalImageProduct.create(rng.normal(size=(64, 64)) + planet, meta=meta).write(
            job_dir / "final_image.fits"
        ),
    ]
    (job_dir / "job.log").write_text(
        f"hcdc_test_adi: {meta['algorithm']} with ncomp={index + 1}\n"
        "companion found at (44, 26) with S/N 9.1\n"
    )
    records: list[IngestRecord] = []
    factory.ingest().ingest(paths, workspace=workspace, user_login=login, on_record=records.append)
    with factory.sessions.begin() as session:
        process = session.get_one(Process, process_id)
        process.job_dir = str(job_dir)
        for record in records:
            assert record.id is not None, record
            session.add(
                ProcessOutput(
                    process_id=process_id, data_file_id=record.id, category=record.frame_type
                )
            )


@dataclass
class RunningHub:
    """A running `hcdc up` and what it printed."""

    proc: subprocess.Popen[str]
    info: dict[str, Any]
    data_dir: Path
    env: dict[str, str]
    started_s: float
    reader: threading.Thread
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def descendants(self) -> list[int]:
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def ports(self) -> list[int]:
        keys = (
            "HCDC_HUB_PORT",
            "HCDC_HUB_API_PORT",
            "HCDC_PROXY_API_PORT",
            "HCDC_HUB_SERVICE_PORT",
        )
        return [int(self.env[k]) for k in keys]

    def stop(self, *, timeout_s: float = 60) -> tuple[int, list[int]]:
        """Ctrl-C, as a person would; returns the exit status and the processes left alive."""
        started = self.descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            status = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            status = -1
        self._close_pipe()
        left = [pid for pid in started if _alive(pid)]
        return status, left

    def _close_pipe(self) -> None:
        self.reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill_everything(self) -> None:
        """Last-resort clean-up after a failed test (never used on the tested path)."""
        for pid in [*self.descendants(), self.proc.pid]:
            with suppress(psutil.Error):
                psutil.Process(pid).kill()
        self.proc.wait(timeout=30)
        self._close_pipe()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_hub(data_dir: Path, *, timeout_s: float = 180) -> RunningHub:
    """`hcdc up --quick --json` on free ports; returns once it printed that it is ready."""
    env = hub_settings_env(data_dir)
    command = [sys.executable, "-c", "from hcdc_server.cli import main; main()"]
    started = time.monotonic()
    proc = subprocess.Popen(
        [*command, "up", "--quick", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()
    info: dict[str, Any] = {}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("{") and not ready.is_set():
                info.update(json.loads(line))
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    hub = RunningHub(
        proc=proc,
        info=info,
        data_dir=data_dir,
        env=env,
        started_s=started,
        reader=reader,
        output=output,
    )
    if not ready.wait(timeout_s):
        hub.kill_everything()
        raise AssertionError("hcdc up did not get ready:\n" + "".join(output))
    return hub


class HubUser:
    """A person using the hub over HTTP: log in, start the server, run code in a kernel."""

    def __init__(self, url: str, login: str, password: str) -> None:
        self.url = url
        self.login = login
        self.password = password
        self.http = httpx.Client(follow_redirects=True, timeout=60)
        self._token: str | None = None

    def __enter__(self) -> HubUser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def log_in(self) -> httpx.Response:
        self.http.get(f"{self.url}/hub/login")
        form = {
            "username": self.login,
            "password": self.password,
            "_xsrf": self.http.cookies.get("_xsrf", path="/hub/") or "",
        }
        return self.http.post(f"{self.url}/hub/login?next=", data=form)

    def wait_server(self, *, timeout_s: float = 120) -> None:
        """Wait until the user's server answers (the log-in started it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            reply = self.http.get(f"{self.url}/user/{self.login}/api", headers=self.auth)
            if reply.status_code == 200 and "version" in reply.text:
                return
            time.sleep(0.25)
        raise AssertionError(f"server of {self.login} did not start")

    @property
    def token(self) -> str:
        """A hub API token of the user (asked for with the log-in cookie)."""
        if self._token is None:
            xsrf = self.http.cookies.get("_xsrf", path="/hub/") or ""
            reply = self.http.post(
                f"{self.url}/hub/api/users/{self.login}/tokens",
                json={"note": "hcdc tests", "expires_in": 3600},
                headers={"X-XSRFToken": xsrf},
            )
            reply.raise_for_status()
            self._token = str(reply.json()["token"])
        return self._token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def run_code(self, code: str, *, timeout_s: float = 120) -> str:
        """Run ``code`` in a new kernel of the user's server; returns what it printed."""
        base = f"{self.url}/user/{self.login}/api/kernels"
        reply = self.http.post(base, json={"name": "python3"}, headers=self.auth)
        reply.raise_for_status()
        kernel = reply.json()["id"]
        try:
            return _execute(base.replace("http", "ws", 1), kernel, self.token, code, timeout_s)
        finally:
            self.http.delete(f"{base}/{kernel}", headers=self.auth)


def _execute(ws_base: str, kernel: str, token: str, code: str, timeout_s: float) -> str:
    connection = websocket.create_connection(
        f"{ws_base}/{kernel}/channels",
        header=[f"Authorization: token {token}"],
        timeout=timeout_s,
    )
    msg_id = uuid.uuid4().hex
    connection.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": "hcdc-tests",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": datetime.now(UTC).isoformat(),
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    printed: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = json.loads(connection.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream" and message["content"]["name"] == "stdout":
                printed.append(message["content"]["text"])
            elif kind == "error":
                trace = "\n".join(message["content"]["traceback"])
                raise AssertionError(f"the cell failed:\n{trace}")
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                return "".join(printed)
    finally:
        connection.close()
    raise AssertionError("the cell did not finish in time")
