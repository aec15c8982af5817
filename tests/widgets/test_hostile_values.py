"""Hostile values in user-controlled fields are shown as text by every widget and dashboard.

The catalog (:mod:`tests.widgets.hostile`) holds HTML/JavaScript payloads in the target name,
file name, programme id, process reference, recipe parameter, workspace description, SOF tag,
job log, curve algorithm and companion-table column. In Python, every HTML value the widgets
produce must parse to the widgets' own elements only, the payloads appearing as text. In
headless Chromium (Voila), the dashboards and widgets must render without running any payload.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets as w
import nbformat
import pytest

import hcdc_kernel as hk
from hcdc_widgets import DataBrowser, ProcessBrowser, RecipeLauncher, WorkspaceManager
from hcdc_widgets.contrast_review import ContrastReview
from hcdc_widgets.validation_review import ValidationReview
from tests.hub.browser import chromium_page, require_browser, screenshot
from tests.widgets.hostile import HOSTILE, WORKSPACE, HostileCatalog, hostile_catalog
from tests.widgets.inert import inert_text
from tests.widgets.voila import start_voila

__all__ = ["hostile_catalog"]

pytestmark = [
    pytest.mark.slow,
    # Voila's, jupyter's and Playwright's own deprecations, raised in their threads.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


def html_values(widget: Any) -> Iterator[str]:
    """The value of every ``ipywidgets.HTML`` in ``widget``'s tree."""
    if isinstance(widget, w.HTML | w.HTMLMath):
        yield widget.value
    for child in getattr(widget, "children", ()):
        yield from html_values(child)


@pytest.fixture(scope="module")
def dc(hostile_catalog: HostileCatalog) -> Iterator[hk.HcdcClient]:
    live = hostile_catalog.live
    client = hk.connect(
        live.url, live.token, login=live.login, cache_dir=live.cache_dir, progress=False
    )
    yield client
    client.close()


def test_widgets_render_hostile_values_as_text(hostile_catalog, dc):
    data_id, process_id = hostile_catalog.data_id, hostile_catalog.process_ids[0]
    data = DataBrowser(dc, filters={"DATA_FILE_ID": data_id}, load_choices=False)
    data.select([data_id])
    assert data.detail_id == data_id
    processes = ProcessBrowser(dc, filters={"PROCESS_ID": process_id})
    processes.select(process_id)
    processes.download_sof()
    processes.edit_and_launch()
    review = ValidationReview(dc)
    review.review(process_id)
    assert "HCI_COMPANION_TABLE" in review.products.shown
    workspaces = WorkspaceManager(dc)
    workspaces.workspace = WORKSPACE
    contrast = ContrastReview(dc)
    contrast.show_target(HOSTILE["target"])
    contrast.export()
    launcher = RecipeLauncher(dc, browser=data, include_hidden=True)
    launcher.choose("hcdc_echo")
    launcher.preview()
    widgets = [data, processes, review, workspaces, contrast, launcher]
    errors = [x.status.value for x in (data, processes, workspaces, contrast, launcher)]
    assert not any("b00020" in e for e in errors), errors

    shown = "".join(inert_text(value) for widget in widgets for value in html_values(widget))

    processes.stop_live()
    review.browser.stop_live()
    for field, payload in HOSTILE.items():
        if field not in ("param", "algorithm"):  # these two reach text widgets and Bokeh only
            assert payload in shown, f"{field} not rendered"


def test_skyview_marker_text_is_escaped(hostile_catalog, dc, monkeypatch):
    from hcdc_widgets.skyview import SkyView

    data = DataBrowser(dc, filters={"DATA_FILE_ID": hostile_catalog.data_id}, load_choices=False)
    sky = SkyView()
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(sky, "_send_or_queue", lambda message, *a, **k: sent.append(message))
    assert sky.show_pointings(data.table.items) == 1
    assert sky.pointings[0]["title"] == HOSTILE["file"]
    (marker,) = next(m for m in sent if m.get("event_name") == "add_marker")["markers"]
    assert inert_text(marker["title"]) == HOSTILE["file"]
    assert inert_text(marker["description"]) == "IRD_SCIENCE_DBI_RAW"


_WIDGETS_NOTEBOOK = """\
import hcdc_kernel as hk
from IPython.display import display
from hcdc_widgets import DataBrowser, ProcessBrowser, RecipeLauncher, WorkspaceManager

dc = hk.connect(progress=False)
data = DataBrowser(dc, filters={{"DATA_FILE_ID": {data_id}}}, load_choices=False)
data.select([{data_id}])
processes = ProcessBrowser(dc, filters={{"PROCESS_ID": {process_id}}})
processes.select({process_id})
processes.download_sof()
processes.edit_and_launch()
workspaces = WorkspaceManager(dc)
workspaces.workspace = "{workspace}"
launcher = RecipeLauncher(dc, browser=data, include_hidden=True)
launcher.choose("hcdc_echo")
launcher.preview()
display(data, processes, workspaces, launcher)
"""


def _settle_and_check(page: Any, name: str) -> None:
    page.wait_for_timeout(2000)  # images fail to load, handlers would run by now
    screenshot(page, f"hostile-{name}")
    ran = page.evaluate("() => window.hcdcXss")
    fields = [f for f, payload in HOSTILE.items() if f"hcdcXss={ran}" in payload]
    assert ran is None, f"{name}: the payload of {fields} ran"
    injected = page.evaluate(
        "() => document.querySelectorAll('marquee, img[onerror], svg[onload]').length"
    )
    assert injected == 0, f"{name}: {injected} elements from data in the page"


@pytest.fixture(scope="module")
def voila_base(hostile_catalog: HostileCatalog, tmp_path_factory) -> Iterator[str]:
    """Voila serving both dashboards and a notebook of the widgets over the hostile catalog."""
    require_browser()
    if shutil.which("voila") is None:
        pytest.skip("voila is not installed")
    folder = tmp_path_factory.mktemp("hostile-voila")
    for notebook in ("validation.ipynb", "contrast_review.ipynb"):
        shutil.copy(DASHBOARDS / notebook, folder / notebook)
    source = _WIDGETS_NOTEBOOK.format(
        data_id=hostile_catalog.data_id,
        process_id=hostile_catalog.process_ids[0],
        workspace=WORKSPACE,
    )
    widgets = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    widgets.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(widgets, folder / "widgets.ipynb")
    with start_voila(folder, hostile_catalog.env) as base:
        yield base


def test_no_payload_runs_in_the_widgets(voila_base):
    with chromium_page() as page:
        page.goto(f"{voila_base}voila/render/widgets.ipynb", timeout=180_000)
        page.get_by_text(HOSTILE["description"]).wait_for(timeout=180_000)
        page.get_by_text("Save process-").wait_for(timeout=60_000)
        _settle_and_check(page, "widgets")
        for field in ("file", "input_file", "reference", "description", "prog_id", "target"):
            assert page.get_by_text(HOSTILE[field]).count() > 0, f"{field} not shown as text"


def test_no_payload_runs_in_the_validation_dashboard(voila_base):
    with chromium_page() as page:
        page.goto(f"{voila_base}voila/render/validation.ipynb", timeout=180_000)
        queue = page.locator(".hcdc-validation select[multiple]").first
        queue.wait_for(timeout=180_000)
        queue.locator("option").first.click()
        page.locator(".hcdc-products").get_by_text("4 products").wait_for(timeout=120_000)
        _settle_and_check(page, "validation")
        for field in ("column", "reference", "input_file", "sof_tag"):
            assert page.get_by_text(HOSTILE[field]).count() > 0, f"{field} not shown as text"


def test_no_payload_runs_in_the_contrast_review_dashboard(voila_base):
    with chromium_page() as page:
        page.goto(f"{voila_base}voila/render/contrast_review.ipynb", timeout=180_000)
        page.get_by_text("2 curves, reference").wait_for(timeout=180_000)
        page.get_by_role("button", name="Export PNG + CSV").click()
        page.locator("a[download$='.csv']").wait_for(timeout=60_000)
        _settle_and_check(page, "contrast-review")
        assert page.get_by_text(f"contrast_{HOSTILE['target']}.csv").count() == 1
