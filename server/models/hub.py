"""Pydantic models of the JupyterHub integration: identities and user-server grants."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hcdc_server.models.users import MemberRole


class HubLogin(BaseModel):
    """Credentials typed into the hub's login form: an hcdc login and one of its tokens."""

    login: str
    token: str


class HubIdentity(BaseModel):
    """Who a hub user is in hcdc."""

    model_config = ConfigDict(frozen=True)

    login: str
    admin: bool = Field(description="hcdc administrators are hub administrators too.")
    full_name: str | None = None


class WorkspaceGrant(BaseModel):
    """A workspace as it appears in a user's home: its shared folder and the user's role."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: MemberRole
    path: str = Field(description="Absolute path of the workspace's shared folder.")

    @property
    def writable(self) -> bool:
        """Viewers read; owners and editors write."""
        return self.role != "viewer"


class ServerGrant(BaseModel):
    """What a user server is started with: a fresh token for the service and the workspaces."""

    model_config = ConfigDict(frozen=True)

    login: str
    token: str = Field(description="An hcdc token for the user's server (shown once).")
    workspaces: tuple[WorkspaceGrant, ...] = ()
