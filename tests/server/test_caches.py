"""In-process caches: reused within their lifetime, emptied by any process's change at once.

Each ``Factory`` below stands for another process (an API worker, a replica, the CLI): they
share only the database and the data directory, as separate processes do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from hcdc_server.exceptions import AuthenticationError
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import Token
from hcdc_server.services.users import utcnow


@contextmanager
def counted(factory: Factory) -> Iterator[list[str]]:
    """The SQL statements ``factory``'s engine runs inside the block."""
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(factory.engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(factory.engine, "before_cursor_execute", note)


@pytest.fixture
def other(factory: Factory) -> Iterator[Factory]:
    """Another process over the same database and data directory."""
    made = Factory(factory.settings)
    yield made
    made.close()


def test_a_checked_token_is_reused_without_the_database(factory, other):
    other.users().add_user("ana")
    token = other.users().create_token("ana").token
    auth = factory.auth()
    assert auth.viewer("ana", token).login == "ana"
    assert auth.bearer_viewer(token).login == "ana"
    with counted(factory) as statements:
        assert auth.viewer("ana", token).login == "ana"
        assert factory.auth().bearer_viewer(token).login == "ana"
    assert statements == []
    with pytest.raises(AuthenticationError):
        auth.viewer("ana", token + "x")  # a wrong secret is never served from the cache


def test_revocation_elsewhere_is_refused_on_the_next_request(factory, other):
    other.users().add_user("ana")
    token = other.users().create_token("ana")
    auth = factory.auth()
    auth.viewer("ana", token.token)
    auth.bearer_viewer(token.token)
    other.users().revoke_token(token.info.key)
    with pytest.raises(AuthenticationError, match="revoked"):
        auth.viewer("ana", token.token)
    with pytest.raises(AuthenticationError, match="revoked"):
        auth.bearer_viewer(token.token)


def test_expiry_written_by_a_bulk_update_is_seen_at_once(factory, other):
    other.users().add_user("ana")
    token = other.users().create_token("ana")
    factory.auth().viewer("ana", token.token)
    with other.sessions.begin() as session:
        session.execute(
            update(Token)
            .where(Token.key == token.info.key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(AuthenticationError, match="expired"):
        factory.auth().viewer("ana", token.token)


def test_membership_changes_elsewhere_are_seen_on_the_next_request(factory, other):
    other.users().add_user("ana")
    token = other.users().create_token("ana").token
    other.workspaces().add_workspace("night")
    auth = factory.auth()
    assert auth.viewer("ana", token).workspace_names == frozenset()
    other.workspaces().set_member("night", "ana", "viewer")
    assert auth.viewer("ana", token).workspace_names == {"night"}
    other.workspaces().remove_member("night", "ana")
    assert auth.viewer("ana", token).workspace_names == frozenset()


def test_recipe_changes_elsewhere_are_seen_on_the_next_launch(factory, other):
    recipes = factory.recipes()
    first_id, _ = recipes.get("hcdc_sleep")
    recipes.model("hcdc_sleep")
    with counted(factory) as statements:
        assert recipes.get("hcdc_sleep")[0] == first_id
        recipes.model("hcdc_sleep")
    assert statements == []
    other.recipes().add_version("hcdc_sleep", "next", make_current=True)
    assert recipes.get("hcdc_sleep")[1].version == "next"
    hidden = other.recipes().model("hcdc_sleep").is_hidden
    other.recipes().set_hidden("hcdc_sleep", hidden=not hidden)
    assert recipes.model("hcdc_sleep").is_hidden is not hidden


def test_caches_off_read_the_database_every_time(factory):
    plain = Factory(factory.settings.model_copy(update={"cache_s": 0.0}))
    try:
        plain.users().add_user("ana")
        token = plain.users().create_token("ana").token
        auth = plain.auth()
        auth.viewer("ana", token)
        with counted(plain) as statements:
            auth.viewer("ana", token)
        assert statements
    finally:
        plain.close()
