"""Authentication of API calls: credentials -> :class:`Viewer` (user and workspaces).

Token checks (salted hash, constant-time comparison, expiry, revocation) are the user service's;
this module adds the bearer form, where the login is implied by the token, and loads the
caller's workspaces once per request for the visibility rule.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.models.users import UserModel
from hcdc_server.schema.tables import Token, User, Workspace, WorkspaceMember
from hcdc_server.services.users import UserService
from hcdc_server.services.visibility import Viewer

#: A login no user can have (logins have no spaces): bearer tokens with an unknown key still pay
#: for a hash comparison, so timing does not tell which keys exist.
_NO_LOGIN = " unknown "


class AuthService:
    """Check credentials and describe the caller."""

    def __init__(self, sessions: sessionmaker[Session], users: UserService) -> None:
        self._sessions = sessions
        self._users = users

    def viewer(self, login: str | None, token: str | None) -> Viewer:
        """The caller of ``login`` + ``token``; AuthenticationError (401) otherwise."""
        return self._viewer(self._users.authenticate(login, token))

    def bearer_viewer(self, token: str | None) -> Viewer:
        """The caller of a bearer token (``Authorization: Bearer <key>.<secret>``)."""
        key = (token or "").split(".", 1)[0]
        with self._sessions() as session:
            login = session.scalar(
                select(User.login).join(Token, Token.user_id == User.id).where(Token.key == key)
            )
        return self.viewer(login or _NO_LOGIN, token)

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
