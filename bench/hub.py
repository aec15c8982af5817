"""Time to a usable hub and from log-in to a running user server, against a bare Jupyter server.

In one run: (1) the baseline, a bare ``jupyter server`` started and answering its API;
(2) ``hcdc up`` on a fresh data directory (demo install included) until the hub and the hcdc
service answer; (3) the same on the now-prepared directory (a restart); (4) log in as the demo
user over HTTP until the user server answers; (5) the first notebook cell calling the hcdc
service from that server. Prints seconds and ratios to the baseline. Goal: (4) <= 15 s.

    python bench/hub.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hub.hubtools import HubUser, free_port, start_hub

CELL = """
import hcdc_kernel
print(len(hcdc_kernel.connect(progress=False).processes()))
"""


def bare_server_seconds(workdir: Path) -> float:
    """Seconds for a plain Jupyter server (no hub) to answer its API."""
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--IdentityProvider.token=bench",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={workdir}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/api?token=bench").status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hcdc-bench-hub-"))
    data_dir = workdir / "data"
    try:
        baseline = bare_server_seconds(workdir)
        print(f"bare jupyter server to API:        {baseline:6.2f} s (baseline)")

        hub = start_hub(data_dir)
        cold = time.monotonic() - hub.started_s
        status, left = hub.stop()
        print(f"hcdc up, fresh data dir, to usable: {cold:6.2f} s ({cold / baseline:.1f}x)")
        assert status == 0 and not left, (status, left)

        hub = start_hub(data_dir)
        warm = time.monotonic() - hub.started_s
        print(f"hcdc up, restart, to usable:        {warm:6.2f} s ({warm / baseline:.1f}x)")
        try:
            with HubUser(hub.url, hub.info["login"], hub.info["password"]) as user:
                spawn, cell, printed = time_user(user)
            print(
                f"log-in to running user server:     {spawn:6.2f} s ({spawn / baseline:.1f}x)"
                f"  goal <= 15 s: {'met' if spawn <= 15 else 'MISSED'}"
            )
            print(f"first cell, connect().processes(): {cell:6.2f} s ({printed} processes)")
        finally:
            status, left = hub.stop()
            print(f"stopped: exit {status}, processes left: {len(left)}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def time_user(user: HubUser) -> tuple[float, float, str]:
    """Seconds from log-in to a running server, and of the first cell; what the cell printed."""
    started = time.monotonic()
    user.log_in()
    user.wait_server()
    spawn = time.monotonic() - started
    started = time.monotonic()
    printed = user.run_code(CELL).strip()
    return spawn, time.monotonic() - started, printed


if __name__ == "__main__":
    main()
