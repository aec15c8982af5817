"""Users, tokens (hash-only storage, expiry, revocation) and workspaces, through services and CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hcdc_server.cli import main
from hcdc_server.exceptions import AuthenticationError, ConflictError, NotFoundError
from hcdc_server.schema.tables import Token
from hcdc_server.services.users import utcnow


def test_token_is_stored_only_as_a_salted_hash(factory) -> None:
    users = factory.users()
    users.add_user("alice", email="a@example.org")
    new = users.create_token("alice")
    key, secret = new.token.split(".", 1)
    with factory.sessions() as session:
        row = session.scalars(select(Token)).one()
        assert row.key == key
        assert secret not in (row.secret_hash, row.salt)
    assert users.authenticate("alice", new.token).login == "alice"
    other = users.create_token("alice")
    with factory.sessions() as session:
        salts = set(session.scalars(select(Token.salt)))
    assert len(salts) == 2 and other.token != new.token


@pytest.mark.parametrize(
    ("login", "token_suffix", "message"),
    [
        ("alice", "x", "invalid login or token"),
        ("bob", "", "invalid login or token"),
        (None, "", "missing credentials"),
    ],
)
def test_bad_credentials(factory, login, token_suffix, message) -> None:
    users = factory.users()
    users.add_user("alice")
    users.add_user("bob")
    token = users.create_token("alice").token + token_suffix
    with pytest.raises(AuthenticationError, match=message):
        users.authenticate(login, token)


def test_revocation_and_expiry_take_effect_at_once(factory) -> None:
    users = factory.users()
    users.add_user("alice")
    token = users.create_token("alice").token
    users.revoke_token(token.split(".")[0])
    with pytest.raises(AuthenticationError, match="revoked"):
        users.authenticate("alice", token)
    expiring = users.create_token("alice", days=1)
    with factory.sessions.begin() as session:
        row = session.scalars(select(Token).where(Token.key == expiring.info.key)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(AuthenticationError, match="expired"):
        users.authenticate("alice", expiring.token)


def test_workspaces_and_members(factory) -> None:
    users, workspaces = factory.users(), factory.workspaces()
    for login in ("alice", "bob"):
        users.add_user(login)
    ws = workspaces.add_workspace("disks", owner_login="alice")
    assert [(m.login, m.role) for m in ws.members] == [("alice", "owner")]
    ws = workspaces.set_member("disks", "bob", "viewer")
    ws = workspaces.set_member("disks", "bob", "editor")
    assert [(m.login, m.role) for m in ws.members] == [("alice", "owner"), ("bob", "editor")]
    ws = workspaces.remove_member("disks", "bob")
    assert len(ws.members) == 1
    with pytest.raises(ConflictError):
        workspaces.add_workspace("disks")
    with pytest.raises(NotFoundError):
        workspaces.set_member("disks", "nobody", "viewer")
    with pytest.raises(ConflictError):
        users.add_user("alice")


def test_cli_user_token_workspace(factory) -> None:
    runner = CliRunner()
    env = {"HCDC_DATABASE_URL": factory.settings.resolved_database_url}
    base = ["--data-dir", str(factory.settings.data_dir)]

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*base, *args], env=env)
        assert result.exit_code == code, result.output
        return result.output

    run("user", "add", "carol", "--email", "c@example.org", "--role", "admin")
    token = run("token", "create", "carol").strip()
    assert factory.users().authenticate("carol", token).role == "admin"
    run("workspace", "add", "w1", "--owner", "carol")
    run("user", "add", "dave")
    run("workspace", "member", "add", "w1", "dave", "--role", "viewer")
    assert "dave:viewer" in run("workspace", "list")
    run("token", "revoke", token.split(".")[0])
    with pytest.raises(AuthenticationError):
        factory.users().authenticate("carol", token)
    assert "no user 'zed'" in run("token", "create", "zed", code=1)
    assert "Invalid value" in run("user", "add", "x", "--role", "superuser", code=2)
