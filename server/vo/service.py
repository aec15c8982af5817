"""VO publication: set up hcdc's DaCHS, publish the public data, serve it.

``hcdc vo publish`` (explicit or periodic) and the validation hook (:meth:`VoService.on_valid`)
call :meth:`VoService.publish`; ``hcdc vo serve`` and ``hcdc up --vo`` run the server.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.config import Settings
from hcdc_server.exceptions import VoUnavailableError
from hcdc_server.schema import tables as t
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import release_due
from hcdc_server.services.workspaces import WorkspaceService
from hcdc_server.storage.database import create_db_engine
from hcdc_server.vo.dachs import Dachs, DachsConfig, dachs_executable
from hcdc_server.vo.records import PublicationReader, Urls
from hcdc_server.vo.store import PublishedTables

log = logging.getLogger(__name__)

#: Background publications of this process, by VO database: one at a time, and one more when
#: validations came in meanwhile.
_BACKGROUND_LOCK = threading.Lock()
_RUNNING: set[str] = set()
_AGAIN: set[str] = set()

SQLITE_MESSAGE = (
    "VO publication needs PostgreSQL (DaCHS serves from it): set HCDC_DATABASE_URL="
    "postgresql://... (or HCDC_VO_DATABASE_URL); the embedded SQLite default is not published"
)


@dataclass(frozen=True)
class PublishSummary:
    """What one publication did."""

    files: int
    links: int
    companions: int
    released: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "files": self.files,
            "links": self.links,
            "companions": self.companions,
            "released": self.released,
            "seconds": round(self.seconds, 3),
        }


def vo_enabled(settings: Settings) -> bool:
    """Whether this site can publish at all (PostgreSQL, DaCHS installed)."""
    return _is_postgres(settings.resolved_vo_database_url) and dachs_executable() is not None


def _is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


class VoService:
    """hcdc's publication in the VO."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions
        self._engine: Engine | None = None

    # -- parts -----------------------------------------------------------------------------

    def require_postgres(self) -> None:
        if not (
            _is_postgres(self._settings.resolved_database_url)
            and _is_postgres(self._settings.resolved_vo_database_url)
        ):
            raise VoUnavailableError(SQLITE_MESSAGE)

    @property
    def dachs(self) -> Dachs:
        s = self._settings
        return Dachs(
            DachsConfig(
                root=s.resolved_vo_dir.resolve(),
                port=s.vo_port,
                database_url=s.resolved_vo_database_url,
                authority=s.vo_authority,
                max_rows=s.vo_max_rows,
            )
        )

    @property
    def urls(self) -> Urls:
        return Urls(authority=self._settings.vo_authority, api=self._settings.vo_public_url)

    def _vo_engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_db_engine(self._settings.resolved_vo_database_url)
        return self._engine

    def tables(self) -> PublishedTables:
        return PublishedTables(self._vo_engine())

    # -- actions ---------------------------------------------------------------------------

    def set_up(self) -> bool:
        """DaCHS's settings, database and hcdc's tables (idempotent); whether the tables
        were (re)created, empty."""
        self.require_postgres()
        return self.dachs.set_up(tables_missing=not self.tables().exists())

    def release(self) -> int:
        """Make public the raw files whose proprietary period has ended (none unless
        ``proprietary_days`` is set) and those shared with public workspaces; returns how
        many."""
        released = WorkspaceService(self._sessions).release_public()
        days = self._settings.proprietary_days
        if days is None:
            return released
        with self._sessions.begin() as session:
            result = session.execute(
                update(t.DataFile)
                .where(release_due(utcnow() - timedelta(days=days)))
                .values(is_public=True)
            )
            return released + int(result.rowcount or 0)  # type: ignore[attr-defined]

    def publish(self) -> PublishSummary:
        """Release what is due, then replace the published rows with the public data now.

        Sets DaCHS up first where needed (a first publication, a new hcdc).
        """
        started = time.monotonic()
        try:
            self.set_up()
            released = self.release()
            with self._sessions() as session:
                publication = PublicationReader(session, self.urls).read()
            counts = self.tables().replace(publication)
        finally:
            self.close()  # the VO database's connections are not kept between publications
        summary = PublishSummary(
            files=counts["files"],
            links=counts["links"],
            companions=counts["epn_core"],
            released=released,
            seconds=time.monotonic() - started,
        )
        log.info("VO publication: %s", summary.as_dict())
        return summary

    def on_valid(self, process_id: int) -> None:
        """Validation hook: a process validated as ``valid`` has its products published.

        The publication runs in the background (it rewrites every row: seconds at 100 000
        files), after the validation is committed; validations meanwhile are taken in by one
        more run. It never fails the validation: where the VO is not set up (SQLite, no
        DaCHS, no publication yet) it does nothing, and an error is logged for the next
        ``hcdc vo publish`` to repair.
        """
        if not (self._settings.vo_auto_publish and vo_enabled(self._settings)):
            return
        if not self.dachs.initialised:
            return
        key = self._settings.resolved_vo_database_url
        with _BACKGROUND_LOCK:
            if key in _RUNNING:
                _AGAIN.add(key)
                return
            _RUNNING.add(key)
        log.info("publishing after the validation of process %d", process_id)
        threading.Thread(
            target=self._publish_in_background, args=(key,), name="hcdc-vo-publish", daemon=True
        ).start()

    def _publish_in_background(self, key: str) -> None:
        while True:
            try:
                self.publish()
            except Exception:
                log.exception("VO publication after a validation failed")
            with _BACKGROUND_LOCK:
                if key not in _AGAIN:
                    _RUNNING.discard(key)
                    return
                _AGAIN.discard(key)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
