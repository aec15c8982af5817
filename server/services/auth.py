"""Authentication of API calls: credentials -> :class:`Viewer` (user and workspaces).

Token checks (salted hash, constant-time comparison, expiry, revocation) are the user service's;
this module adds the bearer form, where the login is implied by the token, and loads the
caller's workspaces for the visibility rule. Both are kept for a few seconds in the process's
credential cache (:class:`StampedCache`), which any change of a token, user or membership
empties for the next request, whichever process made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.models.users import UserModel
from hcdc_server.schema.tables import Token, User, Workspace, WorkspaceMember
from hcdc_server.services.stamped_cache import StampedCache
from hcdc_server.services.users import UserService, utcnow
from hcdc_server.services.visibility import Viewer

#: A login no user can have (logins have no spaces): bearer tokens with an unknown key still pay
#: for a hash comparison, so timing does not tell which keys exist.
_NO_LOGIN = " unknown "


class AuthService:
    """Check credentials and describe the caller."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        users: UserService,
        cache: StampedCache[Viewer] | None = None,
    ) -> None:
        self._sessions = sessions
        self._users = users
        self._cache = cache

    def viewer(self, login: str | None, token: str | None) -> Viewer:
        """The caller of ``login`` + ``token``; AuthenticationError (401) otherwise."""
        return self._cached(("login", login, token), lambda: self._check(login, token))

    def bearer_viewer(self, token: str | None) -> Viewer:
        """The caller of a bearer token (``Authorization: Bearer <key>.<secret>``)."""
        return self._cached(("bearer", None, token), lambda: self._check_bearer(token))

    def _cached(
        self,
        form: tuple[str, str | None, str | None],
        load: Callable[[], tuple[Viewer, datetime | None]],
    ) -> Viewer:
        if self._cache is None:
            return load()[0]
        # Keyed by a digest: the process keeps no token in clear. Failures are never cached.
        key = hashlib.sha256("\0".join(part or "" for part in form).encode()).digest()
        return self._cache.get_or_load(key, load, now=utcnow)

    def _check(self, login: str | None, token: str | None) -> tuple[Viewer, datetime | None]:
        user, expires_at = self._users.check_token(login, token)
        return self._viewer(user), expires_at

    def _check_bearer(self, token: str | None) -> tuple[Viewer, datetime | None]:
        key = (token or "").split(".", 1)[0]
        with self._sessions() as session:
            login = session.scalar(
                select(User.login).join(Token, Token.user_id == User.id).where(Token.key == key)
            )
        return self._check(login or _NO_LOGIN, token)

    def login_of(self, token: str) -> str | None:
        """The login owning a token's key (the token is not checked)."""
        key = token.split(".", 1)[0]
        with self._sessions() as session:
            return session.scalar(
                select(User.login).join(Token, Token.user_id == User.id).where(Token.key == key)
            )

    def _viewer(self, user: UserModel) -> Viewer:
        with self._sessions() as session:
            rows = session.execute(
                select(Workspace.id, Workspace.name, WorkspaceMember.role)
                .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
                .where(WorkspaceMember.user_id == user.id)
                .order_by(Workspace.id)
            ).all()
        return Viewer(
            user_id=user.id,
            login=user.login,
            role=user.role,
            workspaces=tuple((row.id, row.name) for row in rows),
            roles=tuple((row.id, row.role) for row in rows),
        )
