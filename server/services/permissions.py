"""Who may do what: the one place that decides it (what a caller *sees* is :mod:`visibility`'s).

- Read a process (detail, SOF, validation history, log): admins, any member of its workspace,
  and its launcher. Anybody else is told it does not exist (404), so ids leak nothing.
- Act on a process (validate, reprocess, cancel, set or remove its extended attributes):
  admins, editors and owners of its workspace, and its launcher. A viewer of the workspace
  gets 403 naming the role needed; anybody who cannot read the process gets 404.
- A restricted user counts only as a member, never as a launcher: they are confined to their
  workspaces (as in :func:`visibility.visible`), so leaving one ends their access to it.
- Write into a workspace (launch or associate into it, upload to it, share data with it or
  unshare data from it): admins, its editors and owners. Viewers get 403; non-members 404, as
  if it did not exist. A restricted user must name a workspace to launch; anybody else may
  launch without one (the processes are then theirs alone).
- The data files a launch or a share names must be visible to the caller (404 listing those
  that are not).
- Hidden recipes (the test recipes ``hcdc_sleep`` and ``hcdc_echo``, and any an administrator
  hides) are listed for and launched by administrators only: anybody else does not see them
  (404) and is refused a launch, association preview, workflow step or reprocess of one (403).
- The processing cache answers a launch with an earlier run only when that run lies in the
  launch's workspace and the launcher may read it (:func:`may_reuse`): whoever reads the new
  process then reads nothing they could not read before. Otherwise the recipe runs afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hcdc_server.exceptions import NotFoundError, PermissionDeniedError
from hcdc_server.models.users import MemberRole
from hcdc_server.schema import tables as t
from hcdc_server.services.visibility import Viewer, visible

#: Member roles that may change what a workspace holds.
WRITE_ROLES: frozenset[MemberRole] = frozenset({"owner", "editor"})


@dataclass(frozen=True)
class ProcessRef:
    """What the rules need to know about a process."""

    id: int
    user_id: int
    workspace_id: int | None
    workspace: str | None


def is_launcher(viewer: Viewer, process: ProcessRef) -> bool:
    return process.user_id == viewer.user_id and viewer.role != "restricted"


def may_read_process(viewer: Viewer, process: ProcessRef) -> bool:
    return (
        viewer.is_admin
        or is_launcher(viewer, process)
        or viewer.role_in(process.workspace_id) is not None
    )


def may_reuse(viewer: Viewer, cached: ProcessRef, workspace_id: int | None) -> bool:
    """Whether a launch by ``viewer`` into ``workspace_id`` may reuse the run ``cached``.

    A cache hit shows the cached run's outputs and log to every reader of the new process (its
    workspace's members and its launcher), so the run must lie in the same workspace (or, like
    the launch, in none) and be readable by the launcher.
    """
    return cached.workspace_id == workspace_id and may_read_process(viewer, cached)


def may_see_hidden_recipes(viewer: Viewer) -> bool:
    return viewer.is_admin


def check_recipe_launch(viewer: Viewer, recipe: str, *, hidden: bool) -> None:
    """403 when ``recipe`` is hidden and the caller is not an administrator."""
    if hidden and not may_see_hidden_recipes(viewer):
        raise PermissionDeniedError(f"recipe {recipe} is hidden: only administrators may run it")


def check_read_process(viewer: Viewer, process: ProcessRef) -> None:
    """404 unless the caller may read ``process``."""
    if not may_read_process(viewer, process):
        raise NotFoundError(f"no process {process.id}")


def check_act_on_process(viewer: Viewer, process: ProcessRef, action: str) -> None:
    """404 when the caller cannot read ``process``, 403 when they only view its workspace.

    ``action`` names the act in the message, e.g. ``"cancelling"``.
    """
    check_read_process(viewer, process)
    if viewer.is_admin or is_launcher(viewer, process):
        return
    role = viewer.role_in(process.workspace_id)
    if role not in WRITE_ROLES:
        raise PermissionDeniedError(
            f"{action} process {process.id} needs the editor or owner role in workspace "
            f"{process.workspace!r} (you are a {role}), or to have launched it"
        )


def check_workspace_write(viewer: Viewer, workspace_id: int | None, name: str, action: str) -> int:
    """The id of workspace ``name`` when the caller may write into it; 404 or 403 otherwise.

    ``workspace_id`` is ``None`` when no workspace has that name.
    """
    role = viewer.role_in(workspace_id)
    if workspace_id is None or (role is None and not viewer.is_admin):
        raise NotFoundError(f"no workspace {name!r}")
    if not viewer.is_admin and role not in WRITE_ROLES:
        raise PermissionDeniedError(
            f"{action} workspace {name!r} needs the editor or owner role (you are a {role})"
        )
    return workspace_id


def check_launch_scope(viewer: Viewer, workspace: str | None) -> None:
    """A restricted user launches only into one of their workspaces (403 without one)."""
    if workspace is None and viewer.role == "restricted":
        raise PermissionDeniedError(
            "a restricted user must launch into a workspace: set 'workspace' to one of yours "
            f"({', '.join(sorted(viewer.workspace_names)) or 'none'})"
        )


def check_data_visible(session: Session, viewer: Viewer, ids: Iterable[int]) -> None:
    """404 listing the data files among ``ids`` that do not exist or the caller cannot see."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    data = t.DataFile.__table__.c
    seen: set[int] = set()
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start : start + 5000]
        seen.update(
            session.scalars(
                select(data.id).where(data.id.in_(chunk)).where(visible(viewer, "data"))
            )
        )
    hidden = [i for i in wanted if i not in seen]
    if hidden:
        shown = ", ".join(map(str, hidden[:20]))
        more = f" and {len(hidden) - 20} more" if len(hidden) > 20 else ""
        raise NotFoundError(f"no data file with id {shown}{more}")


def process_ref(session: Session, process_id: int) -> ProcessRef:
    """The rule's view of a process; 404 when there is none."""
    row = session.execute(
        select(t.Process.id, t.Process.user_id, t.Process.workspace_id, t.Workspace.name)
        .outerjoin(t.Workspace, t.Workspace.id == t.Process.workspace_id)
        .where(t.Process.id == process_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no process {process_id}")
    return ProcessRef(id=row[0], user_id=row[1], workspace_id=row[2], workspace=row[3])


def workspace_id(session: Session, name: str) -> int | None:
    """The id of workspace ``name`` (``None`` when absent)."""
    return session.scalar(select(t.Workspace.id).where(t.Workspace.name == name))
