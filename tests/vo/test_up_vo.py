"""`hcdc up --vo`: hcdc's DaCHS runs beside the hub and stops with it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import POSTGRES_URL
from tests.hub.hubtools import free_port, hub_settings_env, port_is_free
from tests.requirements import needs_dachs
from tests.vo.site import scratch_database

pytestmark = [needs_dachs, pytest.mark.postgres, pytest.mark.slow]


def test_up_with_vo_serves_tap_beside_the_hub_and_stops_cleanly(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    with scratch_database(POSTGRES_URL) as database_url:
        vo_port = free_port()
        env = {
            **hub_settings_env(tmp_path / "data"),
            "HCDC_DATABASE_URL": database_url,
            "HCDC_VO_PORT": str(vo_port),
        }
        proc = subprocess.Popen(
            [sys.executable, "-c", "from hcdc_server.cli import main; main()", "up", "--vo",
             "--no-demo", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("{"):
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert ready.wait(240), "".join(lines)
            info = json.loads(next(line for line in lines if line.startswith("{")))
            assert httpx.get(f"{info['url']}/hub/health").status_code == 200
            said = "".join(lines)
            assert f"VO server http://127.0.0.1:{vo_port}/tap" in said
            answer = httpx.get(
                f"http://127.0.0.1:{vo_port}/tap/sync",
                params={
                    "REQUEST": "doQuery",
                    "LANG": "ADQL",
                    "QUERY": "SELECT COUNT(*) FROM ivoa.obscore",
                },
                timeout=60,
            )
            assert answer.status_code == 200 and 'value="OK"' in answer.text
            children = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                status = proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                for p in psutil.Process(proc.pid).children(recursive=True):
                    p.kill()
                proc.kill()
                status = -1
            reader.join(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        assert status == 0, "".join(lines)
        assert not [pid for pid in children if psutil.pid_exists(pid) and _alive(pid)]
        assert port_is_free(vo_port)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
