"""Workspace names from a safe set, membership by accepted invitation, and the last owner."""

from __future__ import annotations

import pytest

from hcdc_server.factory import Factory
from tests.api.client import ApiClient

#: Names that would become hidden folders, paths or separators in every member's home.
UNSAFE_NAMES = [
    ".ipython",
    ".jupyter",
    ".local",
    ".",
    "..",
    "a\nb",
    "with:colon",
    "x/y",
    "-rf",
    "_under",
    "sp ace",
    "é",
    "a" * 65,
    "",
]


def _users(factory: Factory, *logins: str) -> dict[str, dict[str, str]]:
    users = factory.users()
    headers = {}
    for login in logins:
        users.add_user(login, role="admin" if login == "root" else "user")
        headers[login] = {"X-Auth-Ident": login, "X-Auth-Token": users.create_token(login).token}
    return headers


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=repr)
def test_unsafe_workspace_names_are_refused_naming_the_rule(
    factory: Factory, app_client: ApiClient, name: str
) -> None:
    headers = _users(factory, "alice")
    created = app_client.post("/api/workspaces", json={"name": name}, headers=headers["alice"])
    assert created.status_code == 400, created.text
    assert "letters" in created.json()["message"]
    assert "starting with a letter or digit" in created.json()["message"]
    assert app_client.get("/api/workspaces", headers=headers["alice"]).json() == []


def test_safe_names_are_accepted(factory: Factory, app_client: ApiClient) -> None:
    headers = _users(factory, "alice")
    for name in ("demo", "ws_a", "betapic-team-1f3a", "A" * 64, "7"):
        created = app_client.post("/api/workspaces", json={"name": name}, headers=headers["alice"])
        assert created.status_code == 201, (name, created.text)


def test_an_owner_invites_and_only_the_invitee_makes_it_membership(
    factory: Factory, app_client: ApiClient
) -> None:
    h = _users(factory, "alice", "bob", "carol")
    c = app_client
    c.post("/api/workspaces", json={"name": "team"}, headers=h["alice"])
    invited = c.put("/api/workspaces/team/members/bob", json={"role": "editor"}, headers=h["alice"])
    assert invited.status_code == 200
    assert [m["login"] for m in invited.json()["members"]] == ["alice"]
    assert [(m["login"], m["role"]) for m in invited.json()["invited"]] == [("bob", "editor")]
    # bob is not a member yet: no workspace, no data, no folder in his home
    assert c.get("/api/workspaces", headers=h["bob"]).json() == []
    assert c.get("/api/workspaces/team", headers=h["bob"]).status_code == 404
    mine = c.get("/api/invitations", headers=h["bob"]).json()
    assert [(i["workspace"], i["role"], i["invited_by"]) for i in mine] == [
        ("team", "editor", "alice")
    ]
    assert c.get("/api/me", headers=h["bob"]).json()["invitations"] == mine
    # nobody else can accept bob's invitation, and there is none for carol
    refused = c.post("/api/invitations/team/accept", headers=h["carol"])
    assert refused.status_code == 404 and "no invitation" in refused.json()["message"]
    assert c.post("/api/invitations/nowhere/accept", headers=h["bob"]).status_code == 404
    joined = c.post("/api/invitations/team/accept", headers=h["bob"])
    assert joined.status_code == 200
    assert {m["login"]: m["role"] for m in joined.json()["members"]} == {
        "alice": "owner",
        "bob": "editor",
    }
    assert joined.json()["invited"] == []
    assert c.get("/api/invitations", headers=h["bob"]).json() == []
    assert [w["name"] for w in c.get("/api/workspaces", headers=h["bob"]).json()] == ["team"]
    # a member's role changes at once, without a new invitation
    changed = c.put("/api/workspaces/team/members/bob", json={"role": "viewer"}, headers=h["alice"])
    assert {m["login"]: m["role"] for m in changed.json()["members"]}["bob"] == "viewer"
    assert changed.json()["invited"] == []


def test_an_admin_invites_too_and_the_invitee_may_decline(
    factory: Factory, app_client: ApiClient
) -> None:
    h = _users(factory, "alice", "bob", "root")
    c = app_client
    c.post("/api/workspaces", json={"name": "team"}, headers=h["alice"])
    c.put("/api/workspaces/team/members/bob", json={"role": "viewer"}, headers=h["root"])
    assert c.get("/api/workspaces", headers=h["bob"]).json() == []
    assert c.delete("/api/invitations/team", headers=h["bob"]).status_code == 204
    assert c.get("/api/invitations", headers=h["bob"]).json() == []
    assert c.post("/api/invitations/team/accept", headers=h["bob"]).status_code == 404
    assert c.delete("/api/invitations/team", headers=h["bob"]).status_code == 404
    assert c.get("/api/workspaces/team", headers=h["alice"]).json()["invited"] == []


def test_an_owner_withdraws_an_invitation(factory: Factory, app_client: ApiClient) -> None:
    h = _users(factory, "alice", "bob")
    c = app_client
    c.post("/api/workspaces", json={"name": "team"}, headers=h["alice"])
    c.put("/api/workspaces/team/members/bob", json={"role": "viewer"}, headers=h["alice"])
    withdrawn = c.delete("/api/workspaces/team/members/bob", headers=h["alice"])
    assert withdrawn.status_code == 200 and withdrawn.json()["invited"] == []
    assert c.post("/api/invitations/team/accept", headers=h["bob"]).status_code == 404


def test_the_last_owner_cannot_leave_be_removed_or_demoted(
    factory: Factory, app_client: ApiClient
) -> None:
    h = _users(factory, "alice", "bob", "root")
    c = app_client
    c.post("/api/workspaces", json={"name": "team"}, headers=h["alice"])
    for response in (
        c.delete("/api/workspaces/team/members/alice", headers=h["alice"]),
        c.delete("/api/workspaces/team/members/alice", headers=h["root"]),
        c.put("/api/workspaces/team/members/alice", json={"role": "editor"}, headers=h["alice"]),
        c.put("/api/workspaces/team/members/alice", json={"role": "viewer"}, headers=h["root"]),
    ):
        assert response.status_code == 409, response.text
        assert "last owner" in response.json()["message"]
    assert {
        m["login"]: m["role"]
        for m in c.get("/api/workspaces/team", headers=h["alice"]).json()["members"]
    } == {"alice": "owner"}
    # with a second owner, the first may step down and leave
    c.put("/api/workspaces/team/members/bob", json={"role": "owner"}, headers=h["alice"])
    c.post("/api/invitations/team/accept", headers=h["bob"])
    assert (
        c.put(
            "/api/workspaces/team/members/alice", json={"role": "viewer"}, headers=h["alice"]
        ).status_code
        == 200
    )
    assert c.delete("/api/workspaces/team/members/alice", headers=h["alice"]).status_code == 200
    left = c.delete("/api/workspaces/team/members/bob", headers=h["bob"])
    assert left.status_code == 409 and "last owner" in left.json()["message"]


def test_operators_add_members_directly(factory: Factory) -> None:
    """The service's ``set_member`` (``hcdc workspace member add``) needs no acceptance."""
    _users(factory, "alice", "bob")
    workspaces = factory.workspaces()
    workspaces.add_workspace("team", owner_login="alice")
    workspaces.invite("team", "bob", "viewer", invited_by="alice")
    added = workspaces.set_member("team", "bob", "editor")
    assert {m.login: m.role for m in added.members} == {"alice": "owner", "bob": "editor"}
    assert added.invited == ()
    assert workspaces.invitations_of("bob") == []
