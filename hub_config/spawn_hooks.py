"""Spawner hooks: equip each user server with an hcdc token, its workspaces, the dashboards and the
example notebooks.

They work with any spawner (``SimpleLocalProcessSpawner`` embedded, ``HcdcSystemUserSpawner`` with
``HCDC_HUB_SYSTEM_USERS``, ``SlurmSpawner`` or ``KubeSpawner`` at a site): set
``c.Spawner.pre_spawn_hook`` and ``post_stop_hook`` to the methods of one :class:`HcdcServerHooks`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_hub.contents import READONLY_ENV, WORKSPACES_DIR_ENV, encode_read_only
from hcdc_hub.homes import HomeLayout, prepare_home
from hcdc_hub.service_client import HcdcServiceClient, HcdcServiceError
from hcdc_hub.system_users import ensure_account, sync_workspace_groups
from hcdc_server.exceptions import InvalidInputError
from hcdc_server.models.hub import ServerGrant


@dataclass(frozen=True)
class HcdcServerHooks:
    """The hub's pre-spawn and post-stop hooks.

    Parameters
    ----------
    client
        Client of the hcdc service's hub routes.
    hcdc_url
        URL of the hcdc service as user servers reach it (``HCDC_URL``).
    home_root
        Folder of the per-user homes; ``None`` when the spawner provides homes itself.
    workspaces_root
        Folder of the workspaces' shared folders.
    dashboards
        The Voila dashboards folder linked into each home.
    notebooks
        The example notebooks copied into each home (never over the user's).
    account_prefix
        With per-user OS accounts (``HCDC_HUB_SYSTEM_USERS``): the prefix of their names; the
        hook creates the account, hands it its home and sets its workspace groups.
    """

    client: HcdcServiceClient
    hcdc_url: str
    home_root: Path | None
    workspaces_root: Path
    dashboards: Path | None = None
    notebooks: Path | None = None
    account_prefix: str | None = None

    async def pre_spawn(self, spawner: Any) -> None:
        """Get the user's token and workspaces, prepare the home, set the server's environment."""
        login: str = spawner.user.name
        grant = await self.client.grant_server(login)
        environment = {
            "HCDC_URL": self.hcdc_url,
            "HCDC_TOKEN": grant.token,
            "HCDC_USER": login,
            WORKSPACES_DIR_ENV: str(self.workspaces_root),
        }
        if self.home_root is not None:
            layout = await asyncio.to_thread(self.prepare, grant)
            environment[READONLY_ENV] = encode_read_only(layout.read_only)
            if hasattr(spawner, "home_dir"):  # SimpleLocalProcessSpawner
                spawner.home_dir = str(layout.home)
            spawner.notebook_dir = str(layout.home)
        spawner.environment = {**spawner.environment, **environment}

    def prepare(self, grant: ServerGrant) -> HomeLayout:
        """The home of ``grant``'s user (and their OS account and groups, with accounts)."""
        assert self.home_root is not None
        home = self.home_root / home_folder(grant.login)
        owner = None
        if self.account_prefix is not None:
            account = ensure_account(
                grant.login, home_root=self.home_root, prefix=self.account_prefix
            )
            sync_workspace_groups(account, grant.workspaces)
            owner = account.owner
        return prepare_home(
            home,
            grant.workspaces,
            workspaces_root=self.workspaces_root,
            dashboards=self.dashboards,
            notebooks=self.notebooks,
            owner=owner,
        )

    async def post_stop(self, spawner: Any) -> None:
        """Revoke the stopped server's token (when the hub shuts down, ``hcdc up`` does it)."""
        try:
            await self.client.release_server(spawner.user.name)
        except HcdcServiceError as exc:
            spawner.log.warning("server token of %s not revoked: %s", spawner.user.name, exc)


def home_folder(login: str) -> str:
    """The name of ``login``'s home under the home root: the login, when it is one folder name."""
    if not login or login in (".", "..") or login.startswith(".") or "/" in login or "\0" in login:
        raise InvalidInputError(f"login {login!r} cannot name a home folder")
    return login
