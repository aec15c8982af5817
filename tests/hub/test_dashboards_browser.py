"""The dashboards through the hub in headless Chromium: log in, review, decide, compare.

One `hcdc up` (quick demo, three processes waiting validation with their products) serves both
tests; screenshots go to ``test-artifacts/hub/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hub.browser import chromium_page, log_in, require_browser, screenshot
from tests.hub.hubtools import RunningHub, prepare_demo, seed_processes, start_hub

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = [
    pytest.mark.slow,
    # Playwright's own event loop warnings are raised in its threads.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[tuple[RunningHub, list[int]]]:
    require_browser()
    data_dir = tmp_path_factory.mktemp("hub") / "data"
    factory = prepare_demo(data_dir)
    seeded = seed_processes(factory, count=3)
    factory.close()
    running = start_hub(data_dir)
    try:
        yield running, seeded
    finally:
        status, left = running.stop()
        if left:
            running.kill_everything()
        assert status == 0 and left == []


def _api(hub: RunningHub, path: str) -> dict:
    headers = {"X-Auth-Ident": hub.info["login"], "X-Auth-Token": hub.info["password"]}
    reply = httpx.get(f"{hub.url}/services/hcdc{path}", headers=headers, timeout=30)
    reply.raise_for_status()
    return reply.json()


def test_validation_dashboard_accepts_a_process_for_its_user(hub):
    running, seeded = hub
    chosen = seeded[0]
    with chromium_page() as page:
        log_in(page, running.url, running.info["login"], running.info["password"])
        page.goto(running.info["dashboards"]["validation"])
        queue = page.locator(".hcdc-validation select[multiple]").first
        queue.wait_for(timeout=120_000)
        row = queue.locator("option", has_text="seeded 0")
        row.wait_for(timeout=60_000)
        assert queue.locator("option").count() == len(seeded)
        row.click()
        products = page.locator(".hcdc-products")
        products.get_by_text(f"process {chosen}: 3 products").wait_for(timeout=60_000)
        screenshot(page, "validation-selected")
        page.get_by_label("Comment").fill("companion confirmed")
        page.get_by_role("button", name="Accept").click()
        page.get_by_text(f"process {chosen} accepted").wait_for(timeout=60_000)
        page.wait_for_function(
            "n => document.querySelectorAll('.hcdc-validation select[multiple] option').length == n",
            arg=len(seeded) - 1,
            timeout=60_000,
        )
        screenshot(page, "validation-accepted")
    detail = _api(running, f"/api/processes/{chosen}")
    assert detail["validation_status"] == "valid"
    last = detail["validation_history"][-1]
    assert last["user"] == running.info["login"]
    assert last["comment"] == "companion confirmed"
    assert _api(running, f"/api/processes/{seeded[1]}")["validation_status"] == "to_validate"


_FIGURE_TITLES = """() => {
  const out = [];
  for (const doc of (window.Bokeh && window.Bokeh.documents) || [])
    for (const model of doc._all_models.values())
      if (model.type === "Title" || model.constructor.__name__ === "Title") out.push(model.text);
  return out;
}"""


def test_contrast_review_dashboard_draws_the_curves_and_redraws_after_compare(hub):
    running, seeded = hub
    with chromium_page() as page:
        log_in(page, running.url, running.info["login"], running.info["password"])
        page.goto(running.info["dashboards"]["contrast_review"])
        page.locator(".hcdc-contrast-review").wait_for(timeout=120_000)
        page.get_by_text(f"{len(seeded)} curves, reference").wait_for(timeout=60_000)
        page.locator(".bk-Canvas, canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let Bokeh paint before the screenshot
        assert page.locator("canvas").count() >= 2
        page.get_by_role("button", name="Export PNG + CSV").click()
        page.locator("a[download$='.csv']").wait_for(timeout=30_000)
        assert page.locator("a[download$='.png']").count() == 1
        screenshot(page, "contrast-review")
        first = page.locator(".hcdc-contrast-review canvas").first.screenshot()
        # Compare two of the three: the figure is redrawn in place with only those curves.
        chosen = sorted(seeded)[:2]
        picker = page.locator(".hcdc-contrast-review select[multiple]").first
        picker.select_option(
            label=[
                o for o in picker.locator("option").all_inner_texts() if int(o.split()[0]) in chosen
            ]
        )
        page.get_by_role("button", name="Compare").click()
        page.get_by_text("2 curves, reference").wait_for(timeout=60_000)
        # The title names the compared processes in the picker's order.
        titles = [f"contrast curves of {a}, {b}" for a, b in (chosen, chosen[::-1])]
        page.wait_for_function(
            f"() => ({_FIGURE_TITLES})().some(t => {titles!r}.some(e => t.endsWith(e)))",
            timeout=60_000,
        )
        page.wait_for_timeout(1500)
        second = page.locator(".hcdc-contrast-review canvas").first.screenshot()
        screenshot(page, "contrast-review-compared")
    assert first != second, "the figure was not redrawn after Compare"


def test_a_new_users_jupyterlab_shows_the_notebooks_in_the_home(hub):
    running, _ = hub
    login = running.info["login"]
    shipped = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert shipped, f"no notebooks in {NOTEBOOKS}"
    with chromium_page() as page:
        log_in(page, running.url, login, running.info["password"])
        page.goto(f"{running.url}/user/{login}/lab/tree/notebooks", timeout=180_000)
        listing = page.locator(".jp-DirListing-content")
        listing.get_by_text(shipped[0]).wait_for(timeout=180_000)
        shown = {name.strip() for name in page.locator(".jp-DirListing-itemText").all_inner_texts()}
        screenshot(page, "lab-home-notebooks")
    assert set(shipped) <= shown
