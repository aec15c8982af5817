"""One OS account per hcdc user (``HCDC_HUB_SYSTEM_USERS=true``).

Each user's server runs under the account ``<prefix><login>`` (the prefix keeps every login off
existing accounts such as ``root``), created by hcdc with ``useradd`` on the first server start,
its home ``<home root>/<login>`` owned by it with mode 0700. The workspaces' shared folders belong
to one group per workspace (``hcdcw-<name>``, mode 2770): the hook adds the account to the
groups of the workspaces it belongs to and takes it out of the others at each server start.
Viewers' read-only rule is the contents manager's (a group cannot tell viewers from editors).

The hub runs as root in this mode: it creates accounts and starts servers under them; the
service's secrets (``<data>/hub``, the database) are readable by the service's account only.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Unicode

from hcdc_hub.homes import Owner
from hcdc_server.exceptions import HcdcError
from hcdc_server.models.hub import WorkspaceGrant

#: Logins that may have an account: JupyterHub's lower-case names, no dots or other separators.
LOGIN_RULE = "lower-case letters, digits, '_' and '-', starting with a letter or digit"
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Longest account or group name ``useradd`` and ``groupadd`` accept.
MAX_NAME = 32
#: Prefix of the workspace groups.
GROUP_PREFIX = "hcdcw-"
#: Files that user servers create are shared with their workspace group, private otherwise.
SERVER_UMASK = 0o007


class SystemUserError(HcdcError):
    """An OS account or group could not be made as hcdc needs it."""

    code = "system_user"
    status = 500


@dataclass(frozen=True)
class SystemAccount:
    """The OS account of one hcdc user."""

    login: str
    name: str
    uid: int
    gid: int
    home: Path

    @property
    def owner(self) -> Owner:
        return Owner(uid=self.uid, gid=self.gid)


def account_name(login: str, prefix: str) -> str:
    """The OS account of ``login``; ``SystemUserError`` naming the rule for other logins."""
    name = prefix + login
    if not _LOGIN.fullmatch(login) or len(name) > MAX_NAME:
        raise SystemUserError(
            f"login {login!r} cannot have an OS account: {LOGIN_RULE}, at most "
            f"{MAX_NAME - len(prefix)} characters"
        )
    return name


def workspace_group(name: str) -> str:
    """The OS group of workspace ``name``: a digest where the name has capitals or is too long."""
    group = GROUP_PREFIX + name
    if len(group) > MAX_NAME or name != name.lower():
        group = GROUP_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:20]
    return group


def _run(*command: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise SystemUserError(f"{' '.join(command)} failed: {detail.strip()}") from exc


def ensure_account(login: str, *, home_root: Path, prefix: str) -> SystemAccount:
    """The account of ``login``, created when missing, and its private home (0700, its own).

    ``home_root`` is made traversable but not listable by others (0711).
    """
    name = account_name(login, prefix)
    home = home_root / login
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run(
            shutil.which("useradd") or "useradd",
            "--home-dir",
            str(home),
            "--no-create-home",
            "--shell",
            "/bin/bash",
            "--user-group",
            "--comment",
            f"hcdc user {login}",
            name,
        )
        entry = pwd.getpwnam(name)
    home_root.mkdir(parents=True, exist_ok=True)
    home_root.chmod(0o711)
    if home.is_symlink():
        raise SystemUserError(f"{home} is a link, not a home")
    home.mkdir(exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    home.chmod(0o700)
    return SystemAccount(login=login, name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=home)


def sync_workspace_groups(account: SystemAccount, grants: Iterable[WorkspaceGrant]) -> list[str]:
    """Give the account the groups of its workspaces (and no other); returns those groups.

    Each shared folder gets its group, mode 2770 (new files keep the group). Groups take effect
    in processes started afterwards: the user's next server.
    """
    wanted: dict[str, Path] = {workspace_group(g.name): Path(g.path) for g in grants}
    for group, folder in wanted.items():
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            _run(shutil.which("groupadd") or "groupadd", group)
            gid = grp.getgrnam(group).gr_gid
        folder.mkdir(parents=True, exist_ok=True)
        if not stat.S_ISLNK(folder.lstat().st_mode):
            os.chown(folder, -1, gid)
            folder.chmod(0o2770)
        if account.name not in grp.getgrnam(group).gr_mem:
            _run(shutil.which("gpasswd") or "gpasswd", "-a", account.name, group)
    for entry in grp.getgrall():
        if (
            entry.gr_name.startswith(GROUP_PREFIX)
            and entry.gr_name not in wanted
            and account.name in entry.gr_mem
        ):
            _run(shutil.which("gpasswd") or "gpasswd", "-d", account.name, entry.gr_name)
    return sorted(wanted)


def secure_private(paths: Iterable[Path]) -> None:
    """Make files 0600 and folders 0700 (the service's account only), where they exist."""
    for path in paths:
        if path.is_symlink() or not path.exists():
            continue
        path.chmod(0o700 if path.is_dir() else 0o600)


class HcdcSystemUserSpawner(LocalProcessSpawner):
    """LocalProcessSpawner running each user's server as ``<prefix><login>``.

    The account and its home are made by the pre-spawn hook (:class:`HcdcServerHooks` with
    ``system_users``); this class only maps the hub user to that account.
    """

    account_prefix = Unicode("hcdc-", help="Prefix of the OS account of each hcdc login.").tag(
        config=True
    )
    home_root = Unicode(help="Folder of the per-user homes.").tag(config=True)

    @property
    def account(self) -> str:
        return account_name(self.user.name, self.account_prefix)

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        become = set_user_setuid(account_name(name, self.account_prefix))

        def preexec() -> None:
            os.umask(SERVER_UMASK)
            become()

        return preexec

    def user_env(self, env: dict[str, Any]) -> dict[str, Any]:
        env["USER"] = self.account
        env["LOGNAME"] = self.account
        env["HOME"] = str(Path(self.home_root) / self.user.name)
        env["SHELL"] = "/bin/bash"
        return env
