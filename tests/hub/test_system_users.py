"""One OS account per user (``HCDC_HUB_SYSTEM_USERS``): accounts, homes, groups and secrets.

These create real accounts and groups (``useradd``, ``groupadd``) and check what each account can
reach by running commands as it (``runuser``), so they need root; every account and group they
make carries a random prefix and is deleted afterwards.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from hcdc_hub.deployment import HubDeployment, secure_state
from hcdc_hub.homes import NOTEBOOKS_FOLDER
from hcdc_hub.service_client import HcdcServiceClient
from hcdc_hub.spawn_hooks import HcdcServerHooks
from hcdc_hub.system_users import (
    HcdcSystemUserSpawner,
    SystemUserError,
    account_name,
    ensure_account,
    sync_workspace_groups,
    workspace_group,
)
from hcdc_server.config import Settings
from hcdc_server.models.hub import ServerGrant, WorkspaceGrant
from hcdc_server.up import hub_config_file

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("useradd", "groupadd", "runuser")),
    reason="creating OS accounts needs root with useradd, groupadd and runuser (passwd, util-linux)",
)


@pytest.fixture
def prefix() -> Iterator[str]:
    """A prefix of this test's own accounts; they and their groups are deleted afterwards."""
    mine = f"hct{uuid.uuid4().hex[:6]}-"
    yield mine
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(mine):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    for entry in grp.getgrall():
        if entry.gr_name.startswith(mine):
            subprocess.run(["groupdel", entry.gr_name], check=False, capture_output=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory other accounts can traverse to (pytest's own temporary folders are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="hcdc-system-users-"))
    folder.chmod(0o711)
    yield folder / "data"
    shutil.rmtree(folder)


@pytest.fixture
def umask() -> Iterator[None]:
    """``secure_state`` sets the process's umask (the hub's): give this process its own back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def as_user(account: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", account, "--", *command], capture_output=True, text=True, check=False
    )


def test_logins_map_to_prefixed_accounts_or_are_refused():
    assert account_name("alice", "hcdc-") == "hcdc-alice"
    for login in ("root", "Alice", "a.b", "../x", "-x", "a" * 30):
        if login == "root":
            assert account_name(login, "hcdc-") == "hcdc-root"  # never the system's root
            continue
        with pytest.raises(SystemUserError, match="cannot have an OS account"):
            account_name(login, "hcdc-")
    assert workspace_group("demo") == "hcdcw-demo"
    assert workspace_group("Demo") != workspace_group("demo")
    assert len(workspace_group("a" * 64)) <= 32


def test_the_account_is_made_once_with_a_private_home_of_its_own(prefix, data_dir):
    home_root = data_dir / "home"
    account = ensure_account("alice", home_root=home_root, prefix=prefix)
    entry = pwd.getpwnam(f"{prefix}alice")
    assert (account.uid, account.gid) == (entry.pw_uid, entry.pw_gid)
    assert entry.pw_dir == str(home_root / "alice")
    info = (home_root / "alice").stat()
    assert (info.st_uid, info.st_gid) == (account.uid, account.gid)
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert stat.S_IMODE(home_root.stat().st_mode) == 0o711
    assert ensure_account("alice", home_root=home_root, prefix=prefix) == account
    # the account writes its home; another account cannot even list it
    assert as_user(account.name, "touch", str(home_root / "alice" / "mine.txt")).returncode == 0
    bob = ensure_account("bob", home_root=home_root, prefix=prefix)
    denied = as_user(bob.name, "ls", str(home_root / "alice"))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


def test_service_secrets_are_not_readable_by_user_accounts(prefix, data_dir, umask):
    settings = Settings(data_dir=data_dir, hub_system_users=True, hub_account_prefix=prefix)
    deployment = HubDeployment.from_settings(settings)
    (data_dir / "hcdc.sqlite").write_text("the database")
    (data_dir / "raw").mkdir()
    (data_dir / "raw" / "frame.fits").write_text("proprietary")
    secure_state(settings)
    token_file = settings.hub_dir / "service-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.hub_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "hcdc.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o711
    account = ensure_account("alice", home_root=deployment.home_root, prefix=prefix)
    for private in (token_file, data_dir / "hcdc.sqlite", data_dir / "raw" / "frame.fits"):
        refused = as_user(account.name, "cat", str(private))
        assert refused.returncode != 0, private
        assert "Permission denied" in refused.stderr
        assert deployment.service_token not in refused.stdout
    assert as_user(account.name, "ls", str(data_dir)).returncode != 0  # traverse, not list
    assert as_user(account.name, "ls", str(deployment.home_root / "alice")).returncode == 0
    # files made later by the hub and the service are private too
    (data_dir / "later.txt").write_text("made after start")
    assert as_user(account.name, "cat", str(data_dir / "later.txt")).returncode != 0


def test_workspace_folders_open_to_their_members_only(prefix, data_dir):
    home_root = data_dir / "home"
    root = data_dir / "workspaces"
    alice = ensure_account("alice", home_root=home_root, prefix=prefix)
    bob = ensure_account("bob", home_root=home_root, prefix=prefix)
    survey = WorkspaceGrant(name=f"{prefix}survey", role="editor", path=str(root / "survey"))
    root.mkdir(parents=True)
    root.chmod(0o711)
    try:
        assert sync_workspace_groups(alice, [survey]) == [workspace_group(survey.name)]
        folder = Path(survey.path)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o2770
        assert grp.getgrgid(folder.stat().st_gid).gr_name == workspace_group(survey.name)
        assert as_user(alice.name, "touch", str(folder / "shared.txt")).returncode == 0
        assert as_user(bob.name, "ls", str(folder)).returncode != 0
        sync_workspace_groups(alice, [])  # alice left the workspace
        assert alice.name not in grp.getgrnam(workspace_group(survey.name)).gr_mem
        assert as_user(alice.name, "ls", str(folder)).returncode != 0
    finally:
        subprocess.run(["groupdel", workspace_group(survey.name)], check=False)


def test_the_hook_makes_the_account_and_hands_it_its_home(prefix, data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01.ipynb").write_text("{}")
    root = data_dir / "workspaces"
    hooks = HcdcServerHooks(
        client=HcdcServiceClient("http://127.0.0.1:9", "unused"),
        hcdc_url="http://127.0.0.1:9",
        home_root=data_dir / "home",
        workspaces_root=root,
        notebooks=notebooks,
        account_prefix=prefix,
    )
    name = f"{prefix}team"
    grant = ServerGrant(
        login="carol",
        token="t",
        workspaces=(WorkspaceGrant(name=name, role="viewer", path=str(root / name)),),
    )
    try:
        layout = hooks.prepare(grant)
        account = pwd.getpwnam(f"{prefix}carol")
        home = data_dir / "home" / "carol"
        assert layout.home == home
        assert layout.read_only == (f"workspaces/{name}",)
        for path in (home, home / "workspaces", home / NOTEBOOKS_FOLDER / "01.ipynb"):
            assert path.lstat().st_uid == account.pw_uid, path
        assert (home / "workspaces" / name).lstat().st_uid == account.pw_uid
        assert account.pw_name in grp.getgrnam(workspace_group(name)).gr_mem
    finally:
        subprocess.run(["groupdel", workspace_group(f"{prefix}team")], check=False)


def test_the_hub_configuration_spawns_servers_under_the_accounts(prefix, data_dir, monkeypatch):
    monkeypatch.setenv("HCDC_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HCDC_HUB_SYSTEM_USERS", "true")
    monkeypatch.setenv("HCDC_HUB_ACCOUNT_PREFIX", prefix)
    monkeypatch.setenv("HCDC_HUB_IP", "0.0.0.0")  # allowed: users are isolated
    old = os.umask(0o022)
    try:
        path = hub_config_file()
        c = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    finally:
        os.umask(old)
    assert c.JupyterHub.spawner_class is HcdcSystemUserSpawner
    assert c.HcdcSystemUserSpawner.account_prefix == prefix
    assert c.HcdcSystemUserSpawner.home_root == str(data_dir.resolve() / "home")
    assert c.Spawner.pre_spawn_hook.__self__.account_prefix == prefix
    assert not any("allow_root" in arg for arg in c.Spawner.args)
    assert c.JupyterHub.ip == "0.0.0.0"

    ensure_account("dora", home_root=data_dir / "home", prefix=prefix)
    spawner = HcdcSystemUserSpawner(
        user=types.SimpleNamespace(name="dora", url="/user/dora/"),
        account_prefix=prefix,
        home_root=str(data_dir / "home"),
    )
    assert spawner.user_env({})["HOME"] == str(data_dir / "home" / "dora")
    ran = subprocess.run(
        ["sh", "-c", "id -un; umask"],
        preexec_fn=spawner.make_preexec_fn("dora"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.split() == [f"{prefix}dora", "0007"]
