"""hcdc accounts seen from JupyterHub: log-in checks, user-server tokens and workspace folders.

Hub users and hcdc users are the same people: the hub asks this service who a login is, and
every user server gets its own hcdc token (revoked when the server stops or is started again),
so that ``hcdc_kernel.connect()`` needs no arguments inside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.hub import HubIdentity, ServerGrant, WorkspaceGrant
from hcdc_server.models.users import is_workspace_name
from hcdc_server.services.users import UserService
from hcdc_server.services.workspaces import WorkspaceService

if TYPE_CHECKING:
    from hcdc_server.factory import Factory

#: Name of the tokens given to user servers (one live token per user).
SERVER_TOKEN_NAME = "jupyterhub-server"  # noqa: S105 (a label, not a secret)
#: Name of the tokens behind browser sessions of the service (cookie through the hub's OAuth).
SESSION_TOKEN_NAME = "hub-session"  # noqa: S105 (a label, not a secret)


class HubAccountService:
    """Identify hub users and equip their servers."""

    def __init__(
        self,
        users: UserService,
        workspaces: WorkspaceService,
        *,
        workspaces_dir: Path,
        create_users: bool = False,
        server_token_days: int = 30,
    ) -> None:
        self._users = users
        self._workspaces = workspaces
        self._workspaces_dir = workspaces_dir
        self._create_users = create_users
        self._server_token_days = server_token_days

    @classmethod
    def from_factory(cls, factory: Factory) -> HubAccountService:
        """The service configured by the factory's settings."""
        settings = factory.settings
        return cls(
            factory.users(),
            factory.workspaces(),
            workspaces_dir=settings.workspaces_dir,
            create_users=settings.hub_create_users,
        )

    def identify(self, login: str, token: str) -> HubIdentity:
        """The hcdc user whose token this is; raises ``AuthenticationError`` otherwise."""
        user = self._users.authenticate(login, token)
        return HubIdentity(login=user.login, admin=user.role == "admin", full_name=user.full_name)

    def grant_server(self, login: str) -> ServerGrant:
        """A new server token for ``login`` (older ones revoked) and their workspace folders.

        A hub user unknown to hcdc is created with the ``user`` role when ``create_users`` is
        set (sites whose authenticator is not hcdc's); otherwise it is ``NotFoundError``.
        """
        try:
            self._users.get_user(login)
        except NotFoundError:
            if not self._create_users:
                raise
            self._users.add_user(login, role="user")
        self.release_server(login)
        token = self._users.create_token(
            login, name=SERVER_TOKEN_NAME, days=self._server_token_days
        )
        return ServerGrant(login=login, token=token.token, workspaces=self.workspaces_of(login))

    def release_server(self, login: str) -> int:
        """Revoke the live server tokens of ``login``; returns how many were revoked."""
        revoked = 0
        for token in self._users.list_tokens(login):
            if token.name == SERVER_TOKEN_NAME and token.revoked_at is None:
                self._users.revoke_token(token.key)
                revoked += 1
        return revoked

    def release_all(self) -> int:
        """Revoke every live server token (no user server runs while the hub is down)."""
        return sum(self.release_server(user.login) for user in self._users.list_users())

    def open_session(self, login: str) -> str:
        """A one-day token behind a browser session of the service."""
        return self._users.create_token(login, name=SESSION_TOKEN_NAME, days=1).token

    def workspaces_of(self, login: str) -> tuple[WorkspaceGrant, ...]:
        """The workspaces ``login`` belongs to, with their shared folders (created if needed)."""
        grants = []
        for workspace in self._workspaces.list_all():
            role = next((m.role for m in workspace.members if m.login == login), None)
            if role is None or not is_workspace_name(workspace.name):
                continue  # a name from before the rule (".ipython", "..") gets no folder
            folder = (self._workspaces_dir / workspace.name).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            grants.append(WorkspaceGrant(name=workspace.name, role=role, path=str(folder)))
        return tuple(grants)
