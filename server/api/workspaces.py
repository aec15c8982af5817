"""Workspaces, their membership and shared data, invitations, and the caller (``/api/me``).

Owners invite (``PUT .../members/{login}``); the invitee accepts or declines
(``/api/invitations``); only then are they a member.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.api import DataShare, MemberUpdate, WorkspaceCreate
from hcdc_server.models.catalog import Me
from hcdc_server.models.users import InvitationModel, WorkspaceModel

router = APIRouter(prefix="/api", tags=["workspaces"])
_WRITE_ERRORS = {**ERROR_RESPONSES, 409: ERROR_RESPONSES[400] | {"description": "Name taken"}}
_MEMBER_ERRORS = {
    **ERROR_RESPONSES,
    409: ERROR_RESPONSES[400] | {"description": "The last owner cannot leave or be demoted"},
}


@router.get("/me", summary="The caller and their workspaces", responses=ERROR_RESPONSES)
def me(caller: HeaderCaller, factory: FactoryDep) -> Me:
    return factory.workspace_access().me(caller.viewer)


@router.get("/workspaces", summary="Workspaces the caller belongs to", responses=ERROR_RESPONSES)
def list_workspaces(caller: HeaderCaller, factory: FactoryDep) -> list[WorkspaceModel]:
    """Every workspace for admins."""
    return factory.workspace_access().list_visible(caller.viewer)


@router.post("/workspaces", status_code=201, summary="Create a workspace", responses=_WRITE_ERRORS)
def create_workspace(
    body: WorkspaceCreate, caller: HeaderCaller, factory: FactoryDep
) -> WorkspaceModel:
    """The caller becomes its owner (restricted users may not create workspaces)."""
    return factory.workspace_access().create(
        caller.viewer, body.name, description=body.description, group_name=body.group_name
    )


@router.get("/workspaces/{name}", summary="One workspace", responses=ERROR_RESPONSES)
def get_workspace(name: str, caller: HeaderCaller, factory: FactoryDep) -> WorkspaceModel:
    return factory.workspace_access().get(caller.viewer, name)


@router.post(
    "/workspaces/{name}/public",
    summary="Make a workspace public (administrators)",
    responses=ERROR_RESPONSES,
)
def make_public(name: str, caller: HeaderCaller, factory: FactoryDep) -> WorkspaceModel:
    """Its raw files become public now, those shared with it later at the next release
    (``hcdc vo publish``), and appear in the VO at the next publication. Cannot be undone."""
    return factory.workspace_access().make_public(caller.viewer, name)


@router.put(
    "/workspaces/{name}/members/{login}",
    summary="Invite a user, or change a member's role",
    responses=_MEMBER_ERRORS,
)
def set_member(
    name: str, login: str, body: MemberUpdate, caller: HeaderCaller, factory: FactoryDep
) -> WorkspaceModel:
    """Owners and admins only. A non-member is invited (listed under ``invited``) and becomes a
    member when they accept; a member's role changes at once."""
    return factory.workspace_access().set_member(caller.viewer, name, login, body.role)


@router.delete(
    "/workspaces/{name}/members/{login}",
    summary="Remove a member or withdraw an invitation",
    responses=_MEMBER_ERRORS,
)
def remove_member(
    name: str, login: str, caller: HeaderCaller, factory: FactoryDep
) -> WorkspaceModel:
    """Owners and admins, or a member leaving; never the last owner."""
    return factory.workspace_access().remove_member(caller.viewer, name, login)


@router.get("/invitations", summary="Invitations waiting for the caller", responses=ERROR_RESPONSES)
def list_invitations(caller: HeaderCaller, factory: FactoryDep) -> list[InvitationModel]:
    return factory.workspace_access().invitations(caller.viewer)


@router.post(
    "/invitations/{workspace}/accept",
    summary="Accept an invitation and join the workspace",
    responses=ERROR_RESPONSES,
)
def accept_invitation(workspace: str, caller: HeaderCaller, factory: FactoryDep) -> WorkspaceModel:
    """The caller becomes a member with the role they were invited with."""
    return factory.workspace_access().accept(caller.viewer, workspace)


@router.delete(
    "/invitations/{workspace}",
    status_code=204,
    summary="Decline an invitation",
    responses=ERROR_RESPONSES,
)
def decline_invitation(workspace: str, caller: HeaderCaller, factory: FactoryDep) -> Response:
    factory.workspace_access().decline(caller.viewer, workspace)
    return Response(status_code=204)


@router.post(
    "/workspaces/{name}/data",
    summary="Share data files with a workspace",
    responses=ERROR_RESPONSES,
)
def share_data(
    name: str, body: DataShare, caller: HeaderCaller, factory: FactoryDep
) -> WorkspaceModel:
    """Editors, owners and admins; every file must be visible to the caller."""
    return factory.workspace_access().share(caller.viewer, name, body.data_ids)


@router.delete(
    "/workspaces/{name}/data",
    summary="Remove data files from a workspace",
    responses=ERROR_RESPONSES,
)
def unshare_data(
    name: str, body: DataShare, caller: HeaderCaller, factory: FactoryDep
) -> WorkspaceModel:
    """Editors, owners and admins; the files themselves stay."""
    return factory.workspace_access().unshare(caller.viewer, name, body.data_ids)
