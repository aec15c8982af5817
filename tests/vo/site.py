"""A published hcdc site: the reduced quick demo on a fresh PostgreSQL database, a few
proprietary files beside it, ``hcdc vo publish``, hcdc's DaCHS and ``hcdc serve`` running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from astropy.io import fits
from sqlalchemy import create_engine, select, text

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema import tables as t
from hcdc_server.services.demo import DEMO_LOGIN, DEMO_WORKSPACE, install_demo

#: Rows a VO query may return on the test site (below the demo's count: the limit is tested).
MAX_ROWS = 120
#: Proprietary copies of demo science frames ingested beside the public demo.
PROPRIETARY = 3


@dataclass(frozen=True)
class VoSite:
    factory: Factory
    settings: Settings
    api_url: str
    vo_url: str
    token: str
    proprietary_ids: tuple[int, ...]
    publish: dict[str, float | int]

    @property
    def tap_url(self) -> str:
        return f"{self.vo_url}/tap"

    @property
    def sia_url(self) -> str:
        return f"{self.vo_url}/hcdc_vo/q/sia/siap2.xml"

    @property
    def datalink_url(self) -> str:
        return f"{self.vo_url}/hcdc_vo/q/dl/dlmeta"

    def did(self, data_id: int) -> str:
        return f"ivo://{self.settings.vo_authority}/hcdc?data/{data_id}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (DaCHS owns fixed schema names: one per database)."""
    name = f"hcdc_vo_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _ingest_proprietary(factory: Factory, folder: Path) -> tuple[int, ...]:
    """Copies of public PDS 70 science frames (same pointing), ingested as a workspace's
    private data."""
    with factory.sessions() as session:
        paths = session.scalars(
            select(t.DataFile.path)
            .where(t.DataFile.frame_type == "IRD_SCIENCE_DBI_RAW", t.DataFile.object == "PDS 70")
            .order_by(t.DataFile.id)
            .limit(PROPRIETARY)
        ).all()
    copies = []
    folder.mkdir(parents=True, exist_ok=True)
    for n, path in enumerate(paths):
        target = folder / f"private_{n}.fits"
        shutil.copyfile(path, target)
        with fits.open(target, mode="update") as hdus:
            hdus[0].header["HIERARCH ESO OBS PROG ID"] = "0111.C-9999(A)"
            hdus[0].header["COMMENT"] = f"proprietary copy {n}"
        copies.append(target)
    records: list[int] = []
    factory.ingest().ingest(
        copies,
        workspace=DEMO_WORKSPACE,
        user_login=DEMO_LOGIN,
        public=False,
        on_record=lambda r: records.append(r.id) if r.id is not None else None,
    )
    assert len(records) == len(copies)
    return tuple(records)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} not ready after 90 s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_site(folder: Path, server_url: str) -> Iterator[VoSite]:
    with scratch_database(server_url) as database_url:
        api_port, vo_port = free_port(), free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        settings = Settings(
            data_dir=folder / "data",
            database_url=database_url,
            resolve_targets=False,
            vo_port=vo_port,
            vo_public_url=api_url,
            vo_max_rows=MAX_ROWS,
        )
        factory = Factory(settings)
        try:
            summary = install_demo(factory, quick=True, reduce=True)
            proprietary = _ingest_proprietary(factory, folder / "private")
            published = factory.vo().publish().as_dict()
            env = {
                **os.environ,
                "HCDC_DATA_DIR": str(settings.data_dir),
                "HCDC_DATABASE_URL": database_url,
                "HCDC_RESOLVE_TARGETS": "false",
                "HCDC_VO_PORT": str(vo_port),
                "HCDC_VO_PUBLIC_URL": api_url,
                "HCDC_VO_MAX_ROWS": str(MAX_ROWS),
            }
            api_log, vo_log = folder / "serve.log", folder / "vo.log"
            with api_log.open("wb") as out, vo_log.open("wb") as vout:
                api = subprocess.Popen(
                    ["hcdc", "serve", "--port", str(api_port)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                vo = subprocess.Popen(
                    ["hcdc", "vo", "serve"], env=env, stdout=vout, stderr=subprocess.STDOUT
                )
                try:
                    _wait(f"{api_url}/api/hub/health", api, api_log, "hcdc serve")
                    vo_url = f"http://127.0.0.1:{vo_port}"
                    _wait(f"{vo_url}/tap/capabilities", vo, vo_log, "hcdc vo serve")
                    yield VoSite(
                        factory=factory,
                        settings=settings,
                        api_url=api_url,
                        vo_url=vo_url,
                        token=summary["token"],
                        proprietary_ids=proprietary,
                        publish=published,
                    )
                finally:
                    _stop(vo)
                    _stop(api)
        finally:
            factory.close()
