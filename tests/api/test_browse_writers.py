"""The browse filters whose columns hcdc itself writes: pipeline versions (labels too), the
workflow preset of a batch, standard stars at ingest, extended attributes through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from hcdc_kernel.recipes.workflow import WorkflowSpec, WorkflowStep
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema import tables as t
from hcdc_server.services.users import utcnow
from tests.api.client import ApiClient
from tests.dispatch.helpers import ingest, run_worker
from tests.server.fits_factory import write_frame


def _headers(factory: Factory, login: str, role: str = "user") -> dict[str, str]:
    users = factory.users()
    users.add_user(login, role=role)  # type: ignore[arg-type]
    return {"X-Auth-Ident": login, "X-Auth-Token": users.create_token(login).token}


def _ids(client: ApiClient, headers: dict[str, str], endpoint: str, filters: dict) -> list[int]:
    body = {"browse_filters": filters, "limit": -1, "sort": "id ASC"}
    response = client.post(f"/api/{endpoint}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _process(factory: Factory, recipe: str, *, user: str, version: str | None = None) -> int:
    """A finished process row of ``recipe`` (no job: only what browsing reads)."""
    recipe_id, _ = factory.recipes().get(recipe, version)
    with factory.sessions.begin() as session:
        return int(
            session.scalar(
                insert(t.Process)
                .values(
                    recipe_id=recipe_id,
                    user_id=factory.users().get_user(user).id,
                    status="done",
                    params={},
                    created_at=utcnow(),
                )
                .returning(t.Process.id)
            )
        )


def test_pipeline_version_labels_name_the_current_version(factory, app_client) -> None:
    root = _headers(factory, "root", "admin")
    old = _process(factory, "hcdc_echo", user="root")
    factory.recipes().add_version("hcdc_echo", "1.1", make_current=True)
    new = _process(factory, "hcdc_echo", user="root")
    assert _ids(app_client, root, "process_list", {"PIPELINE_VERSION": "1.0"}) == [old]
    echo = {"RECIPE_NAME": "hcdc_echo"}
    for label in ("production", "PRODUCTION", "Production"):
        assert _ids(app_client, root, "process_list", {**echo, "PIPELINE_VERSION": label}) == [new]
    assert _ids(app_client, root, "process_list", {**echo, "PIPELINE_VERSION": "test"}) == [old]
    both = {**echo, "PIPELINE_VERSION": ["production", "1.0"]}
    assert _ids(app_client, root, "process_list", both) == [old, new]
    # Outputs carry the version of the recipe that made them.
    outputs = {}
    with factory.sessions.begin() as session:
        for process_id, version in ((old, "1.0"), (new, "1.1")):
            data_id = session.scalar(
                insert(t.DataFile)
                .values(
                    path=f"/nowhere/{process_id}.fits",
                    filename=f"{process_id}.fits",
                    checksum=f"{process_id:064x}",
                    size=1,
                    frame_type="HCDC_ECHO",
                    is_raw=False,
                    is_public=True,
                    pipeline_version=version,
                    ingested_at=utcnow(),
                )
                .returning(t.DataFile.id)
            )
            session.execute(
                insert(t.ProcessOutput).values(process_id=process_id, data_file_id=data_id)
            )
            outputs[version] = data_id
    data = {"DATA_PIPELINE_VERSION": "production"}
    assert _ids(app_client, root, "data_list", data) == [outputs["1.1"]]
    assert _ids(app_client, root, "data_list", {"DATA_PIPELINE_VERSION": "1.0"}) == [outputs["1.0"]]
    assert _ids(app_client, root, "process_list", data) == [new]
    assert _ids(app_client, root, "process_list", {"DATA_PIPELINE_VERSION": "Test"}) == [old]


def test_outputs_of_a_run_carry_the_recipe_version(factory, app_client, tmp_path: Path) -> None:
    """DATA_PIPELINE_VERSION finds what the worker registered, by version and by label."""
    root = _headers(factory, "root", "admin")
    (data_id,) = ingest(factory, [write_frame(tmp_path / "in.fits")])
    launched = factory.processes().launch(
        LaunchRequest(recipe="hcdc_echo", inputs=[{"data_file_id": data_id}], force=True),
        user_id=factory.users().get_user("root").id,
    )
    process_id = launched.processes[0].id
    run_worker(factory)
    detail = app_client.get(f"/api/processes/{process_id}", headers=root).json()
    outputs = sorted(o["data_file_id"] for o in detail["outputs"])
    assert outputs, detail
    for value in ("1.0", "production"):
        filters = {"DATA_PIPELINE_VERSION": value}
        assert _ids(app_client, root, "data_list", filters) == outputs, value
        assert _ids(app_client, root, "process_list", filters) == [process_id], value


def test_a_workflow_preset_is_recorded_on_its_batch(factory, app_client, tmp_path: Path) -> None:
    root = _headers(factory, "root", "admin")
    (data_id,) = ingest(factory, [write_frame(tmp_path / "in.fits")])
    factory.workflows().add(
        WorkflowSpec(
            name="sleep_then_echo",
            version="1",
            steps=(WorkflowStep("sleep", "hcdc_sleep"), WorkflowStep("echo", "hcdc_echo")),
        )
    )

    def launch(**extra: Any) -> Any:
        body = {"selection": [data_id], "force": True, **extra}
        return app_client.post("/api/workflows/sleep_then_echo/launch", json=body, headers=root)

    plain = launch()
    assert plain.status_code == 201, plain.text
    quick = launch(preset="quick")
    assert quick.status_code == 201, quick.text
    ids = sorted(p["id"] for p in quick.json()["processes"])
    assert _ids(app_client, root, "process_list", {"WORKFLOW_PRESET": "quick"}) == ids
    # The steps whose recipe has the preset run with it; the others as they are.
    assert _ids(app_client, root, "process_list", {"RECIPE_PRESET": "quick"}) == [ids[0]]
    nothing = _ids(app_client, root, "process_list", {"WORKFLOW_PRESET": None})
    assert sorted(p["id"] for p in plain.json()["processes"]) == nothing
    unknown = launch(preset="turbo")
    assert unknown.status_code == 400 and "turbo" in unknown.json()["message"]


@pytest.mark.parametrize(
    ("dpr", "obj", "standard"),
    [
        (("CALIB", "STD", "IMAGE"), "HD 95086", True),
        (("CALIB", "STD,FLUX", "IMAGE"), "HD 95086", True),
        (("SCIENCE", "OBJECT", "IMAGE,DUAL"), "STD HD 38666", True),
        (("SCIENCE", "OBJECT", "IMAGE,DUAL"), "FS 27", True),
        (("SCIENCE", "OBJECT", "IMAGE,DUAL"), "S234-E", True),
        (("SCIENCE", "OBJECT", "IMAGE,DUAL"), "HD 95086", False),
        (("SCIENCE", "OBJECT", "IMAGE,DUAL"), "STDEV test", False),
    ],
)
def test_standard_stars_are_flagged_at_ingest(
    factory, app_client, tmp_path: Path, dpr, obj: str, standard: bool
) -> None:
    root = _headers(factory, "root", "admin")
    (data_id,) = ingest(factory, [write_frame(tmp_path / "in.fits", dpr=dpr, obj=obj)])
    assert _ids(app_client, root, "data_list", {"STANDARD": True}) == ([data_id] * standard)
    assert _ids(app_client, root, "data_list", {"STANDARD": "false"}) == (
        [data_id] * (not standard)
    )


def test_extended_attributes_are_set_and_removed_through_the_api(factory, app_client) -> None:
    lara = _headers(factory, "lara")
    process_id = _process(factory, "hcdc_echo", user="lara")
    url = f"/api/processes/{process_id}/attributes"

    def having(**attributes: str) -> list[int]:
        return _ids(app_client, lara, "process_list", {"EXTENDED_ATTRIBUTE": attributes})

    assert having(quality="good") == []
    set_good = app_client.put(f"{url}/quality", json={"value": "good"}, headers=lara)
    assert set_good.status_code == 200, set_good.text
    assert set_good.json() == {"process_id": process_id, "attributes": {"quality": "good"}}
    assert having(quality="good") == [process_id]
    replaced = app_client.put(f"{url}/quality", json={"value": "bad"}, headers=lara)
    assert replaced.json()["attributes"] == {"quality": "bad"}
    app_client.put(f"{url}/frames", json={"value": "12"}, headers=lara)
    assert having(quality="bad", frames="1*") == [process_id]
    assert having(quality="good") == []
    detail = app_client.get(f"/api/processes/{process_id}", headers=lara).json()
    assert detail["attributes"] == {"frames": "12", "quality": "bad"}
    removed = app_client.delete(f"{url}/quality", headers=lara)
    assert removed.status_code == 204, removed.text
    assert having(quality="*") == []
    again = app_client.delete(f"{url}/quality", headers=lara)
    assert again.status_code == 404 and "quality" in again.json()["message"]
    for key, body in (("a b", {"value": "x"}), ("k" * 129, {"value": "x"}), ("ok", {})):
        refused = app_client.put(f"{url}/{key}", json=body, headers=lara)
        assert refused.status_code == 400, (key, refused.text)
    too_long = app_client.put(f"{url}/note", json={"value": "x" * 4097}, headers=lara)
    assert too_long.status_code == 400
    missing = app_client.put(
        "/api/processes/999999/attributes/quality", json={"value": "x"}, headers=lara
    )
    assert missing.status_code == 404
