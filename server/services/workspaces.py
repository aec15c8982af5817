"""Workspaces, their members and the invitations that make members."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.users import (
    WORKSPACE_NAME_RULE,
    InvitationModel,
    MemberModel,
    MemberRole,
    WorkspaceModel,
    is_workspace_name,
)
from hcdc_server.schema.tables import (
    DataFile,
    User,
    Workspace,
    WorkspaceData,
    WorkspaceInvitation,
    WorkspaceMember,
)
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import release_public_workspaces

log = logging.getLogger(__name__)


def check_workspace_name(name: str) -> str:
    """``name`` if it is a valid workspace name; ``InvalidInputError`` naming the rule if not."""
    if not is_workspace_name(name):
        raise InvalidInputError(f"invalid workspace name {name!r}: {WORKSPACE_NAME_RULE}")
    return name


class WorkspaceService:
    """Create workspaces and manage membership.

    Parameters
    ----------
    sessions
        Database sessions.
    folders
        Where each workspace's shared folder is made when the workspace is created (so that it
        appears in its members' homes without waiting for a server start).
    """

    def __init__(self, sessions: sessionmaker[Session], *, folders: Path | None = None) -> None:
        self._sessions = sessions
        self._folders = folders

    def add_workspace(
        self,
        name: str,
        *,
        description: str | None = None,
        group_name: str | None = None,
        owner_login: str | None = None,
    ) -> WorkspaceModel:
        """Create a workspace, optionally with its first owner."""
        check_workspace_name(name)
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
            created = _model(session, workspace.id)
        if self._folders is not None:
            try:
                (self._folders / name).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # made again at the next server start of a member
                log.warning("folder of workspace %r not made: %s", name, exc)
        return created

    def set_member(self, workspace: str, login: str, role: MemberRole) -> WorkspaceModel:
        """Add a member at once or change their role (operators; users invite instead).

        A pending invitation of ``login`` is dropped: they are a member now.
        """
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace, lock=True)
            user = _user(session, login)
            member = session.get(WorkspaceMember, (ws.id, user.id))
            if member is None:
                session.add(
                    WorkspaceMember(
                        workspace_id=ws.id, user_id=user.id, role=role, added_at=utcnow()
                    )
                )
                _drop_invitation(session, ws.id, user.id)
            else:
                _change_role(session, ws, member, login, role)
            session.flush()
            return _model(session, ws.id)

    def invite(
        self, workspace: str, login: str, role: MemberRole, *, invited_by: str | None = None
    ) -> WorkspaceModel:
        """Invite ``login`` with ``role``; a member's role changes at once instead.

        Inviting someone already invited replaces the role they are offered.
        """
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace, lock=True)
            user = _user(session, login)
            member = session.get(WorkspaceMember, (ws.id, user.id))
            if member is not None:
                _change_role(session, ws, member, login, role)
            else:
                inviter = _user(session, invited_by).id if invited_by else None
                invitation = session.get(WorkspaceInvitation, (ws.id, user.id))
                if invitation is None:
                    session.add(
                        WorkspaceInvitation(
                            workspace_id=ws.id,
                            user_id=user.id,
                            role=role,
                            invited_by=inviter,
                            invited_at=utcnow(),
                        )
                    )
                else:
                    invitation.role = role
                    invitation.invited_by = inviter
                    invitation.invited_at = utcnow()
            session.flush()
            return _model(session, ws.id)

    def invitations_of(self, login: str) -> list[InvitationModel]:
        """The invitations waiting for ``login``, by workspace name."""
        with self._sessions() as session:
            user = _user(session, login)
            inviter = User.__table__.alias("inviter")
            rows = session.execute(
                select(
                    WorkspaceInvitation.workspace_id,
                    Workspace.name,
                    WorkspaceInvitation.role,
                    inviter.c.login,
                    WorkspaceInvitation.invited_at,
                )
                .join(Workspace, Workspace.id == WorkspaceInvitation.workspace_id)
                .outerjoin(inviter, inviter.c.id == WorkspaceInvitation.invited_by)
                .where(WorkspaceInvitation.user_id == user.id)
                .order_by(Workspace.name)
            ).all()
            return [
                InvitationModel(
                    workspace_id=row[0],
                    workspace=row[1],
                    role=row[2],
                    invited_by=row[3],
                    invited_at=row[4],
                )
                for row in rows
            ]

    def accept(self, workspace: str, login: str) -> WorkspaceModel:
        """``login`` accepts their invitation: they become a member with the role offered."""
        with self._sessions.begin() as session:
            ws, user, invitation = _invitation(session, workspace, login)
            if session.get(WorkspaceMember, (ws.id, user.id)) is None:
                session.add(
                    WorkspaceMember(
                        workspace_id=ws.id,
                        user_id=user.id,
                        role=invitation.role,
                        added_at=utcnow(),
                    )
                )
            session.delete(invitation)
            session.flush()
            return _model(session, ws.id)

    def decline(self, workspace: str, login: str) -> None:
        """``login`` declines their invitation to ``workspace``."""
        with self._sessions.begin() as session:
            _, _, invitation = _invitation(session, workspace, login)
            session.delete(invitation)

    def remove_member(self, workspace: str, login: str) -> WorkspaceModel:
        """Remove a member (never the last owner), or withdraw the invitation of a non-member."""
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace, lock=True)
            user = _user(session, login)
            member = session.get(WorkspaceMember, (ws.id, user.id))
            if member is not None:
                if member.role == "owner" and _owners(session, ws.id) == 1:
                    raise ConflictError(_last_owner(login, workspace, "leave or be removed"))
                session.delete(member)
            elif not _drop_invitation(session, ws.id, user.id):
                raise NotFoundError(f"{login!r} is not a member of workspace {workspace!r}")
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

    def make_public(self, workspace: str) -> tuple[WorkspaceModel, int]:
        """Mark ``workspace`` public and release its raw files to everyone now (those shared
        later are released by the next :meth:`release_public`); returns the workspace and
        how many files were released. Releasing cannot be undone: once public, data may have
        been copied anywhere."""
        with self._sessions.begin() as session:
            ws = _workspace(session, workspace, lock=True)
            ws.public = True
            session.flush()
            released = _release(session)
            return _model(session, ws.id), released

    def release_public(self) -> int:
        """Release the raw files shared with public workspaces since they were made public."""
        with self._sessions.begin() as session:
            return _release(session)

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


def _workspace(session: Session, name: str, *, lock: bool = False) -> Workspace:
    """The workspace ``name``; with ``lock``, its row is locked until the transaction ends
    (PostgreSQL), so that membership changes of one workspace do not interleave."""
    query = select(Workspace).where(Workspace.name == name)
    ws = session.scalar(query.with_for_update() if lock else query)
    if ws is None:
        raise NotFoundError(f"no workspace {name!r}")
    return ws


def _owners(session: Session, workspace_id: int) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "owner")
    )
    return int(count or 0)


def _last_owner(login: str, workspace: str, what: str) -> str:
    return (
        f"{login!r} is the last owner of workspace {workspace!r} and cannot {what}: "
        "make another member owner first"
    )


def _change_role(
    session: Session, ws: Workspace, member: WorkspaceMember, login: str, role: MemberRole
) -> None:
    """Give a member ``role``; the last owner keeps theirs."""
    if member.role == "owner" and role != "owner" and _owners(session, ws.id) == 1:
        raise ConflictError(_last_owner(login, ws.name, f"become {role}"))
    member.role = role


def _drop_invitation(session: Session, workspace_id: int, user_id: int) -> bool:
    invitation = session.get(WorkspaceInvitation, (workspace_id, user_id))
    if invitation is None:
        return False
    session.delete(invitation)
    return True


def _invitation(
    session: Session, workspace: str, login: str
) -> tuple[Workspace, User, WorkspaceInvitation]:
    """The invitation of ``login`` to ``workspace``; one 404 whether the workspace exists or not."""
    user = _user(session, login)
    ws = session.scalar(select(Workspace).where(Workspace.name == workspace))
    invitation = session.get(WorkspaceInvitation, (ws.id, user.id)) if ws is not None else None
    if ws is None or invitation is None:
        raise NotFoundError(f"no invitation to workspace {workspace!r} for {login!r}")
    return ws, user, invitation


def _release(session: Session) -> int:
    result = session.execute(
        update(DataFile).where(release_public_workspaces()).values(is_public=True)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _model(session: Session, workspace_id: int) -> WorkspaceModel:
    ws = session.scalar(
        select(Workspace)
        .where(Workspace.id == workspace_id)
        .options(selectinload(Workspace.members))
    )
    assert ws is not None
    invitations = session.scalars(
        select(WorkspaceInvitation).where(WorkspaceInvitation.workspace_id == workspace_id)
    ).all()
    user_ids = {m.user_id for m in ws.members} | {i.user_id for i in invitations}
    rows = session.execute(select(User.id, User.login).where(User.id.in_(user_ids))).all()
    logins: dict[int, str] = {row.id: row.login for row in rows}
    members = tuple(
        MemberModel(user_id=m.user_id, login=logins[m.user_id], role=m.role)
        for m in sorted(ws.members, key=lambda m: logins[m.user_id])
    )
    invited = tuple(
        MemberModel(user_id=i.user_id, login=logins[i.user_id], role=i.role)
        for i in sorted(invitations, key=lambda i: logins[i.user_id])
    )
    return WorkspaceModel(
        id=ws.id,
        name=ws.name,
        description=ws.description,
        group_name=ws.group_name,
        public=ws.public,
        members=members,
        invited=invited,
    )
