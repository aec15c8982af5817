"""Client workspaces: list, create, members and roles, permission errors."""

from __future__ import annotations

import uuid

import pytest

import hcdc_kernel as hk

pytestmark = pytest.mark.slow


def test_workspace_lifecycle_and_membership(dc, live_server):
    name = f"team-{uuid.uuid4().hex[:6]}"
    created = dc.create_workspace(name, description="a team")
    assert created.role_of(live_server.login) == "owner"
    assert name in [w.name for w in dc.workspaces()]
    with pytest.raises(hk.HcdcConflictError):
        dc.create_workspace(name)
    invited = dc.set_member(name, live_server.other_login, "editor")
    assert invited.role_of("colleague") is None
    assert invited.invited_role_of("colleague") == "editor"
    with hk.connect(live_server.url, live_server.other_token, progress=False) as other:
        assert name not in [w.name for w in other.workspaces()]
        waiting = other.invitations()
        assert [(i.workspace, i.role, i.invited_by) for i in waiting] == [
            (name, "editor", live_server.login)
        ]
        assert other.accept_invitation(name).role_of("colleague") == "editor"
        assert other.invitations() == []
        assert name in [w.name for w in other.workspaces()]
        with pytest.raises(hk.HcdcPermissionError) as denied:
            other.set_member(name, "demo", "viewer")
        assert denied.value.status == 403
    assert dc.workspace(name).role_of("colleague") == "editor"
    assert dc.remove_member(name, "colleague").role_of("colleague") is None
    with pytest.raises(hk.HcdcConflictError, match="last owner"):
        dc.remove_member(name, live_server.login)
    dc.invite(name, "colleague", "viewer")
    with hk.connect(live_server.url, live_server.other_token, progress=False) as other:
        other.decline_invitation(name)
        assert other.invitations() == []
        with pytest.raises(hk.HcdcNotFoundError):
            other.accept_invitation(name)
    with pytest.raises(hk.HcdcNotFoundError):
        dc.workspace("no-such-workspace")


def test_share_and_move(dc):
    name = f"share-{uuid.uuid4().hex[:6]}"
    dc.create_workspace(name)
    ids = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW")["id"][:1]]
    dc.share(ids, workspace=name)
    assert dc.count(workspace=name) == 1
