"""WorkspaceManager: list and create workspaces, invite members and set roles, answer
invitations, share products."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w
import traitlets

from hcdc_kernel.client import HcdcClient, Invitation, Workspace, connect
from hcdc_widgets.markup import format_html, table
from hcdc_widgets.status import StatusLine

__all__ = ["ROLES", "WorkspaceManager"]

ROLES = ("owner", "editor", "viewer")


class WorkspaceManager(w.VBox):
    """Workspaces you belong to, their members, invitations, and sharing data files with them.

    Adding a member invites them: they join when they accept (here, under *Invitations*, or with
    ``dc.accept_invitation``).

    Attributes (traitlets)
    ----------------------
    workspace : str
        The workspace shown.
    names : list of str
        Every workspace listed.
    invitations : list of str
        Workspaces you are invited to.
    """

    workspace = traitlets.Unicode("")
    names = traitlets.List(traitlets.Unicode())
    invitations = traitlets.List(traitlets.Unicode())

    def __init__(self, client: HcdcClient | None = None) -> None:
        self.client = client or connect()
        self.status = StatusLine()
        self.current: Workspace | None = None
        self._list = w.Select(description="Workspaces", rows=6)
        self._members = w.HTML()
        self._new_name = w.Text(description="New", placeholder="workspace name")
        self._new_description = w.Text(placeholder="description")
        self._create = w.Button(description="Create", icon="plus")
        self._login = w.Text(description="Member", placeholder="login")
        self._role = w.Dropdown(options=ROLES, value="viewer", description="Role")
        self._add = w.Button(description="Invite / set role")
        self._remove = w.Button(description="Remove", button_style="danger")
        self._ids = w.Text(description="Data ids", placeholder="1, 2, 3")
        self._target = w.Dropdown(description="To")
        self._share = w.Button(description="Share", icon="share")
        self._move = w.Button(description="Move", icon="arrow-right")
        self._invitations = w.Dropdown(description="Invited to")
        self._accept = w.Button(description="Accept", icon="check", button_style="success")
        self._decline = w.Button(description="Decline", icon="times")
        super().__init__(
            [
                w.HTML("<b>Workspaces</b>"),
                w.HBox([self._list, self._members]),
                w.HBox([self._new_name, self._new_description, self._create]),
                w.HBox([self._login, self._role, self._add, self._remove]),
                w.HBox([self._ids, self._target, self._share, self._move]),
                w.HBox([self._invitations, self._accept, self._decline]),
                self.status,
            ]
        )
        self._list.observe(lambda c: setattr(self, "workspace", c["new"] or ""), "value")
        self.observe(lambda c: setattr(self._list, "value", c["new"] or None), "workspace")
        self.observe(lambda c: self.status.run(lambda: self.show(c["new"])), "workspace")
        self._create.on_click(lambda _: self.status.run(self.create_from_form))
        self._add.on_click(lambda _: self.status.run(self.add_from_form))
        self._remove.on_click(lambda _: self.status.run(self.remove_from_form))
        self._share.on_click(lambda _: self.status.run(self.share_from_form))
        self._move.on_click(lambda _: self.status.run(self.move_from_form))
        self._accept.on_click(lambda _: self.status.run(self.accept_from_form))
        self._decline.on_click(lambda _: self.status.run(self.decline_from_form))
        self.status.run(self.refresh)

    def refresh(self) -> None:
        """Read the workspace list and your invitations again."""
        self.refresh_invitations()
        names = [ws.name for ws in self.client.workspaces()]
        self.names = names
        keep = self.workspace if self.workspace in names else (names[0] if names else "")
        self._list.options = names
        self._target.options = names
        self._list.value = keep or None
        if keep:
            self.show(keep)

    def show(self, name: str) -> Workspace | None:
        """Show the members of ``name``."""
        if not name:
            return None
        self.current = self.client.workspace(name)
        rows = [(m.login, m.role) for m in self.current.members] + [
            (m.login, f"{m.role} (invited)") for m in self.current.invited
        ]
        self._members.value = format_html(
            "<b>{}</b> {}{}",
            name,
            self.current.description,
            table(rows, header=("Login", "Role")),
        )
        return self.current

    def create(self, name: str, *, description: str | None = None) -> Workspace:
        """Create a workspace (you own it) and show it."""
        created = self.client.create_workspace(name, description=description)
        self.refresh()
        self.workspace = created.name
        self.status.say(f"workspace {created.name} created")
        return created

    def set_member(self, login: str, role: str = "viewer") -> Workspace:
        """Invite ``login`` to the shown workspace with ``role`` (or change a member's role)."""
        updated = self.client.set_member(self.workspace, login, role)
        self.show(self.workspace)
        if updated.role_of(login) is None:
            self.status.say(f"{login} invited to {self.workspace} as {role} (joins on accepting)")
        else:
            self.status.say(f"{login} is {role} of {self.workspace}")
        return updated

    def remove_member(self, login: str) -> Workspace:
        """Remove ``login`` from the shown workspace."""
        updated = self.client.remove_member(self.workspace, login)
        self.show(self.workspace)
        self.status.say(f"{login} removed from {self.workspace}")
        return updated

    def refresh_invitations(self) -> list[Invitation]:
        """Read the invitations waiting for you."""
        waiting = self.client.invitations()
        self.invitations = [i.workspace for i in waiting]
        self._invitations.options = [
            (f"{i.workspace} as {i.role} (from {i.invited_by or '?'})", i.workspace)
            for i in waiting
        ]
        return waiting

    def accept(self, workspace: str) -> Workspace:
        """Accept your invitation to ``workspace`` and show it."""
        joined = self.client.accept_invitation(workspace)
        self.refresh()
        self.workspace = joined.name
        self.status.say(f"you joined {joined.name}")
        return joined

    def decline(self, workspace: str) -> None:
        """Decline your invitation to ``workspace``."""
        self.client.decline_invitation(workspace)
        self.refresh_invitations()
        self.status.say(f"invitation to {workspace} declined")

    def share(self, data_ids: Sequence[int], *, to: str) -> Workspace:
        """Share data files (products) with workspace ``to``."""
        shared = self.client.share(data_ids, workspace=to)
        self.status.say(f"{len(data_ids)} files shared with {to}")
        return shared

    def move(self, data_ids: Sequence[int], *, to: str) -> Workspace:
        """Move data files from the shown workspace to ``to``."""
        moved = self.client.move(data_ids, source=self.workspace, destination=to)
        self.status.say(f"{len(data_ids)} files moved from {self.workspace} to {to}")
        return moved

    # -- the form's buttons --------------------------------------------------------------------

    def create_from_form(self) -> Workspace:
        """Create the workspace named in the form."""
        name = self._new_name.value.strip()
        if not name:
            raise ValueError("name the new workspace")
        return self.create(name, description=self._new_description.value.strip() or None)

    def add_from_form(self) -> Workspace:
        """Add the member named in the form with the chosen role."""
        return self.set_member(self._login.value.strip(), self._role.value)

    def remove_from_form(self) -> Workspace:
        """Remove the member named in the form."""
        return self.remove_member(self._login.value.strip())

    def accept_from_form(self) -> Workspace:
        """Accept the invitation chosen in the form."""
        if not self._invitations.value:
            raise ValueError("no invitation to accept")
        return self.accept(str(self._invitations.value))

    def decline_from_form(self) -> None:
        """Decline the invitation chosen in the form."""
        if not self._invitations.value:
            raise ValueError("no invitation to decline")
        self.decline(str(self._invitations.value))

    def _form_ids(self) -> list[int]:
        return [int(p) for p in self._ids.value.replace(" ", ",").split(",") if p.strip()]

    def share_from_form(self) -> Workspace:
        """Share the ids in the form with the chosen workspace."""
        return self.share(self._form_ids(), to=str(self._target.value))

    def move_from_form(self) -> Workspace:
        """Move the ids in the form to the chosen workspace."""
        return self.move(self._form_ids(), to=str(self._target.value))
