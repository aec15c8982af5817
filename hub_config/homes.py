"""Per-user homes: the user's workspaces under ``workspaces/``, the dashboards, the notebooks.

A workspace's files live once, in its shared folder; each member's home links to it as
``workspaces/<name>``, never at the home's root, where a workspace named like a configuration
folder (``.ipython``, ``.jupyter``, ``.local``) would plant files that the user's own kernels run.
Viewers' links are listed as read-only for the contents manager (:mod:`hcdc_hub.contents`), which
also links workspaces joined while the server runs. Under per-user OS accounts
(``HCDC_HUB_SYSTEM_USERS``) the shared folders belong to one group per workspace
(:mod:`hcdc_hub.system_users`).

The example notebooks are copied into ``notebooks/`` at every server start when missing there: a
notebook the user has (edited or not) is never overwritten.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hcdc_server.models.hub import WorkspaceGrant
from hcdc_server.models.users import is_workspace_name

log = logging.getLogger(__name__)

#: Name of the link to the Voila dashboards in every home.
DASHBOARDS_LINK = "dashboards"
#: Folder of every home that holds one link per workspace.
WORKSPACES_FOLDER = "workspaces"
#: Folder of every home that receives the example notebooks.
NOTEBOOKS_FOLDER = "notebooks"


@dataclass(frozen=True)
class Owner:
    """The OS account a home belongs to: what hcdc creates in it is handed over to it."""

    uid: int
    gid: int

    def own(self, path: Path) -> None:
        os.chown(path, self.uid, self.gid, follow_symlinks=False)


@dataclass(frozen=True)
class HomeLayout:
    """A prepared home and the paths (relative to it) that its user may not change."""

    home: Path
    read_only: tuple[str, ...]
    workspaces: tuple[str, ...]


def workspace_path(name: str) -> str:
    """Path of a workspace's link relative to the home (``workspaces/<name>``)."""
    return f"{WORKSPACES_FOLDER}/{name}"


def prepare_home(
    home: Path,
    workspaces: Iterable[WorkspaceGrant],
    *,
    workspaces_root: Path,
    dashboards: Path | None = None,
    notebooks: Path | None = None,
    owner: Owner | None = None,
) -> HomeLayout:
    """Create ``home`` with its workspaces, dashboards and notebooks; drop stale links.

    Parameters
    ----------
    home
        The user's home folder (created when missing).
    workspaces
        The workspaces the user belongs to, with their role.
    workspaces_root
        Folder holding every workspace's shared folder: links into it that no longer match a
        membership are removed, so a user taken out of a workspace loses its folder.
    dashboards
        The Voila dashboards folder, linked read-only as ``dashboards``.
    notebooks
        Example notebooks, copied into ``notebooks/`` where missing.
    owner
        The account the home belongs to (per-user accounts); ``None``: this process's.
    """
    home.mkdir(parents=True, exist_ok=True)
    _drop_links_at_root(home, workspaces_root)
    linked, read_only = link_workspaces(
        home, workspaces, workspaces_root=workspaces_root, owner=owner
    )
    extra: list[str] = []
    if dashboards is not None and _link(home / DASHBOARDS_LINK, dashboards.resolve(), owner):
        extra.append(DASHBOARDS_LINK)
    if notebooks is not None:
        copy_notebooks(notebooks, home / NOTEBOOKS_FOLDER, owner=owner)
    return HomeLayout(home=home, read_only=(*read_only, *extra), workspaces=linked)


def link_workspaces(
    home: Path,
    workspaces: Iterable[WorkspaceGrant],
    *,
    workspaces_root: Path,
    owner: Owner | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Link each workspace as ``workspaces/<name>`` of ``home`` and unlink those left.

    Returns the names linked and the home-relative paths of the read-only ones (viewers').
    Grants whose name is not a valid workspace name are skipped.
    """
    folder = home / WORKSPACES_FOLDER
    if folder.is_symlink():  # hcdc's folder, never a link to elsewhere
        folder.unlink()
    if folder.exists() and not folder.is_dir():
        log.warning("%s is not a folder: workspaces not linked", folder)
        return (), ()
    if not folder.exists():
        folder.mkdir()
        if owner is not None:
            owner.own(folder)
    grants = {g.name: g for g in workspaces if _valid(g.name)}
    root = workspaces_root.resolve()
    for entry in folder.iterdir():
        if entry.is_symlink() and entry.name not in grants and _points_into(entry, root):
            entry.unlink()
    linked: list[str] = []
    read_only: list[str] = []
    for name, grant in sorted(grants.items()):
        if _link(folder / name, Path(grant.path), owner):
            linked.append(name)
            if not grant.writable:
                read_only.append(workspace_path(name))
    return tuple(linked), tuple(read_only)


def copy_notebooks(source: Path, destination: Path, *, owner: Owner | None = None) -> list[str]:
    """Copy the ``.ipynb`` files of ``source`` missing from ``destination``; returns their names.

    A file already in ``destination`` (the user's, edited or not) stays as it is.
    """
    if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
        log.warning("%s is not a folder: notebooks not copied", destination)
        return []
    if not destination.exists():
        destination.mkdir(parents=True)
        if owner is not None:
            owner.own(destination)
    copied = []
    for notebook in sorted(source.glob("*.ipynb")):
        target = destination / notebook.name
        if target.exists() or target.is_symlink():
            continue
        shutil.copyfile(notebook, target)
        if owner is not None:
            owner.own(target)
        copied.append(notebook.name)
    return copied


def _valid(name: str) -> bool:
    if not is_workspace_name(name):
        log.warning("workspace %r has a name no folder may have: not linked", name)
        return False
    return True


def _points_into(link: Path, root: Path) -> bool:
    target = link.readlink()
    return target.is_absolute() and target.parent.resolve() == root


def _drop_links_at_root(home: Path, root: Path) -> None:
    """Remove workspace links left at the home's root by earlier versions of hcdc."""
    resolved = root.resolve()
    for entry in home.iterdir():
        if entry.is_symlink() and _points_into(entry, resolved):
            entry.unlink()


def _link(link: Path, target: Path, owner: Owner | None) -> bool:
    """Point ``link`` at ``target``; a real file or folder of that name is left alone."""
    if link.is_symlink():
        if link.readlink() == target:
            return True
        link.unlink()
    elif link.exists():
        log.warning("%s exists and is not a link: workspace folder not linked", link)
        return False
    link.symlink_to(target, target_is_directory=True)
    if owner is not None:
        owner.own(link)
    return True
