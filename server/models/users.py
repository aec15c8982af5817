"""Pydantic models of users, tokens and workspaces (API and service results)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hcdc_server.models.fields import UtcDatetime

UserRole = Literal["admin", "user", "restricted"]
MemberRole = Literal["owner", "editor", "viewer"]

#: Workspace names: they become folder names in every member's home, so never ``.``, ``..``, a
#: hidden folder (``.ipython``), a path, an option (``-rf``) or a separator (``:``, newline).
WORKSPACE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
WORKSPACE_NAME_RULE = (
    "1 to 64 characters among letters A-Z a-z, digits, '_' and '-', starting with a letter or digit"
)
_WORKSPACE_NAME = re.compile(WORKSPACE_NAME_PATTERN)


def is_workspace_name(name: str) -> bool:
    """Whether ``name`` follows :data:`WORKSPACE_NAME_RULE` (the one check of that rule)."""
    return _WORKSPACE_NAME.fullmatch(name) is not None


class UserModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    login: str
    email: str | None
    full_name: str | None = None
    role: UserRole
    is_active: bool = True


class TokenModel(BaseModel):
    """A token's metadata; the secret is never part of it."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    user_id: int
    name: str | None
    key: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class NewToken(BaseModel):
    """A freshly created token: ``token`` is shown once and never stored."""

    model_config = ConfigDict(frozen=True)

    token: str
    info: TokenModel


class MemberModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    user_id: int
    login: str
    role: MemberRole


class WorkspaceModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    name: str
    description: str | None
    group_name: str | None
    public: bool = Field(
        default=False,
        description="Released by an administrator: its raw files are public (and in the VO).",
    )
    members: tuple[MemberModel, ...] = ()
    invited: tuple[MemberModel, ...] = Field(
        default=(),
        description="Users invited with the role they will have; members once they accept.",
    )


class InvitationModel(BaseModel):
    """An invitation to a workspace, waiting for the invitee to accept or decline it."""

    model_config = ConfigDict(frozen=True)

    workspace_id: int
    workspace: str
    role: MemberRole
    invited_by: str | None = Field(description="Login of who invited (none if since deleted).")
    invited_at: UtcDatetime
