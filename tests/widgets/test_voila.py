"""Widgets rendered by Voila in headless Chromium (Playwright): click, then check the server.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest

import hcdc_kernel as hk

pytestmark = [
    pytest.mark.slow,
    # Voila's and jupyter's own deprecations, raised in their threads.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    if shutil.which("voila") is None:
        pytest.skip("voila is not installed")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _serve_voila(folder: Path, source: str, env: dict[str, str]):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "dashboard.ipynb"
    nbformat.write(notebook, path)
    port = _free_port()
    log = (folder / "voila.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(path),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
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


def test_process_browser_accept_through_voila(browser, live_server, tmp_path):
    dc = hk.connect(live_server.url, live_server.token, login=live_server.login, progress=False)
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"][:1]]
    process = dc.launch("hcdc_echo", ids, reference="voila").wait(timeout_s=120, progress=False)[0]
    assert process.validation_status == "to_validate"
    source = (
        "import hcdc_kernel as hk\n"
        "from hcdc_widgets import ProcessBrowser\n"
        f"pb = ProcessBrowser(hk.connect(progress=False), filters={{'PROCESS_ID': {process.id}}})\n"
        f"pb.select({process.id})\n"
        "pb\n"
    )
    server, url, log = _serve_voila(tmp_path, source, live_server.env)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url, timeout=120_000)
        page.get_by_text("Process ID:").wait_for(timeout=120_000)
        page.get_by_role("button", name="Accept").click()
        deadline = time.monotonic() + 30
        while dc.process(process.id).validation_status != "valid":
            assert time.monotonic() < deadline, "the click did not reach the server"
            time.sleep(0.3)
        page.get_by_text("accepted").wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-process-browser.png"), full_page=True)
        page.close()
        assert dc.process(process.id).validation_history()[-1]["to_status"] == "valid"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        dc.close()


def test_skyview_falls_back_to_the_local_build_when_the_cdn_is_unreachable(
    browser, live_server, tmp_path
):
    """The front end notices the blocked CDN and asks the kernel for the local build.

    Whether the bundle then renders in headless Chromium is not asserted here (see
    ``test_skyview_kernel_sends_the_local_build`` for the kernel side).
    """
    source = (
        "import hcdc_kernel as hk\n"
        "from hcdc_widgets import DataBrowser, SkyView\n"
        "browser = DataBrowser(hk.connect(progress=False), load_choices=False)\n"
        "sky = SkyView()\n"
        "sky.follow(browser)\n"
        "sky\n"
    )
    server, url, log = _serve_voila(tmp_path, source, live_server.env)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        blocked: list[str] = []

        def refuse(route):
            blocked.append(route.request.url)
            route.abort()

        page.route("https://esm.sh/**", refuse)
        with page.expect_console_message(
            lambda message: "using the local build" in message.text, timeout=120_000
        ):
            page.goto(url, timeout=120_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-skyview-offline.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert any("aladin-lite" in u for u in blocked)


def test_skyview_kernel_sends_the_local_build(monkeypatch, tmp_path):
    from hcdc_widgets.skyview import SkyView

    bundle = tmp_path / "aladin.js"
    bundle.write_text("export default {init: Promise.resolve()};")
    monkeypatch.setenv("HCDC_ALADIN_LITE_JS", str(bundle))
    sky = SkyView(aladin_source="local")
    sent = []
    monkeypatch.setattr(sky, "send", lambda content, buffers=None: sent.append((content, buffers)))
    sky._handle_custom_msg({"event_type": "hcdc_aladin_lite"}, [])
    assert sent == [({"event_name": "hcdc_aladin_lite"}, [bundle.read_bytes()])]
    assert (
        sky.show_pointings(
            [
                {"id": 1, "coord_ra": 10.0, "coord_dec": -20.0},
                {"id": 2, "coord_ra": None, "coord_dec": None},
            ]
        )
        == 1
    )
    assert sky.target.ra.deg == pytest.approx(10.0)
