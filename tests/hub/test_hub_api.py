"""The hcdc service's hub routes, URL prefix and browser sessions, through the real application."""

from __future__ import annotations

import warnings

import pytest
from pydantic import SecretStr
from starlette.exceptions import StarletteDeprecationWarning

from hcdc_server.api.hub import SESSION_COOKIE, STATE_COOKIE, session_value
from hcdc_server.app import create_app
from hcdc_server.exceptions import AuthenticationError
from hcdc_server.factory import Factory

HUB_TOKEN = "hub-secret-for-tests"
PREFIX = "/services/hcdc"

with warnings.catch_warnings():
    # starlette's test client asks for the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def hub_factory(factory: Factory) -> Factory:
    factory.settings = factory.settings.model_copy(
        update={"hub_api_token": SecretStr(HUB_TOKEN), "root_path": f"{PREFIX}/"}
    )
    users = factory.users()
    users.add_user("alice", role="admin", full_name="Alice")
    users.add_user("bob", role="user")
    workspaces = factory.workspaces()
    workspaces.add_workspace("survey", owner_login="alice")
    workspaces.set_member("survey", "bob", "viewer")
    workspaces.add_workspace("private", owner_login="alice")
    return factory


@pytest.fixture
def client(hub_factory: Factory) -> TestClient:
    return TestClient(create_app(hub_factory))


HUB = {"Authorization": f"token {HUB_TOKEN}"}


def test_identify_accepts_a_token_and_refuses_others(hub_factory: Factory, client: TestClient):
    token = hub_factory.users().create_token("alice").token
    reply = client.post("/api/hub/identify", json={"login": "alice", "token": token}, headers=HUB)
    assert reply.status_code == 200
    assert reply.json() == {"login": "alice", "admin": True, "full_name": "Alice"}
    wrong = client.post("/api/hub/identify", json={"login": "bob", "token": token}, headers=HUB)
    assert wrong.status_code == 401


def test_hub_routes_need_the_hub_token(hub_factory: Factory, client: TestClient):
    token = hub_factory.users().create_token("alice").token
    body = {"login": "alice", "token": token}
    assert client.post("/api/hub/identify", json=body).status_code == 401
    bad = {"Authorization": "token not-the-hub-token"}
    assert client.post("/api/hub/identify", json=body, headers=bad).status_code == 401
    # a user's own hcdc token is not the hub's
    user_auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/hub/servers/alice", headers=user_auth).status_code == 401


def test_hub_routes_are_closed_without_a_configured_hub_token(factory: Factory):
    client = TestClient(create_app(factory))
    assert client.post("/api/hub/servers/x", headers=HUB).status_code == 403


def test_server_grant_token_works_and_replaces_the_previous_one(
    hub_factory: Factory, client: TestClient
):
    first = client.post("/api/hub/servers/bob", headers=HUB)
    assert first.status_code == 200
    grant = first.json()
    assert grant["login"] == "bob"
    me = client.get("/api/me", headers={"X-Auth-Ident": "bob", "X-Auth-Token": grant["token"]})
    assert me.status_code == 200
    assert me.json()["user"]["login"] == "bob"
    second = client.post("/api/hub/servers/bob", headers=HUB).json()
    users = hub_factory.users()
    assert users.authenticate("bob", second["token"]).login == "bob"
    with pytest.raises(AuthenticationError, match="revoked"):
        users.authenticate("bob", grant["token"])
    assert client.delete("/api/hub/servers/bob", headers=HUB).status_code == 204
    with pytest.raises(AuthenticationError, match="revoked"):
        users.authenticate("bob", second["token"])


def test_server_grant_lists_workspaces_with_roles_and_creates_folders(
    hub_factory: Factory, client: TestClient
):
    grant = client.post("/api/hub/servers/bob", headers=HUB).json()
    assert [(w["name"], w["role"]) for w in grant["workspaces"]] == [("survey", "viewer")]
    folder = hub_factory.settings.workspaces_dir.resolve() / "survey"
    assert grant["workspaces"][0]["path"] == str(folder)
    assert folder.is_dir()
    owner = client.post("/api/hub/servers/alice", headers=HUB).json()
    assert sorted((w["name"], w["role"]) for w in owner["workspaces"]) == [
        ("private", "owner"),
        ("survey", "owner"),
    ]


def test_unknown_hub_user_is_refused_unless_users_are_created(
    hub_factory: Factory, client: TestClient
):
    assert client.post("/api/hub/servers/carol", headers=HUB).status_code == 404
    hub_factory.settings = hub_factory.settings.model_copy(update={"hub_create_users": True})
    creating = TestClient(create_app(hub_factory))
    reply = creating.post("/api/hub/servers/carol", headers=HUB)
    assert reply.status_code == 200
    assert hub_factory.users().get_user("carol").role == "user"


def test_routes_answer_with_and_without_the_hub_prefix(client: TestClient):
    assert client.get(f"{PREFIX}/api/hub/health").json() == {"status": "ok"}
    assert client.get("/api/hub/health").json() == {"status": "ok"}
    docs = client.get(f"{PREFIX}/docs")
    assert docs.status_code == 200
    assert f"{PREFIX}/openapi.json" in docs.text


def test_session_cookie_authenticates_reads_only(hub_factory: Factory, client: TestClient):
    token = hub_factory.users().create_token("bob").token
    client.cookies.set(SESSION_COOKIE, session_value("bob", token))
    me = client.get(f"{PREFIX}/api/me")
    assert me.status_code == 200
    assert me.json()["user"]["login"] == "bob"
    # writes need explicit credentials: another page of the hub's origin cannot act for the user
    write = client.put(f"{PREFIX}/api/workspaces/survey/members/bob", json={"role": "owner"})
    assert write.status_code == 401


def test_browser_pages_go_to_the_hub_login(hub_factory: Factory, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-hcdc")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", HUB_TOKEN)
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:1/hub/api")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", f"{PREFIX}/")
    client = TestClient(create_app(hub_factory), follow_redirects=False)
    page = client.get(f"{PREFIX}/docs", headers={"Accept": "text/html"})
    assert page.status_code == 302
    location = page.headers["location"]
    assert location.startswith("/hub/api/oauth2/authorize?client_id=service-hcdc")
    assert STATE_COOKIE in page.cookies
    # API calls are answered, not redirected
    assert client.get(f"{PREFIX}/api/me", headers={"Accept": "text/html"}).status_code == 401
    # a callback whose state does not match the browser's is refused
    client.cookies.set(STATE_COOKIE, "other")
    callback = client.get(f"{PREFIX}/oauth_callback", params={"code": "x", "state": "nonce.eA"})
    assert callback.status_code == 401
