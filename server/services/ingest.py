"""Ingest: FITS files -> data file rows, never stopping at a bad file.

Files are scanned (header, checksum, size checks, extensions counted) one by one and written
in batches, one
transaction per batch, so an interrupted ingest loses at most the batch in flight and a re-run
resumes: a file whose content checksum is known is ``unchanged`` (or has its path updated when it
moved), never duplicated.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.frames.header_io import FitsFormatError
from hcdc_kernel.frames.info import FrameInfo
from hcdc_kernel.targets import TargetInfo
from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.ingest import IngestRecord
from hcdc_server.schema.tables import DataFile, Observation, User, Workspace, WorkspaceData
from hcdc_server.services.conditions import ConditionsService
from hcdc_server.services.fits_checks import FileLimits
from hcdc_server.services.ingest_scan import CHUNK, ScannedFile, scan_file, scan_file_fast
from hcdc_server.services.targets import TargetService
from hcdc_server.services.users import utcnow
from hcdc_server.storage.database import retry_unavailable

_SCIENCE_CATEGORIES = frozenset({"SCIENCE", "PRODUCT"})


@dataclass(frozen=True)
class IngestSummary:
    """Counts per status of one ingest run."""

    ingested: int
    unchanged: int
    rejected: int

    @property
    def total(self) -> int:
        return self.ingested + self.unchanged + self.rejected


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file under ``paths`` (files as given, folders recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield Path(root) / name
        else:
            yield path


__all__ = ["IngestService", "IngestSummary", "ScannedFile", "iter_files", "scan_file"]


def _scan_or_reason(path: Path, limits: FileLimits, fast: bool) -> ScannedFile | str:
    try:
        return scan_file_fast(path, limits) if fast else scan_file(path, limits)
    except (FitsFormatError, OSError) as exc:
        return _reason(exc)
    except (ArithmeticError, ValueError, TypeError) as exc:
        # A header value no check above foresaw: this file is rejected, the run goes on.
        return f"unusable FITS header value: {type(exc).__name__}: {exc}"


def _scan_many(paths: list[Path], limits: FileLimits, fast: bool) -> list[ScannedFile | str]:
    return [_scan_or_reason(path, limits, fast) for path in paths]


#: What a worker process sends back per readable file: size, checksum, extensions and the
#: FrameInfo's field values. Plain tuples pickle in a third of the time of the dataclasses, and
#: the parent, which stores every file, is the busiest process of an ingest.
_Packed = tuple[int, str, int, tuple[Any, ...]]
_INFO_FIELDS = tuple(field.name for field in fields(FrameInfo))


def _scan_packed(paths: list[Path], limits: FileLimits, fast: bool) -> list[_Packed | str]:
    return [
        result
        if isinstance(result, str)
        else (
            result.size,
            result.checksum,
            result.extensions,
            tuple(getattr(result.info, name) for name in _INFO_FIELDS),
        )
        for result in _scan_many(paths, limits, fast)
    ]


def _unpack(path: Path, packed: _Packed | str) -> ScannedFile | str:
    if isinstance(packed, str):
        return packed
    size, checksum, extensions, info = packed
    return ScannedFile(path, size, checksum, FrameInfo(*info), extensions)


def _chunks(paths: Iterator[Path], size: int) -> Iterator[list[Path]]:
    chunk: list[Path] = []
    for path in paths:
        chunk.append(path)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Scanner:
    """Scans files in worker processes: header parsing is CPU-bound Python, so threads don't help.

    The pool starts on the first chunk big enough to pay for it; small ingests stay in-process.
    """

    _MIN_PARALLEL = 200

    def __init__(self, workers: int, limits: FileLimits, fast: bool) -> None:
        self._workers = workers
        self._fast = fast
        self._limits = limits
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Scanner:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def scan_ahead(
        self, chunks: Iterator[list[Path]]
    ) -> Iterator[tuple[list[Path], list[ScannedFile | str]]]:
        """Scan results chunk by chunk, the next chunk scanning while the caller stores this one."""
        pending: tuple[list[Path], Callable[[], list[ScannedFile | str]]] | None = None
        for chunk in chunks:
            started = (chunk, self._start(chunk))
            if pending is not None:
                yield pending[0], pending[1]()
            pending = started
        if pending is not None:
            yield pending[0], pending[1]()

    def _start(self, chunk: list[Path]) -> Callable[[], list[ScannedFile | str]]:
        if self._workers <= 1 or len(chunk) < self._MIN_PARALLEL:
            results = _scan_many(chunk, self._limits, self._fast)
            return lambda: results
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("fork")
            )
        size = max(1, len(chunk) // (self._workers * 2))
        parts = [chunk[i : i + size] for i in range(0, len(chunk), size)]
        futures = [
            (part, self._pool.submit(_scan_packed, part, self._limits, self._fast))
            for part in parts
        ]
        return lambda: [
            _unpack(path, packed)
            for part, future in futures
            for path, packed in zip(part, future.result(), strict=True)
        ]


class IngestService:
    """Store FITS files as data files, resolving targets and grouping observations."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        raw_dir: Path,
        targets: TargetService,
        limits: FileLimits,
        workers: int = 1,
        batch_size: int = 1000,
        conditions: ConditionsService | None = None,
        fast_scan: bool = True,
    ) -> None:
        self.limits = limits
        #: Small files read whole and headers decoded through the card cache (same results);
        #: False streams every file as :func:`scan_file` does.
        self.fast_scan = fast_scan
        self._conditions = conditions
        self._workers = workers
        self._batch_size = batch_size
        self._sessions = sessions
        self._raw_dir = raw_dir
        self._targets = targets

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        copy: bool = False,
        workspace: str | None = None,
        public: bool = True,
        user_login: str | None = None,
        batch_size: int | None = None,
        on_record: Callable[[IngestRecord], None] | None = None,
    ) -> IngestSummary:
        """Ingest files and folders; every file yields exactly one :class:`IngestRecord`.

        A database that is briefly unavailable is waited for (each batch is retried whole).
        """
        counts = {"ingested": 0, "unchanged": 0, "rejected": 0}
        batch_size = batch_size or self._batch_size
        workspace_id, user_id = retry_unavailable(
            lambda: self._context(workspace, user_login), what="ingest"
        )

        def emit(record: IngestRecord) -> None:
            counts[record.status] += 1
            if on_record is not None:
                on_record(record)

        with _Scanner(self._workers, self.limits, self.fast_scan) as scanner:
            for chunk, results in scanner.scan_ahead(_chunks(iter_files(paths), batch_size)):
                batch: list[ScannedFile] = []
                for path, result in zip(chunk, results, strict=True):
                    if isinstance(result, ScannedFile):
                        batch.append(result)
                    else:
                        emit(IngestRecord(path=str(path), status="rejected", reason=result))
                if batch:
                    self._store(batch, copy, workspace_id, user_id, public, emit)
        return IngestSummary(**counts)

    def _context(self, workspace: str | None, login: str | None) -> tuple[int | None, int | None]:
        with self._sessions() as session:
            workspace_id = user_id = None
            if workspace is not None:
                workspace_id = session.scalar(
                    select(Workspace.id).where(Workspace.name == workspace)
                )
                if workspace_id is None:
                    raise NotFoundError(f"no workspace {workspace!r}")
            if login is not None:
                user_id = session.scalar(select(User.id).where(User.login == login))
                if user_id is None:
                    raise NotFoundError(f"no user {login!r}")
            return workspace_id, user_id

    def _store(
        self,
        batch: list[ScannedFile],
        copy: bool,
        workspace_id: int | None,
        user_id: int | None,
        public: bool,
        emit: Callable[[IngestRecord], None],
    ) -> None:
        # SIMBAD is asked here, between transactions: none waits on the network.
        resolved = retry_unavailable(lambda: self._resolve_targets(batch), what="ingest")

        def store(files: list[ScannedFile]) -> list[IngestRecord]:
            return retry_unavailable(
                lambda: self._store_batch(files, copy, workspace_id, user_id, public, resolved),
                what="ingest",
            )

        try:
            records = store(batch)
        except (IntegrityError, DataError):
            # A concurrent ingest stored some of these files first (or one holds a value the
            # database refuses): redo one by one, so each file is judged on its own.
            records = []
            for scanned in batch:
                try:
                    records += store([scanned])
                except (IntegrityError, DataError) as exc:
                    records.append(
                        IngestRecord(path=str(scanned.path), status="rejected", reason=_reason(exc))
                    )
        for record in self._with_conditions(records):
            emit(record)

    def _with_conditions(self, records: list[IngestRecord]) -> list[IngestRecord]:
        """Read the telemetry of new SPARTA files and link new exposures to their conditions;
        a SPARTA file read in part says what it lacks in its record's reason."""
        ingested = [
            (r.id, r.frame_type or "")
            for r in records
            if r.status == "ingested" and r.id is not None
        ]
        conditions = self._conditions
        if conditions is None or not ingested:
            return records
        reports = retry_unavailable(lambda: conditions.after_ingest(ingested), what="ingest")
        return [
            record.model_copy(update={"reason": "; ".join(reports[record.id].messages)})
            if record.id in reports and reports[record.id].messages
            else record
            for record in records
        ]

    def _store_batch(
        self,
        batch: list[ScannedFile],
        copy: bool,
        workspace_id: int | None,
        user_id: int | None,
        public: bool,
        resolved: Mapping[str, TargetInfo],
    ) -> list[IngestRecord]:
        records: dict[int, IngestRecord] = {}
        with self._sessions.begin() as session:
            known = {
                row.checksum: row
                for row in session.execute(
                    select(DataFile.id, DataFile.checksum, DataFile.path).where(
                        DataFile.checksum.in_([s.checksum for s in batch])
                    )
                )
            }
            new: list[tuple[int, ScannedFile, Path]] = []
            seen: dict[str, Path] = {}
            resolve = _Resolver()
            for index, scanned in enumerate(batch):
                row = known.get(scanned.checksum)
                if row is not None:
                    here = str(resolve(scanned.path))
                    records[index] = self._known(session, scanned, row.id, row.path, here)
                elif scanned.checksum in seen:
                    records[index] = _record(
                        scanned, "unchanged", None, f"same content as {seen[scanned.checksum]}"
                    )
                else:
                    seen[scanned.checksum] = scanned.path
                    stored_path = self._copy(scanned) if copy else resolve(scanned.path)
                    new.append((index, scanned, stored_path))
            if new:
                infos = [scanned.info for _, scanned, _ in new]
                target_ids = self._target_ids(session, infos, resolved)
                observation_ids = self._observation_ids(session, infos, target_ids)
                rows = [
                    self._row(
                        scanned, stored_path, copy, user_id, public, target_ids, observation_ids
                    )
                    for _, scanned, stored_path in new
                ]
                # Core statements on the session's connection, without the ORM's per-row
                # bookkeeping: one executemany, then the new ids by checksum (unique) in one
                # query. RETURNING in parameter order costs SQLite one statement per row.
                connection = session.connection()
                connection.execute(insert(DataFile.__table__), rows)
                id_of = {
                    row.checksum: row.id
                    for row in connection.execute(
                        select(DataFile.checksum, DataFile.id).where(
                            DataFile.checksum.in_([row["checksum"] for row in rows])
                        )
                    )
                }
                ids = [id_of[row["checksum"]] for row in rows]
                if workspace_id is not None:
                    connection.execute(
                        insert(WorkspaceData.__table__),
                        [{"workspace_id": workspace_id, "data_file_id": i} for i in ids],
                    )
                for (index, scanned, _), new_id in zip(new, ids, strict=True):
                    records[index] = _record(scanned, "ingested", new_id, None)
        return [records[i] for i in sorted(records)]

    def _known(
        self, session: Session, scanned: ScannedFile, file_id: int, path: str, here: str
    ) -> IngestRecord:
        if path == here:
            return _record(scanned, "unchanged", file_id, None)
        if not Path(path).exists():
            session.get_one(DataFile, file_id).path = here
            return _record(scanned, "unchanged", file_id, f"moved: path updated from {path}")
        return _record(
            scanned, "unchanged", file_id, f"same content as data file {file_id} at {path}"
        )

    def _copy(self, scanned: ScannedFile) -> Path:
        night = scanned.info.obs_night.isoformat() if scanned.info.obs_night else "undated"
        dest_dir = self._raw_dir / night
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / scanned.path.name
        if dest.exists() and dest.resolve() != scanned.path.resolve():
            if _same_content(dest, scanned):
                # Copied by an earlier run that died before its commit: reuse, don't duplicate.
                return dest.resolve()
            dest = dest_dir / f"{scanned.checksum[:12]}_{scanned.path.name}"
            if dest.exists() and _same_content(dest, scanned):
                return dest.resolve()
        if dest.resolve() != scanned.path.resolve():
            tmp = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(scanned.path, tmp)
            tmp.replace(dest)  # atomic: a crash never leaves a half-copied file under its name
        return dest.resolve()

    def _row(
        self,
        scanned: ScannedFile,
        stored_path: Path,
        copy: bool,
        user_id: int | None,
        public: bool,
        target_ids: dict[str, int | None],
        observation_ids: dict[str, int],
    ) -> dict[str, Any]:
        info = scanned.info
        name = _target_name(info)
        target_id = target_ids.get(name) if name else None
        obs_key = _observation_key(info)
        naxis = (*info.naxis, None, None, None)
        return {
            "path": str(stored_path),
            "filename": stored_path.name,
            "checksum": scanned.checksum,
            "size": scanned.size,
            "storage": "copy" if copy else "reference",
            "frame_type": info.frame_type,
            "classification_reason": info.classification_reason,
            "instrument": info.instrument,
            "arm": info.arm,
            "category": info.category,
            "dpr_type": info.dpr_type,
            "dpr_tech": info.dpr_tech,
            "object": info.object,
            "target_id": target_id,
            "observation_id": observation_ids.get(obs_key) if obs_key else None,
            "date_obs": info.date_obs,
            "mjd_obs": info.mjd_obs,
            "obs_night": info.obs_night,
            "ra": info.ra,
            "dec": info.dec,
            "instrument_filter": info.instrument_filter,
            "dit": info.dit,
            "ndit": info.ndit,
            "exptime": info.exptime,
            "prog_id": info.prog_id,
            "obs_id": info.obs_id,
            "readout_mode": info.readout_mode,
            "derotator_mode": info.derotator_mode,
            "coronagraph": info.coronagraph,
            "airmass": info.airmass,
            "seeing": info.seeing,
            "tau0": info.tau0,
            "naxis1": naxis[0],
            "naxis2": naxis[1],
            "naxis3": naxis[2],
            "n_extensions": scanned.extensions,
            "is_raw": info.category != "PRODUCT",
            "is_standard": info.is_standard,
            "is_public": public,
            "status": "ok",
            "ingested_at": utcnow(),
            "ingested_by": user_id,
        }

    def _resolve_targets(self, batch: list[ScannedFile]) -> dict[str, TargetInfo]:
        """SIMBAD's answers for the batch's target names not yet stored (by normalised name).

        The names known already are read in a short session of their own; the network is then
        asked with no transaction open.
        """
        names: dict[str, tuple[float | None, float | None]] = {}
        for scanned in batch:
            name = _target_name(scanned.info)
            if name and name not in names:
                names[name] = (scanned.info.ra, scanned.info.dec)
        if not names:
            return {}
        with self._sessions() as session:
            unknown = self._targets.unknown_names(session, names)
        return self._targets.resolve({name: names[name] for name in unknown})

    def _target_ids(
        self, session: Session, infos: list[FrameInfo], resolved: Mapping[str, TargetInfo]
    ) -> dict[str, int | None]:
        """Target id per raw target name of the batch (new targets from ``resolved``)."""
        ids: dict[str, int | None] = {}
        for info in infos:
            name = _target_name(info)
            if name and name not in ids:
                ids[name] = self._targets.target_id(
                    session, name, ra=info.ra, dec=info.dec, resolved=resolved
                )
        return ids

    def _observation_ids(
        self, session: Session, infos: list[FrameInfo], target_ids: dict[str, int | None]
    ) -> dict[str, int]:
        """Observation id per key of the batch, creating observations and their conditions."""
        keys = {key for info in infos if (key := _observation_key(info))}
        if not keys:
            return {}
        found = {
            obs.key: obs
            for obs in session.scalars(select(Observation).where(Observation.key.in_(keys)))
        }
        for info in infos:
            key = _observation_key(info)
            if key is None:
                continue
            obs = found.get(key)
            if obs is None:
                obs = found[key] = Observation(
                    key=key,
                    instrument=info.instrument,
                    obs_id=info.obs_id,
                    obs_name=info.obs_name,
                    prog_id=info.prog_id,
                    pi_coi=info.pi_coi,
                    obs_night=info.obs_night,
                    date_start=info.date_obs,
                    derotator_mode=info.derotator_mode,
                )
                session.add(obs)
            if info.category == "SCIENCE":
                # Conditions of an observation are those of its science frames, not calibrations.
                name = _target_name(info)
                obs.target_id = obs.target_id or (target_ids.get(name) if name else None)
                obs.seeing = obs.seeing if obs.seeing is not None else info.seeing
                obs.tau0 = obs.tau0 if obs.tau0 is not None else info.tau0
                obs.airmass = obs.airmass if obs.airmass is not None else info.airmass
            if info.date_obs and (obs.date_start is None or info.date_obs < obs.date_start):
                obs.date_start = info.date_obs
        session.flush()
        return {key: obs.id for key, obs in found.items()}


def _same_content(path: Path, scanned: ScannedFile) -> bool:
    try:
        if path.stat().st_size != scanned.size:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == scanned.checksum


def _target_name(info: FrameInfo) -> str | None:
    if info.category not in _SCIENCE_CATEGORIES:
        return None
    return info.target_name or info.object


def _observation_key(info: FrameInfo) -> str | None:
    if info.obs_id is None or info.category == "PRODUCT":
        return None
    return f"{info.instrument or '?'}:{info.obs_id}"


def _record(
    scanned: ScannedFile, status: str, file_id: int | None, reason: str | None
) -> IngestRecord:
    # Built from values already typed: validation would cost more than the rest of the record.
    return IngestRecord.model_construct(
        path=str(scanned.path),
        status=status,
        id=file_id,
        frame_type=scanned.info.frame_type,
        obs_night=scanned.info.obs_night,
        reason=reason,
    )


class _Resolver:
    """``Path.resolve()`` with each folder resolved once: a file that is not a symbolic link
    resolves to its resolved folder plus its name (one ``lstat`` instead of one per level)."""

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}

    def __call__(self, path: Path) -> Path:
        if path.name in ("", ".", "..") or path.is_symlink():
            return path.resolve()
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = path.parent.resolve()
        return folder / path.name


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FitsFormatError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read file: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
