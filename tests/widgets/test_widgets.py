"""Widgets driven in Python against a live server; assertions on the server's state."""

from __future__ import annotations

import time
import uuid

import pytest

import hcdc_kernel as hk
from hcdc_widgets import DataBrowser, ProcessBrowser, RecipeLauncher, WorkspaceManager
from hcdc_widgets.process_browser import info_rows

pytestmark = pytest.mark.slow


def test_data_browser_filters_pages_sorts_and_shows_details(dc):
    browser = DataBrowser(dc, page_size=10)
    assert browser.table.total == dc.count()
    browser.set_filter("DATA_FRAME_TYPE", "IRD_SCIENCE_DBI_RAW")
    browser.search()
    assert browser.filters == {"DATA_FRAME_TYPE": "IRD_SCIENCE_DBI_RAW"}
    total = dc.count(data_frame_type="IRD_SCIENCE_DBI_RAW")
    assert browser.table.total == total > 10
    first_page = [row["id"] for row in browser.table.items]
    browser.table.go_to(2)
    second_page = [row["id"] for row in browser.table.items]
    assert len(first_page) == 10 and not set(first_page) & set(second_page)
    assert len(first_page) + len(second_page) == total
    browser.table.sort_by("id", "ASC")
    ascending = [row["id"] for row in browser.table.items]
    assert ascending == sorted(ascending) and browser.table.page == 1
    browser.set_filter("OBS_NIGHT_DATE", ("2019-05-27", "2019-05-27"))
    browser.search()
    assert browser.filters["OBS_NIGHT_DATE"] == {"min": "2019-05-27", "max": "2019-05-27"}
    chosen = ascending[0]
    browser.select([chosen])
    assert browser.selected_ids == [chosen] and browser.detail_id == chosen
    browser.header_view.search = "dpr type"
    assert browser.header_view.visible_keywords == ["ESO DPR TYPE"]
    browser.show_image()
    assert browser.image_view.png.startswith(b"\x89PNG")


def test_data_browser_shows_server_errors(dc):
    browser = DataBrowser(dc)
    browser.set_filter("NOT_A_FILTER", "x")
    browser.status.run(browser.search)
    assert "NOT_A_FILTER" in browser.status.value


def test_launcher_fills_schema_form_previews_and_launches(dc):
    browser = DataBrowser(dc, filters={"DATA_FRAME_TYPE": "IRD_DARK_RAW"})
    launcher = RecipeLauncher(dc, browser=browser, include_hidden=True)
    launcher.choose("naco_img_dark")
    assert set(launcher.form.fields) == {"r", "hot_t", "cold_t", "dev_t", "nsamples", "hsize"}
    assert launcher.form.fields["hot_t"].min == 0.0
    assert launcher.form.fields["hot_t"].tooltip == "Hot pixel map threshold."
    launcher.choose_preset("small_frames")
    assert launcher.form.values["r"] == "10 10 10 10"
    launcher.choose("hcdc_echo")
    launcher.set_param("message", "from the launcher")
    ids = sorted(row["id"] for row in browser.table.items)[:2]
    browser.select(ids)
    assert launcher.selection == ids
    previews = launcher.preview()
    assert sorted(i for p in previews for i in p.primary_ids) == ids
    batch = launcher.launch()
    batch.wait(timeout_s=120, progress=False)
    assert launcher.refresh_progress() == 100.0
    for process in batch:
        info = dc.process(process.id).info
        assert info["params"]["message"] == "from the launcher"
        assert info["status"] == "waiting_validation"
    assert sorted(i for p in batch for i in p.inputs["data_file_id"]) == ids


def test_process_browser_accepts_rejects_and_relaunches(dc):
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"][:1]]
    first, second = (dc.launch("hcdc_echo", ids, reference=f"pb-{n}", force=True) for n in range(2))
    first.wait(timeout_s=120, progress=False)
    second.wait(timeout_s=120, progress=False)
    browser = ProcessBrowser(dc)
    browser.set_filter("FILTER_PROCESS_NEED_VALIDATION", True)
    browser.set_filter("BATCH_ID", [first.id, second.id])
    browser.search()
    assert {row["id"] for row in browser.table.items} == {first[0].id, second[0].id}
    browser.select(first[0].id)
    labels = [label for label, _ in info_rows(browser.process.info)]
    assert "Estimated duration" in labels and "Observation night" in labels
    assert "Process ID" in browser._info.value
    browser.accept()
    assert dc.process(first[0].id).validation_status == "valid"
    browser.select(second[0].id)
    browser.status.run(browser.reject)
    assert "comment" in browser.status.value
    assert dc.process(second[0].id).validation_status == "to_validate"
    browser.set_comment("hot pixels")
    browser.reject()
    assert dc.process(second[0].id).validation_status == "rejected"
    assert dc.process(second[0].id).validation_history()[-1]["comment"] == "hot pixels"
    assert ids and browser.download_sof().strip().endswith("ANY")
    browser.edit_and_launch()
    browser.form.set_values({"message": "edited"})
    new = browser.relaunch()
    assert dc.process(new.id).info["params"]["message"] == "edited"
    assert dc.process(new.id).info["reprocess_of_id"] == second[0].id


def test_process_browser_follows_running_processes(dc):
    process = dc.launch("hcdc_sleep", [], seconds=3)[0]
    browser = ProcessBrowser(dc, filters={"PROCESS_ID": process.id}, live=True, poll_s=0.3)
    browser.select(process.id)
    deadline = time.monotonic() + 60
    while browser.process.status != "done" and time.monotonic() < deadline:
        time.sleep(0.3)
    browser.stop_live()
    assert browser.process.status == "done"
    assert browser._progress.value == 100.0


def test_workspace_manager_creates_and_manages_members(dc, live_server):
    manager = WorkspaceManager(dc)
    assert set(manager.names) == {w.name for w in dc.workspaces()}
    name = f"wm-{uuid.uuid4().hex[:6]}"
    manager.create(name, description="from the widget")
    assert manager.workspace == name and name in manager.names
    manager.set_member(live_server.other_login, "viewer")
    assert dc.workspace(name).invited_role_of(live_server.other_login) == "viewer"
    assert "invited" in manager.status.value and "(invited)" in manager._members.value
    with hk.connect(live_server.url, live_server.other_token, progress=False) as other:
        theirs = WorkspaceManager(other)
        assert name in theirs.invitations and name not in theirs.names
        theirs._invitations.value = name
        theirs._accept.click()
        assert name in theirs.names and theirs.invitations == []
    assert dc.workspace(name).role_of(live_server.other_login) == "viewer"
    manager.set_member(live_server.other_login, "editor")
    assert dc.workspace(name).role_of(live_server.other_login) == "editor"
    manager.remove_member(live_server.other_login)
    assert dc.workspace(name).role_of(live_server.other_login) is None
    manager.status.run(lambda: manager.create(name))
    assert "409" in manager.status.value


def _wait(predicate, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_launcher_follows_its_processes_to_the_end_without_a_click(dc):
    browser = DataBrowser(dc, filters={"DATA_FRAME_TYPE": "IRD_DARK_RAW"})
    launcher = RecipeLauncher(dc, browser=browser, include_hidden=True, poll_s=0.3)
    launcher.mode = "recipe"
    launcher.choose("hcdc_sleep")
    launcher.selection = []
    launcher.selection = [int(browser.table.items[0]["id"])]
    launcher.set_param("seconds", 1.5)
    launcher.launch()
    assert launcher.following
    assert _wait(lambda: launcher.finished), launcher._processes.value
    assert _wait(lambda: "done 100%" in launcher._processes.value)
    assert launcher.progress == 100.0
    assert _wait(lambda: not launcher.following, 5)


def test_a_cache_hit_says_whose_result_it_reused(dc):
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"][:1]]
    first = dc.launch("hcdc_echo", ids, message=f"cache-{uuid.uuid4().hex[:6]}")
    first.wait(timeout_s=120, progress=False)
    first[0].accept("reusable")  # only accepted results are served from the cache
    again = dc.launch("hcdc_echo", ids, message=first[0].info["params"]["message"])[0]
    assert again.info["cache_of_id"] == first[0].id
    rows = dict(info_rows(again.info))
    assert rows["Reused"] == f"reused the result of process {first[0].id}"
    browser = DataBrowser(dc, filters={"DATA_FRAME_TYPE": "IRD_DARK_RAW"})
    launcher = RecipeLauncher(dc, browser=browser, include_hidden=True)
    launcher.choose("hcdc_echo")
    launcher.selection = ids
    launcher.set_param("message", first[0].info["params"]["message"])
    launcher.launch()
    assert f"reused the result of process {first[0].id}" in launcher._processes.value


def test_process_browser_adds_newly_launched_processes_by_itself(dc):
    reference = f"live-{uuid.uuid4().hex[:6]}"
    browser = ProcessBrowser(dc, filters={"BATCH_NAME": reference}, poll_s=0.3)
    assert browser.live and browser.table.total == 0
    launched = dc.launch("hcdc_sleep", [], seconds=0.5, batch_name=reference)[0]
    assert _wait(lambda: launched.id in [row["id"] for row in browser.table.items])
    assert _wait(lambda: browser.table.items[0]["process_status"] == "done")
    browser.stop_live()
