"""Spawner hooks: equip each user server with an hcdc token, its workspaces and the dashboards.

They work with any spawner (``SimpleLocalProcessSpawner`` embedded, ``SlurmSpawner`` or
``KubeSpawner`` at a site): set ``c.Spawner.pre_spawn_hook`` and ``post_stop_hook`` to the methods
of one :class:`HcdcServerHooks`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_hub.contents import READONLY_ENV
from hcdc_hub.homes import prepare_home
from hcdc_hub.service_client import HcdcServiceClient, HcdcServiceError


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
    """

    client: HcdcServiceClient
    hcdc_url: str
    home_root: Path | None
    workspaces_root: Path
    dashboards: Path | None = None

    async def pre_spawn(self, spawner: Any) -> None:
        """Get the user's token and workspaces, prepare the home, set the server's environment."""
        login: str = spawner.user.name
        grant = await self.client.grant_server(login)
        environment = {"HCDC_URL": self.hcdc_url, "HCDC_TOKEN": grant.token, "HCDC_USER": login}
        if self.home_root is not None:
            layout = prepare_home(
                self.home_root / login,
                grant.workspaces,
                workspaces_root=self.workspaces_root,
                dashboards=self.dashboards,
            )
            environment[READONLY_ENV] = os.pathsep.join(layout.read_only)
            if hasattr(spawner, "home_dir"):  # SimpleLocalProcessSpawner
                spawner.home_dir = str(layout.home)
            spawner.notebook_dir = str(layout.home)
        spawner.environment = {**spawner.environment, **environment}

    async def post_stop(self, spawner: Any) -> None:
        """Revoke the stopped server's token (when the hub shuts down, ``hcdc up`` does it)."""
        try:
            await self.client.release_server(spawner.user.name)
        except HcdcServiceError as exc:
            spawner.log.warning("server token of %s not revoked: %s", spawner.user.name, exc)
