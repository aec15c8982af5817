"""Who may see what: the one place that decides it.

Every read of processes and data files (browse pages, counts, details, downloads, inputs shown
in a process's detail) adds :func:`visible` to its WHERE clause.

- ``admin``: everything.
- ``user``: public data files, data files shared with a workspace they belong to, processes in
  those workspaces, and their own processes.
- ``restricted``: only data files and processes of the workspaces they belong to; every browse
  must name such a workspace (:func:`check_browse_scope`).

Visibility follows data: the products of a process are visible exactly where all of its inputs
are (:func:`output_scope`), and a browse filter naming workspaces matches only the caller's own
(:func:`nameable_workspaces`), so that neither tells a caller about data they cannot see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from hcdc_server.exceptions import PermissionDeniedError
from hcdc_server.models.users import MemberRole, UserRole
from hcdc_server.schema import tables as t

Resource = Literal["process", "data"]


@dataclass(frozen=True)
class Viewer:
    """An authenticated caller with the workspaces they belong to (id -> name) and their
    member role in each (id -> role)."""

    user_id: int
    login: str
    role: UserRole
    workspaces: tuple[tuple[int, str], ...] = ()
    roles: tuple[tuple[int, MemberRole], ...] = ()

    @property
    def workspace_ids(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.workspaces)

    @property
    def workspace_names(self) -> frozenset[str]:
        return frozenset(name for _, name in self.workspaces)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def role_in(self, workspace_id: int | None) -> MemberRole | None:
        """The caller's member role in a workspace (``None``: not a member)."""
        return next((role for i, role in self.roles if i == workspace_id), None)


#: Anyone, unauthenticated: sees exactly the public data files and no process. The VO
#: publication and the public download routes read through it, so that "public" is this
#: module's rule everywhere.
PUBLIC = Viewer(user_id=-1, login="", role="user")


def visible(viewer: Viewer, resource: Resource) -> ColumnElement[bool]:
    """The predicate selecting the rows of ``resource`` that ``viewer`` may see."""
    if viewer.role == "admin":
        return true()
    ids = viewer.workspace_ids
    if resource == "process":
        process = t.Process.__table__.c
        in_workspace = process.workspace_id.in_(ids) if ids else false()
        if viewer.role == "restricted":
            return in_workspace
        return or_(_not_indexed(process.user_id) == viewer.user_id, in_workspace)
    data = t.DataFile.__table__.c
    shared = t.WorkspaceData.__table__.c
    in_workspace = (
        data.id.in_(select(shared.data_file_id).where(shared.workspace_id.in_(ids)))
        if ids
        else false()
    )
    if viewer.role == "restricted":
        return in_workspace
    return or_(data.is_public.is_(True), in_workspace)


def release_due(observed_before: datetime) -> ColumnElement[bool]:
    """Raw files not yet public whose proprietary period has ended: observed before
    ``observed_before`` (ESO's release date is the observation date plus the period)."""
    data = t.DataFile.__table__.c
    return and_(
        data.is_public.is_(False),
        data.is_raw.is_(True),
        data.date_obs.is_not(None),
        data.date_obs < observed_before,
    )


def release_public_workspaces() -> ColumnElement[bool]:
    """Raw files not yet public shared with a workspace an administrator made public."""
    data = t.DataFile.__table__.c
    in_public = (
        select(t.WorkspaceData.data_file_id)
        .join(t.Workspace, t.Workspace.id == t.WorkspaceData.workspace_id)
        .where(t.Workspace.public.is_(True))
    )
    return and_(data.is_public.is_(False), data.is_raw.is_(True), data.id.in_(in_public))


def load_viewer(session: Session, user_id: int) -> Viewer:
    """The :class:`Viewer` of a user, with their workspaces (for rules applied off a request)."""
    user = session.execute(
        select(t.User.id, t.User.login, t.User.role).where(t.User.id == user_id)
    ).one()
    rows = session.execute(
        select(t.Workspace.id, t.Workspace.name, t.WorkspaceMember.role)
        .join(t.WorkspaceMember, t.WorkspaceMember.workspace_id == t.Workspace.id)
        .where(t.WorkspaceMember.user_id == user_id)
        .order_by(t.Workspace.id)
    ).all()
    return Viewer(
        user_id=user.id,
        login=user.login,
        role=user.role,
        workspaces=tuple((row.id, row.name) for row in rows),
        roles=tuple((row.id, row.role) for row in rows),
    )


def nameable_workspaces(viewer: Viewer) -> ColumnElement[bool]:
    """The workspaces a browse filter of ``viewer`` may match: their own (admins: all).

    A filter naming another workspace (or a wildcard reaching one) matches nothing, so that
    browsing neither lists what another workspace holds nor enumerates workspace names.
    """
    if viewer.is_admin:
        return true()
    ids = viewer.workspace_ids
    return t.Workspace.__table__.c.id.in_(ids) if ids else false()


@dataclass(frozen=True)
class OutputScope:
    """Where the products of a process are visible."""

    #: The workspaces the products are shared with.
    workspace_ids: frozenset[int]
    #: Whether everybody sees them.
    public: bool


def output_scope(session: Session, process_id: int) -> OutputScope:
    """Where the products of a process are visible: exactly where all of its inputs are.

    The most restricted input decides. Products are public only when every input is public (a
    process without inputs: only when it has no workspace either). They are shared with the
    process's workspace; a process without one shares them with every workspace that holds all
    of its private inputs (none: only admins see them). Inputs are read as they are now, when
    the products are stored.
    """
    workspace_id = session.scalar(select(t.Process.workspace_id).where(t.Process.id == process_id))
    inputs = session.execute(
        select(t.DataFile.id, t.DataFile.is_public)
        .join(t.ProcessInput, t.ProcessInput.data_file_id == t.DataFile.id)
        .where(t.ProcessInput.process_id == process_id)
    ).all()
    private = {row.id for row in inputs if not row.is_public}
    public = not private and (bool(inputs) or workspace_id is None)
    if workspace_id is not None:
        return OutputScope(frozenset({workspace_id}), public)
    if not private:
        return OutputScope(frozenset(), public)
    holders: dict[int, set[int]] = {data_id: set() for data_id in private}
    for ws, data_id in session.execute(
        select(t.WorkspaceData.workspace_id, t.WorkspaceData.data_file_id).where(
            t.WorkspaceData.data_file_id.in_(private)
        )
    ):
        holders[data_id].add(ws)
    return OutputScope(frozenset(set.intersection(*holders.values())), public)


class _not_indexed(FunctionElement[int]):  # noqa: N801 - SQL function naming
    """A column SQLite must not drive a query by (``+column``); unchanged elsewhere.

    Without it SQLite answers ``owner = me OR workspace IN mine`` with a two-index OR scan and
    filters the request's own, more selective, WORKSPACE condition afterwards (4x slower at
    seed scale); PostgreSQL's planner weighs both on its statistics.
    """

    type = BigInteger()
    name = "not_indexed"
    inherit_cache = True


@compiles(_not_indexed)
def _not_indexed_default(element: _not_indexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_not_indexed, "sqlite")
def _not_indexed_sqlite(element: _not_indexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


def check_browse_scope(viewer: Viewer, workspace_values: Iterable[Any]) -> None:
    """A restricted user must name, in every browse, only workspaces they belong to (403 else).

    ``workspace_values`` are the raw values of the WORKSPACE-like filters of the request.
    """
    if viewer.role != "restricted":
        return
    named: list[Any] = []
    for value in workspace_values:
        named.extend(value if isinstance(value, list) else [value])
    if not named:
        raise PermissionDeniedError(
            "a restricted user must set WORKSPACE in browse_filters to one of their workspaces"
        )
    outside = [v for v in named if not isinstance(v, str) or v not in viewer.workspace_names]
    if outside:
        raise PermissionDeniedError(
            f"not a member of workspace {outside[0]!r}: a restricted user may only browse "
            f"their own workspaces ({', '.join(sorted(viewer.workspace_names)) or 'none'})"
        )


def may_manage_workspace(viewer: Viewer, owners: Iterable[int]) -> bool:
    """Admins and a workspace's owners manage its members."""
    return viewer.is_admin or viewer.user_id in set(owners)
