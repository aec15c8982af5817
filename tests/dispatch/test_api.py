"""The recipe and launch routes over HTTP: JSON Schema, 400 naming the problem, actions."""

from __future__ import annotations

import pytest

from hcdc_server.app import create_app
from tests.api.client import api_client
from tests.dispatch.helpers import ingest, run_worker, write_naco_dark
from tests.requirements import needs_naco


@pytest.fixture
def client(factory):
    factory.users().add_user("alice")
    token = factory.users().create_token("alice").token
    with api_client(create_app(factory)) as made:
        yield made, {"X-Auth-Ident": "alice", "X-Auth-Token": token}


def test_recipes_carry_a_json_schema_and_availability(factory, client):
    http, headers = client
    assert http.get("/api/recipes").status_code == 401
    recipes = {r["name"]: r for r in http.get("/api/recipes", headers=headers).json()}
    dark = recipes["naco_img_dark"]
    assert dark["params_schema"]["properties"]["nsamples"]["type"] == "integer"
    assert dark["params_schema"]["properties"]["nsamples"]["minimum"] == 1
    assert dark["presets"]["small_frames"] == {"r": "10 10 10 10"}
    assert dark["inputs"][0]["tag"] == "CAL_DARK"
    assert recipes["sph_ird_master_dark"]["available"] is False
    assert "hcdc_sleep" not in recipes  # hidden
    asked = http.get("/api/recipes", params={"include_hidden": True}, headers=headers).json()
    assert "hcdc_sleep" not in {r["name"] for r in asked}  # hidden recipes are for admins
    assert http.get("/api/recipes/hcdc_sleep", headers=headers).status_code == 404
    factory.users().add_user("root", role="admin")
    root = {"X-Auth-Ident": "root", "X-Auth-Token": factory.users().create_token("root").token}
    shown = http.get("/api/recipes", params={"include_hidden": True}, headers=root).json()
    assert "hcdc_sleep" in {r["name"] for r in shown}
    assert http.get("/api/recipes/hcdc_sleep", headers=root).json()["is_hidden"] is True


@needs_naco
def test_launch_sof_associate_cancel_and_validation_over_http(factory, client, tmp_path):
    http, headers = client
    factory.recipes().set_hidden("hcdc_echo", hidden=False)  # an administrator shows it
    ids = ingest(factory, [write_naco_dark(tmp_path / f"d{i}.fits", seed=i) for i in range(2)])
    bad = http.post(
        "/api/processes",
        json={"recipe": "naco_img_dark", "selection": ids, "params": {"hot_t": -1}},
        headers=headers,
    )
    assert bad.status_code == 400
    assert "param hot_t" in bad.json()["message"]
    empty = http.post("/api/processes", json={"recipe": "naco_img_dark"}, headers=headers)
    assert empty.status_code == 400 and "input CAL_DARK" in empty.json()["message"]
    preview = http.post(
        "/api/associate", json={"recipe": "naco_img_dark", "selection": ids}, headers=headers
    )
    assert preview.status_code == 200 and preview.json()[0]["primary_ids"] == ids
    launched = http.post(
        "/api/processes",
        json={"recipe": "hcdc_echo", "inputs": [{"data_file_id": i} for i in ids]},
        headers=headers,
    )
    assert launched.status_code == 201, launched.text
    pid = launched.json()["processes"][0]["id"]
    sof = http.get(f"/api/processes/{pid}/sof", headers=headers)
    assert sof.status_code == 200 and sof.text.count(" ANY\n") == 2
    assert (
        http.post(
            f"/api/processes/{pid}/validation", json={"status": "valid"}, headers=headers
        ).status_code
        == 409
    )
    run_worker(factory)
    redo = http.post(f"/api/processes/{pid}/reprocess", headers=headers)
    assert redo.status_code == 201 and redo.json()["reprocess_of_id"] == pid
    cancel = http.post(f"/api/processes/{redo.json()['id']}/cancel", headers=headers)
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    again = http.post(f"/api/processes/{redo.json()['id']}/cancel", headers=headers)
    assert again.status_code == 409
    workflows = http.get("/api/workflows", headers=headers).json()
    assert "irdis_dbi" in {w["name"] for w in workflows}
