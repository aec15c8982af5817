"""A local download cache of data files, keyed by file id and checksum.

A file is downloaded once into ``<cache>/<id>-<checksum[:16]>/<file name>`` and reused while the
service reports the same checksum. An interrupted download resumes where it stopped with an HTTP
``Range`` request; a completed one is checked against the SHA-256 the service gives.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from hcdc_kernel.client.errors import HcdcError
from hcdc_kernel.client.transport import Transport

__all__ = ["DownloadCache", "default_cache_dir"]

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$HCDC_CACHE_DIR``, else ``$XDG_CACHE_HOME/hcdc/files`` (``~/.cache/hcdc/files``)."""
    configured = os.environ.get("HCDC_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hcdc" / "files"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class DownloadCache:
    """Data files downloaded from the service into ``folder``."""

    def __init__(self, transport: Transport, folder: Path) -> None:
        self._transport = transport
        self.folder = folder

    def path_for(self, data_id: int, checksum: str, file_name: str) -> Path:
        """Where the file lives in the cache (whether or not it is there yet)."""
        safe_name = Path(file_name).name or f"{data_id}.fits"
        return self.folder / f"{data_id}-{checksum[:16]}" / safe_name

    def fetch(
        self,
        data_id: int,
        *,
        checksum: str,
        file_name: str,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Path:
        """The cached file, downloading (or resuming) it first where needed."""
        target = self.path_for(data_id, checksum, file_name)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        offset = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else None
        with self._transport.stream("GET", f"/api/data/{data_id}/file", headers=headers) as reply:
            # 200 instead of 206: the server ignored the range, so start again.
            mode = "ab" if offset and reply.status_code == 206 else "wb"
            with partial.open(mode) as stream:
                for block in reply.iter_bytes(_CHUNK):
                    stream.write(block)
                    if on_bytes is not None:
                        on_bytes(len(block))
        actual = _sha256(partial)
        if checksum and actual != checksum:
            partial.unlink()
            raise HcdcError(
                f"download of data file {data_id} is corrupt: sha256 {actual} != {checksum}"
            )
        partial.replace(target)
        return target
