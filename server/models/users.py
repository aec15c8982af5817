"""Pydantic models of users, tokens and workspaces (API and service results)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hcdc_server.models.fields import UtcDatetime

UserRole = Literal["admin", "user", "restricted"]
MemberRole = Literal["owner", "editor", "viewer"]


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
    members: tuple[MemberModel, ...] = ()
