"""Jupyter contents manager that keeps some folders of the home read-only (viewers' workspaces)
and links the workspaces its user joins while the server runs.

User servers read the read-only folders from ``HCDC_READONLY_DIRS``, a JSON list of paths
relative to the server's root, which the spawn hook sets (an older ``os.pathsep``-separated value
is read too). Listing the home or its ``workspaces/`` folder asks the hcdc service
(``HCDC_URL``, ``HCDC_TOKEN``) for the user's workspaces at most every ``workspace_refresh_s``
seconds and links new ones under ``workspaces/`` (``HCDC_WORKSPACES_DIR`` names their shared
folders), so a workspace joined or created appears without a server restart.
"""

from __future__ import annotations

import json
import os
import posixpath
import time
from pathlib import Path
from typing import Any

import httpx
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError
from traitlets import Float, List, Unicode, default

from hcdc_hub.homes import WORKSPACES_FOLDER, link_workspaces
from hcdc_server.models.hub import WorkspaceGrant

READONLY_ENV = "HCDC_READONLY_DIRS"
WORKSPACES_DIR_ENV = "HCDC_WORKSPACES_DIR"


def encode_read_only(paths: list[str] | tuple[str, ...]) -> str:
    """The value of ``HCDC_READONLY_DIRS`` for ``paths``."""
    return json.dumps(list(paths))


def decode_read_only(value: str) -> list[str]:
    """Paths from ``HCDC_READONLY_DIRS``: a JSON list, or the older ``os.pathsep`` form."""
    value = value.strip()
    if value.startswith("["):
        parts = [str(p) for p in json.loads(value)]
    else:
        parts = value.split(os.pathsep)
    return [clean for clean in (normalise(p) for p in parts) if clean]


def normalise(path: str) -> str:
    """An API path as one spelling: no leading/trailing ``/``, no ``.``, ``..`` or ``//``."""
    cleaned = posixpath.normpath("/" + path.strip().strip("/"))
    return cleaned.strip("/")


class WorkspaceContentsManager(AsyncLargeFileManager):
    """Refuses to save, delete or rename anything under the read-only folders."""

    read_only_dirs = List(
        Unicode(), help="Folders (relative to the root) nobody may change through the server."
    ).tag(config=True)
    workspace_refresh_s = Float(
        10.0, help="Least time between two requests for the user's workspaces (0: never ask)."
    ).tag(config=True)

    _refreshed_at: float = float("-inf")
    #: How requests reach the service (``None``: the network; tests hand in the app itself).
    transport: httpx.AsyncBaseTransport | None = None

    @default("read_only_dirs")
    def _default_read_only_dirs(self) -> list[str]:
        return decode_read_only(os.environ.get(READONLY_ENV, ""))

    def is_read_only(self, path: str) -> bool:
        """Whether the API path lies in (or is) a read-only folder."""
        path = normalise(path)
        return any(
            path == ro or path.startswith(f"{ro}/")
            for ro in (normalise(r) for r in self.read_only_dirs)
        )

    def is_writable(self, path: str) -> bool:
        """Read-only folders report ``writable: false`` so that JupyterLab shows it."""
        return not self.is_read_only(path) and bool(super().is_writable(path))

    def _refuse(self, path: str) -> None:
        if self.is_read_only(path):
            raise HTTPError(403, f"read-only (workspace viewer or shared folder): {path}")

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> Any:
        if content and normalise(path) in ("", WORKSPACES_FOLDER):
            await self.refresh_workspaces()
        return await super().get(
            path, content=content, type=type, format=format, require_hash=require_hash
        )

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        self._refuse(path)
        return dict(await super().save(model, path))

    async def delete_file(self, path: str) -> None:
        self._refuse(path)
        await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        self._refuse(old_path)
        self._refuse(new_path)
        await super().rename_file(old_path, new_path)

    async def refresh_workspaces(self, *, force: bool = False) -> bool:
        """Link the user's current workspaces under ``workspaces/``; whether it was done.

        Asks the hcdc service at most every ``workspace_refresh_s`` seconds (unless ``force``);
        without ``HCDC_URL``, ``HCDC_TOKEN`` and ``HCDC_WORKSPACES_DIR`` it does nothing.
        """
        url = os.environ.get("HCDC_URL")
        token = os.environ.get("HCDC_TOKEN")
        root = os.environ.get(WORKSPACES_DIR_ENV)
        now = time.monotonic()
        if not (url and token and root) or self.workspace_refresh_s <= 0:
            return False
        if not force and now - self._refreshed_at < self.workspace_refresh_s:
            return False
        self._refreshed_at = now
        try:
            async with httpx.AsyncClient(timeout=5.0, transport=self.transport) as client:
                reply = await client.get(
                    url.rstrip("/") + "/api/me", headers={"Authorization": f"Bearer {token}"}
                )
                reply.raise_for_status()
            grants = [
                WorkspaceGrant(name=w["name"], role=w["role"], path=str(Path(root) / w["name"]))
                for w in reply.json()["workspaces"]
            ]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            self.log.warning("hcdc workspaces not refreshed: %s", exc)
            return False
        _, read_only = link_workspaces(Path(self.root_dir), grants, workspaces_root=Path(root))
        prefix = f"{WORKSPACES_FOLDER}/"
        others = [r for r in self.read_only_dirs if not normalise(r).startswith(prefix)]
        self.read_only_dirs = [*others, *read_only]
        return True
