"""Per-user homes: one folder per login with a link to each workspace and to the dashboards.

A workspace's files live once, in its shared folder; each member's home links to it under the
workspace's name. Viewers' links are listed as read-only for the contents manager
(:mod:`hcdc_hub.contents`); sites running servers under per-user system accounts back the same
rule with POSIX group permissions on the shared folders.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hcdc_server.models.hub import WorkspaceGrant

log = logging.getLogger(__name__)

#: Name of the link to the Voila dashboards in every home.
DASHBOARDS_LINK = "dashboards"


@dataclass(frozen=True)
class HomeLayout:
    """A prepared home and the paths (relative to it) that its user may not change."""

    home: Path
    read_only: tuple[str, ...]
    workspaces: tuple[str, ...]


def prepare_home(
    home: Path,
    workspaces: Iterable[WorkspaceGrant],
    *,
    workspaces_root: Path,
    dashboards: Path | None = None,
) -> HomeLayout:
    """Create ``home`` with links to the user's workspaces (and dashboards); drop stale links.

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
    """
    home.mkdir(parents=True, exist_ok=True)
    read_only: list[str] = []
    linked: list[str] = []
    wanted = {grant.name: Path(grant.path) for grant in workspaces}
    roles = {grant.name: grant for grant in workspaces}
    root = workspaces_root.resolve()
    for entry in home.iterdir():
        if entry.is_symlink() and entry.name not in wanted:
            target = Path(entry.readlink())
            if target.is_absolute() and target.parent.resolve() == root:
                entry.unlink()
    for name, target in sorted(wanted.items()):
        if _link(home / name, target):
            linked.append(name)
            if not roles[name].writable:
                read_only.append(name)
    if dashboards is not None and _link(home / DASHBOARDS_LINK, dashboards.resolve()):
        read_only.append(DASHBOARDS_LINK)
    return HomeLayout(home=home, read_only=tuple(read_only), workspaces=tuple(linked))


def _link(link: Path, target: Path) -> bool:
    """Point ``link`` at ``target``; a real file or folder of that name is left alone."""
    if link.is_symlink():
        if Path(link.readlink()) == target:
            return True
        link.unlink()
    elif link.exists():
        log.warning("%s exists and is not a link: workspace folder not linked", link)
        return False
    link.symlink_to(target, target_is_directory=True)
    return True
