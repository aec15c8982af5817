"""WorkspaceManager: list and create workspaces, manage members and roles, share products."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w
import traitlets

from hcdc_kernel.client import HcdcClient, Workspace, connect
from hcdc_widgets.status import StatusLine

__all__ = ["ROLES", "WorkspaceManager"]

ROLES = ("owner", "editor", "viewer")


class WorkspaceManager(w.VBox):
    """Workspaces you belong to, their members, and sharing data files with them.

    Attributes (traitlets)
    ----------------------
    workspace : str
        The workspace shown.
    names : list of str
        Every workspace listed.
    """

    workspace = traitlets.Unicode("")
    names = traitlets.List(traitlets.Unicode())

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
        self._add = w.Button(description="Add / set role")
        self._remove = w.Button(description="Remove", button_style="danger")
        self._ids = w.Text(description="Data ids", placeholder="1, 2, 3")
        self._target = w.Dropdown(description="To")
        self._share = w.Button(description="Share", icon="share")
        self._move = w.Button(description="Move", icon="arrow-right")
        super().__init__(
            [
                w.HTML("<b>Workspaces</b>"),
                w.HBox([self._list, self._members]),
                w.HBox([self._new_name, self._new_description, self._create]),
                w.HBox([self._login, self._role, self._add, self._remove]),
                w.HBox([self._ids, self._target, self._share, self._move]),
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
        self.status.run(self.refresh)

    def refresh(self) -> None:
        """Read the workspace list again."""
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
        rows = "".join(
            f"<tr><td>{html.escape(m.login)}</td><td>{m.role}</td></tr>"
            for m in self.current.members
        )
        about = html.escape(self.current.description or "")
        self._members.value = (
            f"<b>{html.escape(name)}</b> {about}"
            f"<table><tr><th>Login</th><th>Role</th></tr>{rows}</table>"
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
        """Add ``login`` to the shown workspace with ``role`` (or change their role)."""
        updated = self.client.set_member(self.workspace, login, role)
        self.show(self.workspace)
        self.status.say(f"{login} is {role} of {self.workspace}")
        return updated

    def remove_member(self, login: str) -> Workspace:
        """Remove ``login`` from the shown workspace."""
        updated = self.client.remove_member(self.workspace, login)
        self.show(self.workspace)
        self.status.say(f"{login} removed from {self.workspace}")
        return updated

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

    def _form_ids(self) -> list[int]:
        return [int(p) for p in self._ids.value.replace(" ", ",").split(",") if p.strip()]

    def share_from_form(self) -> Workspace:
        """Share the ids in the form with the chosen workspace."""
        return self.share(self._form_ids(), to=str(self._target.value))

    def move_from_form(self) -> Workspace:
        """Move the ids in the form to the chosen workspace."""
        return self.move(self._form_ids(), to=str(self._target.value))
