"""Workspaces through the API: who may list, create and manage membership."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.exceptions import NotFoundError, PermissionDeniedError
from hcdc_server.models.catalog import Me, MyWorkspace
from hcdc_server.models.users import InvitationModel, MemberRole, UserModel, WorkspaceModel
from hcdc_server.services import permissions
from hcdc_server.services.users import UserService
from hcdc_server.services.visibility import Viewer, may_manage_workspace
from hcdc_server.services.workspaces import WorkspaceService

log = logging.getLogger(__name__)


class WorkspaceAccessService:
    """Workspace operations checked against the caller's role and memberships."""

    def __init__(
        self, workspaces: WorkspaceService, users: UserService, sessions: sessionmaker[Session]
    ) -> None:
        self._workspaces = workspaces
        self._users = users
        self._sessions = sessions

    def me(self, viewer: Viewer) -> Me:
        """The caller and their workspaces with their role in each."""
        user: UserModel = self._users.get_user(viewer.login)
        mine = []
        for workspace in self._workspaces.list_all():
            for member in workspace.members:
                if member.user_id == viewer.user_id:
                    mine.append(MyWorkspace(id=workspace.id, name=workspace.name, role=member.role))
        return Me(
            user=user, workspaces=mine, invitations=self._workspaces.invitations_of(viewer.login)
        )

    def list_visible(self, viewer: Viewer) -> list[WorkspaceModel]:
        """Every workspace for admins; the caller's own for others."""
        return [
            ws
            for ws in self._workspaces.list_all()
            if viewer.is_admin or ws.id in viewer.workspace_ids
        ]

    def get(self, viewer: Viewer, name: str) -> WorkspaceModel:
        """A workspace the caller belongs to (or any, for admins); 404 otherwise."""
        workspace = self._workspaces.get(name)
        if not (viewer.is_admin or workspace.id in viewer.workspace_ids):
            raise NotFoundError(f"no workspace {name!r}")
        return workspace

    def create(
        self,
        viewer: Viewer,
        name: str,
        *,
        description: str | None = None,
        group_name: str | None = None,
    ) -> WorkspaceModel:
        """A new workspace owned by the caller; restricted users may not create one."""
        if viewer.role == "restricted":
            raise PermissionDeniedError("restricted users cannot create workspaces")
        return self._workspaces.add_workspace(
            name, description=description, group_name=group_name, owner_login=viewer.login
        )

    def make_public(self, viewer: Viewer, name: str) -> WorkspaceModel:
        """Release a workspace's raw files to everyone: administrators only (a data-center
        decision, which cannot be undone)."""
        if not viewer.is_admin:
            raise PermissionDeniedError("only administrators make a workspace public")
        workspace, released = self._workspaces.make_public(name)
        log.info("workspace %r made public by %s: %d raw files", name, viewer.login, released)
        return workspace

    def set_member(self, viewer: Viewer, name: str, login: str, role: MemberRole) -> WorkspaceModel:
        """Invite ``login`` with ``role``, or change a member's role: owners and admins only.

        Nobody becomes a member without accepting: see :meth:`accept`.
        """
        self._check_manager(viewer, name)
        return self._workspaces.invite(name, login, role, invited_by=viewer.login)

    def remove_member(self, viewer: Viewer, name: str, login: str) -> WorkspaceModel:
        """Remove a member or withdraw an invitation: owners and admins, or members leaving."""
        if login != viewer.login:
            self._check_manager(viewer, name)
        else:
            self.get(viewer, name)
        return self._workspaces.remove_member(name, login)

    def invitations(self, viewer: Viewer) -> list[InvitationModel]:
        """The invitations waiting for the caller."""
        return self._workspaces.invitations_of(viewer.login)

    def accept(self, viewer: Viewer, name: str) -> WorkspaceModel:
        """The caller accepts their invitation to ``name`` and becomes a member."""
        return self._workspaces.accept(name, viewer.login)

    def decline(self, viewer: Viewer, name: str) -> None:
        """The caller declines their invitation to ``name``."""
        self._workspaces.decline(name, viewer.login)

    def share(self, viewer: Viewer, name: str, data_ids: Sequence[int]) -> WorkspaceModel:
        """Share data files the caller sees with a workspace they edit (or any, for admins)."""
        self._check_data_change(viewer, name, data_ids, "sharing data with")
        return self._workspaces.share_data(name, data_ids)

    def unshare(self, viewer: Viewer, name: str, data_ids: Sequence[int]) -> WorkspaceModel:
        """Remove data files from a workspace the caller edits (or any, for admins)."""
        self._check_data_change(viewer, name, data_ids, "removing data from")
        return self._workspaces.unshare_data(name, data_ids)

    def _check_data_change(
        self, viewer: Viewer, name: str, data_ids: Sequence[int], action: str
    ) -> None:
        with self._sessions() as session:
            found = permissions.workspace_id(session, name)
            permissions.check_workspace_write(viewer, found, name, action)
            permissions.check_data_visible(session, viewer, data_ids)

    def _check_manager(self, viewer: Viewer, name: str) -> None:
        workspace = self.get(viewer, name)
        owners = [m.user_id for m in workspace.members if m.role == "owner"]
        if not may_manage_workspace(viewer, owners):
            raise PermissionDeniedError(f"only owners of {name!r} and admins manage its members")
