"""Pieces of the fault tests: real ``hcdc`` subprocesses, tiny FITS frames, a stoppable TCP proxy."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from astropy.io import fits
from sqlalchemy import func, select

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import Batch, DataFile, Process, ProcessInput


def hcdc_command() -> str:
    found = shutil.which("hcdc")
    assert found, "the hcdc command is not installed"
    return found


def hcdc_env(settings: Settings, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of an ``hcdc`` subprocess over the test's data dir and database."""
    return {
        **os.environ,
        "HCDC_DATA_DIR": str(settings.data_dir),
        "HCDC_DATABASE_URL": database_url or settings.resolved_database_url,
        "HCDC_RESOLVE_TARGETS": "false",
        "HCDC_INGEST_WORKERS": "1",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill9(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no handler runs, no transaction is committed, no file is closed cleanly."""
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@dataclass
class Server:
    """A running ``hcdc serve`` and a user allowed to call it."""

    process: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill9(self.process)


def credentials(factory: Factory, login: str = "alice") -> dict[str, str]:
    """Headers of an administrator: the fault tests launch the hidden recipe ``hcdc_sleep``."""
    users = factory.users()
    try:
        users.get_user(login)
    except Exception:
        users.add_user(login, role="admin")
    token = users.create_token(login).token
    return {"X-Auth-Ident": login, "X-Auth-Token": token}


def start_server(
    settings: Settings,
    headers: dict[str, str],
    log: Path,
    *,
    database_url: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> Server:
    """Start ``hcdc serve`` on a free loopback port and wait until it answers.

    ``workers``: API worker processes (default: the setting's, one per core).
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    extra = [] if workers is None else ["--workers", str(workers)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [hcdc_command(), "serve", "--port", str(port), *extra],
            env=hcdc_env(settings, database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, url, headers, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hcdc serve exited:\n{log.read_text()}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/hub/health", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"hcdc serve not ready after 90 s:\n{log.read_text()}")


@contextmanager
def running_server(
    settings: Settings, headers: dict[str, str], log: Path, **kwargs: object
) -> Iterator[Server]:
    server = start_server(settings, headers, log, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def write_frames(folder: Path, count: int, *, first_night: int = 0) -> list[Path]:
    """``count`` tiny SPHERE-like frames, each on its own night (one process each at launch)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    base = np.datetime64("2019-01-01T03:00:00")
    for index in range(count):
        night = first_night + index
        header = fits.Header()
        header["INSTRUME"] = "SPHERE"
        header["OBJECT"] = "HD 95086"
        header["DATE-OBS"] = str(base + np.timedelta64(night, "D"))
        header["HIERARCH ESO SEQ ARM"] = "IRDIS"
        header["HIERARCH ESO DPR CATG"] = "SCIENCE"
        header["HIERARCH ESO DPR TYPE"] = "OBJECT"
        header["HIERARCH ESO DPR TECH"] = "IMAGE,DUAL"
        header["HIERARCH ESO OBS ID"] = 1000 + night
        path = folder / f"frame_{night:05d}.fits"
        fits.PrimaryHDU(data=np.full((2, 2), night, dtype=np.int32), header=header).writeto(path)
        paths.append(path)
    return paths


def batch_sizes(factory: Factory) -> dict[int, int]:
    """Processes per batch (a batch with none shows as 0)."""
    with factory.sessions() as session:
        rows = session.execute(
            select(Batch.id, func.count(Process.id))
            .outerjoin(Process, Process.batch_id == Batch.id)
            .group_by(Batch.id)
        ).all()
    return {int(row[0]): int(row[1]) for row in rows}


def processes_without_inputs(factory: Factory) -> list[int]:
    with factory.sessions() as session:
        has_input = select(ProcessInput.process_id).distinct()
        return list(
            session.scalars(
                select(Process.id).where(Process.id.not_in(has_input.scalar_subquery()))
            )
        )


def api_workers(server: subprocess.Popen[bytes]) -> list[int]:
    """Pids of the API worker processes of a multi-process ``hcdc serve`` (its children that
    run the application, not multiprocessing's helper processes)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    found = []
    for pid in map(int, children):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(pid)
    return found


def data_file_paths(factory: Factory) -> list[str]:
    with factory.sessions() as session:
        return list(session.scalars(select(DataFile.path)))


class TcpProxy:
    """A loopback TCP relay that can be stopped and restarted on the same port.

    Stopping closes the listening socket and every relayed connection, as a database server
    that went away would: new connections are refused, open ones break.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
