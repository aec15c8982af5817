"""400 naming the offending part, 401, 403, 413, and never a 500 on bad input."""

from __future__ import annotations

import pytest

BAD_BODIES = [
    ({"browse_filters": {"NOPE": 1}}, "NOPE"),
    ({"browse_filters": {"RECIPE_NAM": "x"}}, "RECIPE_NAME"),
    ({"browse_filters": {"BATCH_ID": "abc"}}, "BATCH_ID"),
    ({"browse_filters": {"BATCH_ID": True}}, "BATCH_ID"),
    ({"browse_filters": {"BATCH_ID": 2**70}}, "BATCH_ID"),
    ({"browse_filters": {"OBS_NIGHT_DATE": "2020-13-45"}}, "OBS_NIGHT_DATE"),
    ({"browse_filters": {"OBS_NIGHT_DATE": {"min": "2021-01-01", "max": "2020-01-01"}}}, "min"),
    ({"browse_filters": {"OBS_NIGHT_DATE": {"from": "2020-01-01"}}}, "OBS_NIGHT_DATE"),
    ({"browse_filters": {"OBS_NIGHT_DATE_YEAR_MONTH": "2020"}}, "YYYY-MM"),
    ({"browse_filters": {"RECIPE_NAME": []}}, "RECIPE_NAME"),
    ({"browse_filters": {"RECIPE_NAME": [{"a": 1}]}}, "RECIPE_NAME"),
    ({"browse_filters": {"RECIPE_NAME": "a\u0000b"}}, "RECIPE_NAME"),
    ({"browse_filters": {"FILTER_NO_WORKSPACE": "yes"}}, "FILTER_NO_WORKSPACE"),
    ({"browse_filters": {"SWITCH_PRODUCER_LIST": True}}, "DATA_IN_OUT"),
    ({"browse_filters": {"CONE": {"ra": 1, "dec": 95, "radius": 1}}}, "CONE"),
    ({"browse_filters": {"CONE": {"ra": 1, "dec": 5}}}, "CONE"),
    ({"browse_filters": {"CONE": {"ra": 1, "dec": 5, "radius": 0}}}, "CONE"),
    ({"browse_filters": {"EXTENDED_ATTRIBUTE": "x"}}, "EXTENDED_ATTRIBUTE"),
    ({"browse_filters": {"MJD_OBS": "x"}}, "MJD_OBS"),
    ({"browse_filters": {"EXP_TIME": float("inf")}}, None),
    ({"browse_filters": []}, "browse_filters"),
    ({"limit": -2}, "limit"),
    ({"limit": "10"}, "limit"),
    ({"page": 0}, "page"),
    ({"page": 2**80}, "page"),
    ({"count": "yes"}, "count"),
    ({"sort": "recipe_name UP"}, "sort"),
    ({"sort": "nope DESC"}, "nope"),
    ({"sort": "id; DROP TABLE processes"}, "sort"),
    ({"group": "nope"}, "nope"),
    ({"extract": "count(nope)"}, "nope"),
    ({"extract": "max(id)"}, "max(id)"),
    ({"unknown_setting": 1}, "unknown_setting"),
]


@pytest.mark.parametrize(("body", "named"), BAD_BODIES)
def test_bad_input_is_400_naming_the_part(seeded, body, named) -> None:
    if named is None:  # JSON cannot carry inf; send it raw
        response = seeded.client.post(
            "/api/process_list",
            content=b'{"browse_filters": {"EXP_TIME": Infinity}}',
            headers={**seeded.headers("root"), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        return
    response = seeded.client.post("/api/process_list", json=body, headers=seeded.headers("root"))
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] == "invalid_input"
    assert named in payload["message"]


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"null", b'"x"', b"\xff\xfe"])
def test_malformed_json_is_400(seeded, raw: bytes) -> None:
    response = seeded.client.post(
        "/api/data_list",
        content=raw,
        headers={**seeded.headers("root"), "Content-Type": "application/json"},
    )
    if raw == b"null":  # an explicit null body is the empty request
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_input"


def test_body_too_large_is_413(seeded) -> None:
    big = b'{"browse_filters": {"OBJECT": "' + b"x" * (2 << 20) + b'"}}'
    response = seeded.client.post(
        "/api/data_list",
        content=big,
        headers={**seeded.headers("root"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Ident": "alice"},
        {"X-Auth-Ident": "alice", "X-Auth-Token": "nope"},
        {"X-Auth-Ident": "bob", "X-Auth-Token": "ALICE"},
        {"X-Auth-Ident": "nobody", "X-Auth-Token": "ALICE"},
        {"Authorization": "Bearer nope.nope"},
        {"Authorization": "Basic YWxpY2U6eA=="},
    ],
)
def test_bad_credentials_are_401(seeded, headers) -> None:
    token = seeded.catalog.tokens["alice"]
    headers = {k: v.replace("ALICE", token) for k, v in headers.items()}
    for endpoint in ("process_list", "data_list"):
        response = seeded.client.post(f"/api/{endpoint}", json={}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unauthenticated"


def test_bad_credentials_in_the_url_are_401(seeded) -> None:
    token = seeded.catalog.tokens["alice"]
    for path in (f"alice/{token}x", f"bob/{token}", "alice/x.y", f"nobody/{token}"):
        response = seeded.client.post(f"/api/process_list/{path}", json={})
        assert response.status_code == 401


def test_restricted_user_must_name_their_workspace(seeded) -> None:
    client, headers = seeded.client, seeded.headers("rita")
    for body in ({}, {"browse_filters": {"PROCESS_STATUS": "done"}}):
        for endpoint in ("process_list", "data_list"):
            response = client.post(f"/api/{endpoint}", json=body, headers=headers)
            assert response.status_code == 403, response.text
            assert "WORKSPACE" in response.json()["message"]
    for workspace in ("ws_b", ["ws_a", "ws_b"], "ws_*", {"min": "a"}):
        response = client.post(
            "/api/process_list", json={"browse_filters": {"WORKSPACE": workspace}}, headers=headers
        )
        assert response.status_code == 403, workspace
    ok = client.post(
        "/api/process_list",
        json={"browse_filters": {"CURRENT_WORKSPACE": ["ws_a", "ws_c"]}, "limit": -1},
        headers=headers,
    )
    assert ok.status_code == 200
    cat = seeded.catalog
    mine = {cat.workspaces["ws_a"]["id"], cat.workspaces["ws_c"]["id"]}
    expected = sorted((p["id"] for p in cat.processes if p["workspace_id"] in mine), reverse=True)
    assert [item["id"] for item in ok.json()["items"]] == expected
    rex = client.post(
        "/api/data_list",
        json={"browse_filters": {"WORKSPACE": "ws_a"}},
        headers=seeded.headers("rex"),
    )
    assert rex.status_code == 403


def test_unknown_route_and_method_are_json(seeded) -> None:
    missing = seeded.client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = seeded.client.get("/api/process_list", headers=seeded.headers("root"))
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
