"""Uploads: a caller's FITS file -> a private data file shared with one of their workspaces.

The file is streamed into the uploads folder of the data directory under a sanitised name
(never a client-given path), checked as FITS before it is kept, then ingested like any other
file. Content already known is not stored twice: the existing data file is shared instead when
the uploader can see it; when they cannot, the upload is refused (409) without naming that file,
so that uploading tells nobody the id, name or workspaces of data they may not see.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.frames.header_io import FitsFormatError
from hcdc_server.exceptions import ConflictError, TooLargeError, UnprocessableError
from hcdc_server.models.ingest import IngestRecord
from hcdc_server.schema.tables import DataFile
from hcdc_server.services import permissions
from hcdc_server.services.fits_checks import FileLimits, FitsLimitError
from hcdc_server.services.ingest import IngestService, ScannedFile, scan_file
from hcdc_server.services.visibility import Viewer, visible
from hcdc_server.services.workspaces import WorkspaceService

_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
_MAX_NAME = 128


def upload_name(name: str | None) -> str:
    """A safe file name for an upload: no folders, no unusual characters, bounded length."""
    # Browsers on Windows may send the whole path with backslashes.
    base = _UNSAFE.sub("_", PurePosixPath((name or "").replace("\\", "/")).name)
    return base[-_MAX_NAME:].lstrip(".") or "upload.fits"


class UploadService:
    """Store uploaded FITS files and ingest them into a workspace."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        ingest: IngestService,
        workspaces: WorkspaceService,
        uploads_dir: Path,
        max_bytes: int,
    ) -> None:
        self._sessions = sessions
        self._ingest = ingest
        self._workspaces = workspaces
        self._root = uploads_dir
        self._max_bytes = max_bytes

    def upload(
        self, viewer: Viewer, stream: BinaryIO, *, filename: str | None, workspace: str
    ) -> int:
        """The id of the data file holding the uploaded content (new, or known and shared).

        Raises
        ------
        NotFoundError, PermissionDeniedError
            When the caller may not write into ``workspace`` (:mod:`permissions`).
        TooLargeError
            Past ``max_bytes``, or beyond the ingest limits on extensions and decompressed
            data (HTTP 413), naming the limit.
        UnprocessableError
            For content that is not a readable FITS file (HTTP 422), naming the problem.
        ConflictError
            When the archive holds the same content in a data file the caller cannot see
            (HTTP 409, naming nothing of it).
        """
        with self._sessions() as session:
            found = permissions.workspace_id(session, workspace)
            permissions.check_workspace_write(viewer, found, workspace, "uploading to")
        name = upload_name(filename)
        partial = self._receive(stream)
        try:
            scanned = _scan(partial, name, self._ingest.limits)
            self._check_not_hidden(viewer, name, checksum=scanned.checksum)
            destination = self._keep(partial, scanned.checksum, name)
        finally:
            partial.unlink(missing_ok=True)
        records: list[IngestRecord] = []
        self._ingest.ingest(
            [destination],
            workspace=workspace,
            public=False,
            user_login=viewer.login,
            on_record=records.append,
        )
        record = records[0]
        if record.id is None:
            raise ConflictError(f"{name}: could not be stored ({record.reason}); try again")
        if record.status == "unchanged":
            try:
                # Stored meanwhile by somebody else (a race with the check above): still hidden.
                self._check_not_hidden(viewer, name, data_id=record.id)
            finally:
                self._drop_duplicate(record.id, destination)
            self._workspaces.share_data(workspace, [record.id])
        return record.id

    def _check_not_hidden(
        self, viewer: Viewer, name: str, *, checksum: str | None = None, data_id: int | None = None
    ) -> None:
        """409 when a data file with this content (or id) exists that ``viewer`` cannot see."""
        query = select(DataFile.id)
        query = (
            query.where(DataFile.checksum == checksum)
            if data_id is None
            else query.where(DataFile.id == data_id)
        )
        with self._sessions() as session:
            found = session.scalar(query)
            seen = found is not None and session.scalar(
                select(DataFile.id).where(DataFile.id == found, visible(viewer, "data"))
            )
        if found is not None and not seen:
            raise ConflictError(
                f"{name}: this content is already in the archive, in a data file not visible "
                "to you; ask its owners to share it with one of your workspaces"
            )

    def _receive(self, stream: BinaryIO) -> Path:
        """Copy the upload into a partial file, refusing it past the size limit."""
        folder = self._root / ".partial"
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{uuid.uuid4().hex}.part"
        size = 0
        try:
            with partial.open("wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise TooLargeError(
                            f"the file is larger than the upload limit of {self._max_bytes} bytes"
                        )
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return partial

    def _keep(self, partial: Path, checksum: str, name: str) -> Path:
        """Move a checked upload to ``<uploads>/<checksum prefix>/<name>``."""
        folder = self._root / checksum[:16]
        destination = (folder / name).resolve()
        if not destination.is_relative_to(self._root.resolve()):
            raise UnprocessableError(f"{name}: not a usable file name")
        folder.mkdir(parents=True, exist_ok=True)
        if not destination.exists():
            partial.replace(destination)
        return destination

    def _drop_duplicate(self, data_id: int, copy: Path) -> None:
        """Remove an upload whose content an existing data file already holds elsewhere."""
        with self._sessions() as session:
            kept = session.scalar(select(DataFile.path).where(DataFile.id == data_id))
        if kept is not None and Path(kept) != copy:
            copy.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # other names for the same content live there
                copy.parent.rmdir()


def _scan(path: Path, name: str, limits: FileLimits) -> ScannedFile:
    try:
        return scan_file(path, limits)
    except FitsLimitError as exc:
        raise TooLargeError(f"{name}: {exc}") from exc
    except (FitsFormatError, OSError) as exc:
        raise UnprocessableError(f"{name}: not a valid FITS file: {exc}") from exc
