"""REST resources: process and data detail, FITS header, downloads with ranges, download
scripts run by bash against a live server, workspaces and /api/me, and the OpenAPI walk."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from astropy.io import fits
from sqlalchemy import update

from hcdc_server.app import create_app
from hcdc_server.schema.tables import Token
from hcdc_server.services.downloads import safe_filename
from hcdc_server.services.users import utcnow

#: Routes open by design: the hub's liveness probe (it returns nothing about users or data),
#: and public data for VO clients and DOI landing pages (public data only, by the visibility
#: rule; tests/security/test_authorisation_matrix.py checks them).
PUBLIC_ROUTES = {
    ("get", "/api/hub/health"),
    ("get", "/api/public/data/{data_id}/file"),
    ("get", "/api/public/data/{data_id}/preview"),
    ("get", "/api/public/datasets/{suffix}"),
    ("get", "/api/public/datasets/{suffix}/datacite.json"),
    ("get", "/api/public/datasets/{suffix}/datacite.xml"),
}


def test_every_route_refuses_an_unauthenticated_request(seeded) -> None:
    schema = seeded.client.app.openapi()
    walked = 0
    for path, methods in schema["paths"].items():
        for method in methods:
            if (method, path) in PUBLIC_ROUTES:
                continue
            url = re.sub(
                r"\{(\w+)\}",
                lambda m: {"login": "alice", "token": "bad.token"}.get(m[1], "1"),
                path,
            )
            kwargs = {"json": {}} if method in ("post", "put") else {}
            response = seeded.client.request(method.upper(), url, **kwargs)
            where = f"{method.upper()} {path}: {response.status_code}"
            if path.startswith("/api/hub/"):  # the hub's own routes need the hub's token
                assert response.status_code in (401, 403), where
            else:
                assert response.status_code == 401, where
                assert response.json()["error"] == "unauthenticated"
            walked += 1
    assert walked >= 14


def test_openapi_documents_the_routes(seeded) -> None:
    paths = seeded.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/process_list",
        "/api/process_list/{login}/{token}",
        "/api/data_list",
        "/api/processes/{process_id}",
        "/api/data/{data_id}",
        "/api/data/{data_id}/header",
        "/api/data/{data_id}/file",
        "/api/download_script",
        "/api/workspaces",
        "/api/workspaces/{name}/members/{login}",
        "/api/me",
    ):
        assert path in paths


def test_process_detail_is_the_info_panel(seeded) -> None:
    cat = seeded.catalog
    done = next(p for p in cat.processes if p["status"] == "done" and p["batch_id"])
    detail = seeded.client.get(
        f"/api/processes/{done['id']}", headers=seeded.headers("root")
    ).json()
    recipe = cat.by_id(cat.recipes)[done["recipe_id"]]
    assert detail["recipe_name"] == recipe["name"]
    assert detail["pipeline_version"] == recipe["version"]
    assert detail["duration_s"] == 253.0
    assert detail["faster_by_s"] == 1142.0 - 253.0
    assert detail["obs_id"] == done["obs_id"] and detail["prog_id"] == done["prog_id"]
    assert detail["obs_night"] == (done["obs_night"].isoformat() if done["obs_night"] else None)
    owner = next(u for u in cat.users.values() if u["id"] == done["user_id"])
    assert detail["user"] == owner["login"]
    expected_inputs = {i["data_file_id"] for i in cat.inputs if i["process_id"] == done["id"]}
    assert {f["data_file_id"] for f in detail["inputs"]} == expected_inputs
    assert detail["hidden_inputs"] == 0
    first = next(f for f in detail["inputs"])
    row = cat.by_id(cat.data)[first["data_file_id"]]
    assert first["file_name"] == row["filename"] and first["size"] == row["size"]
    history = seeded.client.get("/api/processes/1", headers=seeded.headers("root")).json()
    assert history["validation_history"][0]["to_status"] == "valid"


def test_process_detail_hides_inputs_the_caller_cannot_see(seeded) -> None:
    cat = seeded.catalog
    visible = set(seeded.ids("data_list", {}, "alice"))
    for p in cat.processes:
        if p["id"] not in set(seeded.ids("process_list", {}, "alice")):
            response = seeded.client.get(
                f"/api/processes/{p['id']}", headers=seeded.headers("alice")
            )
            assert response.status_code == 404
            continue
        detail = seeded.client.get(
            f"/api/processes/{p['id']}", headers=seeded.headers("alice")
        ).json()
        inputs = {i["data_file_id"] for i in cat.inputs if i["process_id"] == p["id"]}
        assert {f["data_file_id"] for f in detail["inputs"]} == inputs & visible
        assert detail["hidden_inputs"] == len(inputs - visible)


def test_data_detail_and_header(seeded) -> None:
    cat = seeded.catalog
    row = cat.by_id(cat.data)[1]
    detail = seeded.client.get("/api/data/1", headers=seeded.headers("root")).json()
    for key, column in (
        ("file_name", "filename"),
        ("size", "size"),
        ("frame_type", "frame_type"),
        ("exptime", "exptime"),
        ("prog_id", "prog_id"),
        ("is_standard", "is_standard"),
    ):
        assert detail[key] == row[column]
    with fits.open(cat.files[1]) as hdus:
        assert detail["extension_count"] == len(hdus) == 2
        header = hdus[0].header
    got = seeded.client.get("/api/data/1/header", headers=seeded.headers("root")).json()
    assert got["header"]["OBJECT"] == header["OBJECT"]
    assert got["header"]["ESO DPR TYPE"] == header["HIERARCH ESO DPR TYPE"]
    assert got["header"]["NAXIS1"] == 64
    missing = seeded.client.get("/api/data/7/header", headers=seeded.headers("root"))
    assert missing.status_code == 404 and missing.json()["error"] == "file_missing"


def test_download_with_ranges(seeded) -> None:
    content = seeded.catalog.files[2].read_bytes()
    headers = seeded.headers("root")
    whole = seeded.client.get("/api/data/2/file", headers=headers)
    assert whole.status_code == 200 and whole.content == content
    part = seeded.client.get("/api/data/2/file", headers={**headers, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(content)}"
    assert part.content == content[100:200]
    tail = seeded.client.get("/api/data/2/file", headers={**headers, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == content[-10:]
    outside = seeded.client.get(
        "/api/data/2/file", headers={**headers, "Range": f"bytes={len(content)}-"}
    )
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(content)}"


def test_download_refuses_hidden_and_missing_files(seeded) -> None:
    cat = seeded.catalog
    hidden = next(d for d in cat.files if d not in set(seeded.ids("data_list", {}, "carol")))
    response = seeded.client.get(f"/api/data/{hidden}/file", headers=seeded.headers("carol"))
    assert response.status_code == 404
    missing = seeded.client.get("/api/data/7/file", headers=seeded.headers("root"))
    assert missing.status_code == 404 and missing.json()["error"] == "file_missing"


@contextmanager
def live_server(app) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_download_script_fetches_with_the_token_in_a_header(seeded, tmp_path: Path) -> None:
    cat = seeded.catalog
    token = cat.tokens["root"]
    app = create_app(seeded.factory)
    with live_server(app) as url:
        import httpx

        response = httpx.post(
            f"{url}/api/download_script",
            json={"data_ids": [1, 2, 3], "folder": "out"},
            headers=seeded.headers("root"),
        )
        assert response.status_code == 200, response.text
        script = response.text
        assert "X-Auth-Token" in script
        for line in script.splitlines():
            if "http" in line:
                assert token not in line
        (tmp_path / "get.sh").write_text(script)
        # a partial file is resumed with a Range request
        (tmp_path / "out").mkdir()
        name1 = safe_filename(cat.by_id(cat.data)[1]["filename"], 1)
        (tmp_path / "out" / name1).write_bytes(cat.files[1].read_bytes()[:1000])
        for _ in range(2):  # twice: the second run finds everything complete
            done = subprocess.run(
                ["bash", "get.sh"], cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
        for data_id in (1, 2, 3):
            name = safe_filename(cat.by_id(cat.data)[data_id]["filename"], data_id)
            got = (tmp_path / "out" / name).read_bytes()
            assert got == cat.files[data_id].read_bytes()
        by_filter = httpx.post(
            f"{url}/api/download_script",
            json={"browse_filters": {"DATA_FILE_ID": {"max": 3}}},
            headers=seeded.headers("root"),
        )
        assert by_filter.text.count("\nfetch ") == 3
        hidden = httpx.post(
            f"{url}/api/download_script",
            json={"data_ids": [999999]},
            headers=seeded.headers("root"),
        )
        assert hidden.status_code == 404


def test_workspaces_and_membership(factory, app_client) -> None:
    users = factory.users()
    tokens = {}
    for login, role in (
        ("alice", "user"),
        ("bob", "user"),
        ("rita", "restricted"),
        ("root", "admin"),
    ):
        users.add_user(login, role=role)
        tokens[login] = {"X-Auth-Ident": login, "X-Auth-Token": users.create_token(login).token}
    c = app_client
    created = c.post(
        "/api/workspaces", json={"name": "night", "group_name": "g"}, headers=tokens["alice"]
    )
    assert created.status_code == 201
    assert created.json()["members"] == [{"user_id": 1, "login": "alice", "role": "owner"}]
    assert (
        c.post("/api/workspaces", json={"name": "night"}, headers=tokens["bob"]).status_code == 409
    )
    assert c.post("/api/workspaces", json={"name": "x/y"}, headers=tokens["bob"]).status_code == 400
    assert c.post("/api/workspaces", json={"name": "r"}, headers=tokens["rita"]).status_code == 403
    assert c.get("/api/workspaces/night", headers=tokens["bob"]).status_code == 404
    assert (
        c.put(
            "/api/workspaces/night/members/alice", json={"role": "viewer"}, headers=tokens["bob"]
        ).status_code
        == 404
    )
    invited = c.put(
        "/api/workspaces/night/members/bob", json={"role": "viewer"}, headers=tokens["alice"]
    )
    assert invited.status_code == 200
    assert invited.json()["invited"] == [{"user_id": 2, "login": "bob", "role": "viewer"}]
    assert c.get("/api/workspaces", headers=tokens["bob"]).json() == []  # not before accepting
    accepted = c.post("/api/invitations/night/accept", headers=tokens["bob"])
    assert accepted.status_code == 200 and accepted.json()["invited"] == []
    assert [w["name"] for w in c.get("/api/workspaces", headers=tokens["bob"]).json()] == ["night"]
    assert (
        c.put(
            "/api/workspaces/night/members/rita", json={"role": "viewer"}, headers=tokens["bob"]
        ).status_code
        == 403
    )
    assert (
        c.put(
            "/api/workspaces/night/members/rita", json={"role": "boss"}, headers=tokens["alice"]
        ).status_code
        == 400
    )
    me = c.get("/api/me", headers=tokens["bob"]).json()
    assert me["user"]["login"] == "bob" and me["workspaces"] == [
        {"id": 1, "name": "night", "role": "viewer"}
    ]
    assert c.delete("/api/workspaces/night/members/bob", headers=tokens["bob"]).status_code == 200
    assert c.get("/api/workspaces", headers=tokens["bob"]).json() == []
    c.post("/api/workspaces", json={"name": "other"}, headers=tokens["bob"])
    assert len(c.get("/api/workspaces", headers=tokens["root"]).json()) == 2
    assert (
        c.put(
            "/api/workspaces/other/members/alice", json={"role": "editor"}, headers=tokens["root"]
        ).status_code
        == 200
    )


def test_revoked_and_expired_tokens_are_refused(factory, app_client) -> None:
    users = factory.users()
    users.add_user("alice")
    token = users.create_token("alice").token
    headers = {"X-Auth-Ident": "alice", "X-Auth-Token": token}
    assert app_client.post("/api/process_list", json={}, headers=headers).status_code == 200
    users.revoke_token(token)
    revoked = app_client.post("/api/process_list", json={}, headers=headers)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]
    expiring = users.create_token("alice")
    with factory.sessions.begin() as session:
        session.execute(
            update(Token)
            .where(Token.key == expiring.info.key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = app_client.get("/api/me", headers={"Authorization": f"Bearer {expiring.token}"})
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
