"""Frozen records the client returns for recipes, association previews and workspaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "AssociationPreview",
    "Member",
    "Recipe",
    "SlotPreview",
    "Workflow",
    "Workspace",
]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Recipe:
    """A recipe version as the service describes it.

    Attributes
    ----------
    params_schema : Mapping
        JSON Schema of the parameters (``properties`` with type, bounds, ``enum``, ``default``
        and ``description``).
    presets : Mapping
        Named parameter sets.
    inputs : tuple of Mapping
        Input slots (SOF tag, accepted frame types, counts).
    """

    id: int
    name: str
    version: str
    kind: str
    instrument: str | None
    description: str | None
    available: bool
    unavailable_reason: str | None
    needs_validation: bool
    is_current: bool
    is_hidden: bool
    params_schema: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    inputs: tuple[Mapping[str, Any], ...] = ()
    outputs: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Recipe:
        """From ``GET /api/recipes`` items."""
        return cls(
            id=int(body["id"]),
            name=str(body["name"]),
            version=str(body["version"]),
            kind=str(body.get("kind", "")),
            instrument=body.get("instrument"),
            description=body.get("description"),
            available=bool(body.get("available", True)),
            unavailable_reason=body.get("unavailable_reason"),
            needs_validation=bool(body.get("needs_validation", False)),
            is_current=bool(body.get("is_current", True)),
            is_hidden=bool(body.get("is_hidden", False)),
            params_schema=_frozen(body.get("params_schema")),
            presets=_frozen({k: _frozen(v) for k, v in (body.get("presets") or {}).items()}),
            inputs=tuple(_frozen(i) for i in body.get("inputs") or ()),
            outputs=tuple(_frozen(o) for o in body.get("outputs") or ()),
        )

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        """Parameter name -> its JSON Schema."""
        properties: Mapping[str, Mapping[str, Any]] = self.params_schema.get("properties", {})
        return properties

    def defaults(self, preset: str | None = None) -> dict[str, Any]:
        """Default parameter values, overlaid with ``preset``'s."""
        values = {k: s["default"] for k, s in self.parameters.items() if "default" in s}
        if preset is not None:
            values.update(self.presets[preset])
        return values


@dataclass(frozen=True)
class Workflow:
    """A workflow (a DAG of recipe steps)."""

    id: int
    name: str
    version: str
    is_current: bool
    spec: Mapping[str, Any]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Workflow:
        return cls(
            id=int(body["id"]),
            name=str(body["name"]),
            version=str(body["version"]),
            is_current=bool(body.get("is_current", True)),
            spec=_frozen(body.get("spec")),
        )


@dataclass(frozen=True)
class SlotPreview:
    """The files one input slot would get, with the association level and reason."""

    tag: str
    data_file_ids: tuple[int, ...]
    level: int | None
    reason: str
    required: bool
    overridden: bool


@dataclass(frozen=True)
class AssociationPreview:
    """The inputs one process would get from a selection (``POST /api/associate``)."""

    recipe: str
    version: str
    primary_tag: str | None
    primary_ids: tuple[int, ...]
    slots: tuple[SlotPreview, ...]
    complete: bool
    missing: tuple[str, ...]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AssociationPreview:
        return cls(
            recipe=str(body["recipe"]),
            version=str(body["version"]),
            primary_tag=body.get("primary_tag"),
            primary_ids=tuple(int(i) for i in body.get("primary_ids", ())),
            slots=tuple(
                SlotPreview(
                    tag=str(s["tag"]),
                    data_file_ids=tuple(int(i) for i in s.get("data_file_ids", ())),
                    level=s.get("level"),
                    reason=str(s.get("reason", "")),
                    required=bool(s.get("required", False)),
                    overridden=bool(s.get("overridden", False)),
                )
                for s in body.get("slots", ())
            ),
            complete=bool(body.get("complete", False)),
            missing=tuple(str(m) for m in body.get("missing", ())),
        )


@dataclass(frozen=True)
class Member:
    """A workspace member and their role (``owner``, ``editor`` or ``viewer``)."""

    login: str
    role: str


@dataclass(frozen=True)
class Workspace:
    """A workspace, its members, and the users invited who have not accepted yet."""

    id: int
    name: str
    description: str | None
    group_name: str | None
    members: tuple[Member, ...]
    invited: tuple[Member, ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Workspace:
        return cls(
            id=int(body["id"]),
            name=str(body["name"]),
            description=body.get("description"),
            group_name=body.get("group_name"),
            members=tuple(
                Member(login=str(m["login"]), role=str(m["role"])) for m in body.get("members", ())
            ),
            invited=tuple(
                Member(login=str(m["login"]), role=str(m["role"])) for m in body.get("invited", ())
            ),
        )

    def role_of(self, login: str) -> str | None:
        """The role of ``login`` here, or ``None`` when not a member."""
        return next((m.role for m in self.members if m.login == login), None)

    def invited_role_of(self, login: str) -> str | None:
        """The role ``login`` is invited with, or ``None`` when not invited."""
        return next((m.role for m in self.invited if m.login == login), None)


@dataclass(frozen=True)
class Invitation:
    """An invitation to a workspace waiting for you: accept or decline it."""

    workspace: str
    role: str
    invited_by: str | None
    invited_at: str

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Invitation:
        return cls(
            workspace=str(body["workspace"]),
            role=str(body["role"]),
            invited_by=body.get("invited_by"),
            invited_at=str(body.get("invited_at", "")),
        )
