"""Workspaces and their members."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from hcdc_server.exceptions import ConflictError, NotFoundError
from hcdc_server.models.users import MemberModel, MemberRole, WorkspaceModel
from hcdc_server.schema.tables import User, Workspace, WorkspaceData, WorkspaceMember
from hcdc_server.services.users import utcnow


class WorkspaceService:
    """Create workspaces and manage membership."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add_workspace(
        self,
        name: str,
        *,
        description: str | None = None,
        group_name: str | None = None,
        owner_login: str | None = None,
    ) -> WorkspaceModel:
        """Create a workspace, optionally with its first owner."""
        if not name or len(name) > 128 or "/" in name:
            raise ConflictError(f"invalid workspace name {name!r}")
        with self._sessions.begin() as session:
            if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
                raise ConflictError(f"workspace {name!r} already exists")
            workspace = Workspace(
                name=name, description=description, group_name=group_name, created_at=utcnow()
            )
            session.add(workspace)
            session.flush()
            if owner_login:
                owner = _user(session, owner_login)
                workspace.created_by = owner.id
                session.add(
                    WorkspaceMember(
                        workspace_id=workspace.id, user_id=owner.id, role="owner", added_at=utcnow()
                    )
                )
            session.flush()
            return _model(session, workspace.id)

    def set_member(self, workspace: str, login: str, role: MemberRole) -> WorkspaceModel:
        """Add a member or change their role."""
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace)
            user = _user(session, login)
            member = session.get(WorkspaceMember, (ws.id, user.id))
            if member is None:
                session.add(
                    WorkspaceMember(
                        workspace_id=ws.id, user_id=user.id, role=role, added_at=utcnow()
                    )
                )
            else:
                member.role = role
            session.flush()
            return _model(session, ws.id)

    def remove_member(self, workspace: str, login: str) -> WorkspaceModel:
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace)
            user = _user(session, login)
            member = session.get(WorkspaceMember, (ws.id, user.id))
            if member is None:
                raise NotFoundError(f"{login!r} is not a member of workspace {workspace!r}")
            session.delete(member)
            session.flush()
            return _model(session, ws.id)

    def share_data(self, workspace: str, data_ids: Sequence[int]) -> WorkspaceModel:
        """Share existing data files with a workspace (those already shared stay as they are)."""
        try:
            return self._share_data(workspace, data_ids)
        except IntegrityError:
            # A concurrent share added some of the same rows first: what is left is less.
            return self._share_data(workspace, data_ids)

    def _share_data(self, workspace: str, data_ids: Sequence[int]) -> WorkspaceModel:
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace)
            wanted = set(data_ids)
            shared = set(
                session.scalars(
                    select(WorkspaceData.data_file_id).where(
                        WorkspaceData.workspace_id == ws.id,
                        WorkspaceData.data_file_id.in_(wanted),
                    )
                )
            )
            session.add_all(
                WorkspaceData(workspace_id=ws.id, data_file_id=i) for i in sorted(wanted - shared)
            )
            session.flush()
            return _model(session, ws.id)

    def unshare_data(self, workspace: str, data_ids: Sequence[int]) -> WorkspaceModel:
        """Remove data files from a workspace (the files stay; unshared ones are ignored)."""
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace)
            session.execute(
                delete(WorkspaceData).where(
                    WorkspaceData.workspace_id == ws.id,
                    WorkspaceData.data_file_id.in_(set(data_ids)),
                )
            )
            return _model(session, ws.id)

    def get(self, name: str) -> WorkspaceModel:
        with self._sessions() as session:
            return _model(session, _workspace(session, name).id)

    def list_all(self) -> list[WorkspaceModel]:
        with self._sessions() as session:
            ids = session.scalars(select(Workspace.id).order_by(Workspace.name)).all()
            return [_model(session, i) for i in ids]


def _user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFoundError(f"no user {login!r}")
    return user


def _workspace(session: Session, name: str) -> Workspace:
    ws = session.scalar(select(Workspace).where(Workspace.name == name))
    if ws is None:
        raise NotFoundError(f"no workspace {name!r}")
    return ws


def _model(session: Session, workspace_id: int) -> WorkspaceModel:
    ws = session.scalar(
        select(Workspace)
        .where(Workspace.id == workspace_id)
        .options(selectinload(Workspace.members))
    )
    assert ws is not None
    user_ids = [m.user_id for m in ws.members]
    rows = session.execute(select(User.id, User.login).where(User.id.in_(user_ids))).all()
    logins: dict[int, str] = {row.id: row.login for row in rows}
    members = tuple(
        MemberModel(user_id=m.user_id, login=logins[m.user_id], role=m.role)
        for m in sorted(ws.members, key=lambda m: logins[m.user_id])
    )
    return WorkspaceModel(
        id=ws.id,
        name=ws.name,
        description=ws.description,
        group_name=ws.group_name,
        members=members,
    )
