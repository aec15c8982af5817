"""Widgets rendered by Voila in headless Chromium (Playwright): click, then check the server.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import hcdc_kernel as hk
from tests.widgets.voila import launch_voila, route_only_local, wait_for_markers

pytestmark = [
    pytest.mark.slow,
    # Voila's and jupyter's own deprecations, raised in their threads.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


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
    return launch_voila(path, env, cwd=folder)


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


def test_launcher_follows_a_launched_process_to_its_end_without_a_click(
    browser, live_server, tmp_path
):
    """Launch in the page, then touch nothing: the launcher shows the process finished."""
    dc = hk.connect(live_server.url, live_server.token, login=live_server.login, progress=False)
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"][:1]]
    dc.close()
    message = f"voila-live-{time.time_ns()}"  # a parameter never seen: no cached result
    source = (
        "import hcdc_kernel as hk\n"
        "from hcdc_widgets import RecipeLauncher\n"
        "launcher = RecipeLauncher(hk.connect(progress=False), include_hidden=True, poll_s=1.0)\n"
        "launcher.choose('hcdc_echo')\n"
        f"launcher.set_param('message', {message!r})\n"
        f"launcher.selection = {ids!r}\n"
        "launcher\n"
    )
    server, url, log = _serve_voila(tmp_path, source, live_server.env)
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url, timeout=120_000)
        page.get_by_role("button", name="Launch").click(timeout=120_000)
        page.get_by_text("queued", exact=False).or_(page.get_by_text("running", exact=False)).or_(
            page.get_by_text("hcdc_echo done", exact=False)
        ).first.wait_for(timeout=60_000)
        # No Refresh click: the launcher polls until the process has ended.
        page.wait_for_function(
            "() => /hcdc_echo (done|waiting_validation) 100%/.test(document.body.innerText)",
            timeout=120_000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-launcher-followed.png"), full_page=True)
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_skyview_draws_the_pointings_offline_and_says_the_survey_is_unreachable(
    browser, live_server, tmp_path
):
    """With nothing but the local servers reachable, the shipped Aladin Lite draws the pointings
    of the browsed frames and a notice says the survey images cannot be reached."""
    source = (
        "import hcdc_kernel as hk\n"
        "from hcdc_widgets import DataBrowser, SkyView\n"
        "browser = DataBrowser(hk.connect(progress=False), load_choices=False)\n"
        "sky = SkyView(fov=2.0)\n"
        "sky.follow(browser)\n"
        "sky\n"
    )
    server, url, log = _serve_voila(tmp_path, source, live_server.env)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        off_host = route_only_local(page)
        with page.expect_console_message(
            lambda message: "local Aladin Lite build received" in message.text, timeout=120_000
        ):
            page.goto(url, timeout=120_000)
        notice = page.locator(".hcdc-sky-notice")
        notice.wait_for(state="visible", timeout=60_000)
        assert "cannot be reached" in notice.inner_text()
        view = page.locator(".aladin-widget").first
        view.wait_for(timeout=60_000)
        drawn = wait_for_markers(page, view)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-skyview-offline.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert drawn > 20, "no pointing marker drawn"
    # The CDN build was never asked for: the page needs nothing from outside.
    assert not any("esm.sh" in u or "aladin-lite@" in u for u in off_host)
    assert any("alasky" in u for u in off_host)


def test_skyview_ships_the_aladin_lite_build_ipyaladin_imports(monkeypatch, tmp_path):
    from hcdc_widgets import skyview
    from hcdc_widgets.skyview import SkyView

    # The build shipped with hcdc is the version the installed ipyaladin imports.
    assert skyview.shipped_aladin_lite_version() == skyview.aladin_lite_version()
    monkeypatch.delenv("HCDC_ALADIN_LITE_JS", raising=False)
    shipped = skyview.find_aladin_lite()
    assert shipped is not None and shipped.parent.name == "aladin-lite"
    assert SkyView()._aladin_bundle == shipped.read_bytes()
    assert SkyView(aladin_source="cdn")._aladin_bundle == b""
    # A site may put another build in place.
    bundle = tmp_path / "aladin.js"
    bundle.write_text("export default {init: Promise.resolve()};")
    monkeypatch.setenv("HCDC_ALADIN_LITE_JS", str(bundle))
    sky = SkyView(aladin_source="auto")
    assert sky._aladin_bundle == bundle.read_bytes()
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


def test_image_viewer_zooms_and_reads_out_a_pixel_offline(browser, tmp_path):
    source = (
        "import numpy as np\n"
        "from hcdc_widgets.image_viewer import ImageViewer\n"
        "yy, xx = np.mgrid[0:64, 0:64]\n"
        "data = 1000.0 * np.exp(-((xx - 40) ** 2 + (yy - 20) ** 2) / 8.0) + xx\n"
        "viewer = ImageViewer(data, star=(32.0, 32.0), pixel_scale_mas=12.25,\n"
        "                     markers=[{'x': 40, 'y': 20, 'label': 'b'}])\n"
        "viewer\n"
    )
    server, url, log = _serve_voila(tmp_path, source, {})
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        off_host = route_only_local(page)
        page.goto(url, timeout=120_000)
        figure = page.locator(".hcdc-image-viewer .bqplot").first
        figure.wait_for(timeout=120_000)
        page.locator(".hcdc-image-viewer canvas").first.wait_for(timeout=60_000)
        box = figure.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        readout = page.locator(".hcdc-image-readout")
        page.wait_for_function(
            "() => document.querySelector('.hcdc-image-readout').innerText.includes('value=')",
            timeout=30_000,
        )
        text = readout.inner_text()
        # value = x for pixels far from the injected source: the readout is the data.
        x = float(text.split("x=")[1].split()[0])
        y = float(text.split("y=")[1].split()[0])
        value = float(text.split("value=")[1].split()[0])
        expected = 1000.0 * np.exp(-((round(x) - 40) ** 2 + (round(y) - 20) ** 2) / 8.0) + round(x)
        assert value == pytest.approx(expected, rel=1e-4, abs=1e-3)
        assert "sep=" in text and "mas PA=" in text
        page.mouse.wheel(0, -400)
        page.wait_for_function(
            "() => !document.querySelector('.hcdc-image-view').innerText.includes('zoom ×1.00')",
            timeout=30_000,
        )
        zoom = float(page.locator(".hcdc-image-view").inner_text().split("×")[1].rstrip(")"))
        assert zoom > 1.05
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-image-viewer.png"), full_page=True)
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # Voila's page template asks a CDN for Font Awesome (icons only); nothing else leaves.
    assert [u for u in off_host if "fontawesome" not in u] == []


def _marked(conditions: dict, key: str) -> int:
    """Exposures the panel marks on the figure of ``key`` (timed, with a value of their own)."""
    return sum(
        1
        for e in conditions["exposures"]
        if e.get("window_start") and e.get("window_end") and key in e.get("values", {})
    )


_CONDITIONS_DRAWN = """([root, expected]) => {
    const figures = document.querySelectorAll(root + ' .hcdc-conditions-panel .bqplot.figure');
    const inside = (f) => {
        const box = f.getBoundingClientRect();
        return Array.from(f.querySelectorAll('.object_grp path.dot')).every((dot) => {
            const r = dot.getBoundingClientRect();
            return r.width > 0 && r.left >= box.left && r.right <= box.right
                && r.top >= box.top && r.bottom <= box.bottom;
        });
    };
    const marked = Array.from(figures, (f) => f.querySelectorAll('.object_grp').length);
    return JSON.stringify(marked) === JSON.stringify(expected)
        && Array.from(figures).every(inside);
}"""


def test_process_browser_draws_the_conditions_of_a_sequence_offline(browser, live_server, tmp_path):
    """The Conditions tab draws seeing, tau0 and Strehl over the sequence, one marker per
    science frame, with nothing fetched from outside the local servers; so does the validation
    dashboard's product panel."""
    dc = hk.connect(live_server.url, live_server.token, login=live_server.login, progress=False)
    # The night of 2019-05-27 (UT 2019-05-28), with its spell of short tau0.
    science = dc.data(data_frame_type="IRD_SCIENCE_DBI_RAW", obs_night_date="2019-05-27")
    ids = sorted(int(i) for i in science["id"])
    assert len(ids) >= 2
    process = dc.launch("hcdc_echo", ids, reference="voila-conditions", force=True)[0]
    conditions = dc.conditions(process.id)
    dc.close()
    assert len(conditions["exposures"]) == len(ids)
    # The order of the panel's figures (PANEL_PARAMETERS).
    expected = [_marked(conditions, key) for key in ("seeing", "tau0", "strehl")]
    assert expected[1] == len(ids)  # AO telemetry covers every science frame
    source = (
        "import hcdc_kernel as hk\n"
        "from hcdc_widgets import ProcessBrowser\n"
        "pb = ProcessBrowser(hk.connect(progress=False), "
        f"filters={{'PROCESS_ID': {process.id}}}, live=False)\n"
        f"pb.select({process.id})\n"
        "from hcdc_widgets.validation_review import ProductPanel\n"
        "products = ProductPanel(hk.connect(progress=False))\n"
        f"products.show({process.id})\n"
        "display(pb, products)\n"
    )
    server, url, log = _serve_voila(tmp_path, source, live_server.env)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        off_host = route_only_local(page)
        page.goto(url, timeout=120_000)
        page.get_by_text("Process ID:").wait_for(timeout=120_000)
        # The validation dashboard's panel shows the conditions beside the products.
        page.wait_for_function(_CONDITIONS_DRAWN, arg=[".hcdc-products", expected], timeout=60_000)
        page.get_by_role("tab", name="Conditions").click()
        panel = page.locator(".hcdc-process-browser .hcdc-conditions-panel")
        panel.wait_for(state="visible", timeout=60_000)
        assert "science exposure(s)" in panel.inner_text()
        # bqplot draws each scatter point as a ``g.object_grp``: one per marked frame, counted
        # once the figure has laid itself out in the shown tab (every marker inside it).
        page.wait_for_function(
            _CONDITIONS_DRAWN, arg=[".hcdc-process-browser", expected], timeout=60_000
        )
        figures = panel.locator(".bqplot.figure")
        assert figures.count() == 3
        labels = panel.locator("text.axislabel").all_text_contents()  # SVG: no innerText
        assert {"seeing (arcsec)", "tau0 (ms)", "Strehl"} <= set(labels)
        # The tau0 telemetry is drawn as a line, not only the frames' means.
        tau0_line = figures.nth(1).locator("path.line").first.get_attribute("d")
        assert tau0_line is not None and tau0_line.count("L") >= len(ids)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-conditions-panel.png"), full_page=True)
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # Voila's page template asks a CDN for Font Awesome (icons only); nothing else leaves.
    assert [u for u in off_host if "fontawesome" not in u] == []
