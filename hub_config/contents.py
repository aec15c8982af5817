"""Jupyter contents manager that keeps some folders of the home read-only (viewers' workspaces).

User servers read the folders from ``HCDC_READONLY_DIRS`` (paths relative to the server's root,
separated by ``os.pathsep``), which the spawn hook sets.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError
from traitlets import List, Unicode, default

READONLY_ENV = "HCDC_READONLY_DIRS"


class WorkspaceContentsManager(AsyncLargeFileManager):
    """Refuses to save, delete or rename anything under the read-only folders."""

    read_only_dirs = List(
        Unicode(), help="Folders (relative to the root) nobody may change through the server."
    ).tag(config=True)

    @default("read_only_dirs")
    def _default_read_only_dirs(self) -> list[str]:
        value = os.environ.get(READONLY_ENV, "")
        return [part.strip("/") for part in value.split(os.pathsep) if part.strip("/")]

    def is_read_only(self, path: str) -> bool:
        """Whether the API path lies in (or is) a read-only folder."""
        path = path.strip("/")
        return any(path == ro or path.startswith(f"{ro}/") for ro in self.read_only_dirs)

    def is_writable(self, path: str) -> bool:
        """Read-only folders report ``writable: false`` so that JupyterLab shows it."""
        return not self.is_read_only(path) and bool(super().is_writable(path))

    def _refuse(self, path: str) -> None:
        if self.is_read_only(path):
            raise HTTPError(403, f"read-only (workspace viewer or shared folder): {path}")

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
