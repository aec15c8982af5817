"""Run Voila on a notebook or a folder of notebooks, on a free loopback port, for browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_voila(
    target: Path, env: Mapping[str, str], *, cwd: Path
) -> tuple[subprocess.Popen[bytes], str, IO[bytes]]:
    """Start ``voila TARGET`` (its log in ``cwd/voila.log``); the process, base URL and log.

    A notebook is served at the base URL; a folder's notebooks at
    ``<base>voila/render/<name>.ipynb``.
    """
    port = free_port()
    log = (cwd / "voila.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(target),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            # Any HTTP answer means the server listens (a GET would start a kernel).
            httpx.head(url + "static/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.3)
    return process, url, log


@contextmanager
def start_voila(target: Path, env: Mapping[str, str]) -> Iterator[str]:
    """Serve ``target`` (a notebook or a folder) while in the block; yields the base URL."""
    folder = target if target.is_dir() else target.parent
    process, url, log = launch_voila(target, env, cwd=folder)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def route_only_local(page: Any) -> list[str]:
    """Let the page reach only the loopback servers (and its own blob: URLs); every other
    request is aborted and its URL appended to the list returned."""
    off_host: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:")):
            route.continue_()
        else:
            off_host.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return off_host


def orange_pixels(png: bytes) -> int:
    """Pixels of the sky view's pointing markers' colour (#ff7f0e) in a screenshot."""
    from io import BytesIO

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([0xFF, 0x7F, 0x0E])
    return int((np.abs(rgb - target).sum(axis=2) < 60).sum())


def wait_for_markers(page: Any, view: Any, *, pixels: int = 20, timeout_s: float = 60) -> int:
    """Marker-coloured pixels in ``view`` once more than ``pixels`` show (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    drawn = 0
    while time.monotonic() < deadline:
        drawn = orange_pixels(view.screenshot())
        if drawn > pixels:
            break
        # Not time.sleep: Playwright answers the page's requests only while it waits.
        page.wait_for_timeout(1000)
    return drawn
