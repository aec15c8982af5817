"""Database engine and sessions; the only place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that may mean "the database is down or busy"; :func:`is_unavailable` decides.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.TimeoutError)
_SQLITE_BUSY = ("locked", "busy", "unable to open", "disk i/o")


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is the driver hcdc installs; plain postgresql:// would ask for psycopg2.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (services return models after it)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or is locked (worth a retry).

    Every PostgreSQL ``OperationalError`` is about the connection or server; SQLite raises the
    same class for schema mistakes, so only its busy/locked/unreachable messages count.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError):
        return False
    if isinstance(exc.orig, sqlite3.OperationalError):
        return any(word in str(exc.orig).lower() for word in _SQLITE_BUSY)
    return True


def retry_unavailable(
    operation: Callable[[], T],
    *,
    what: str,
    attempts: int = 8,
    first_delay_s: float = 0.25,
    max_delay_s: float = 5.0,
) -> T:
    """Run ``operation``, retrying with exponential backoff while the database is unavailable.

    ``operation`` must be one transaction (it is run again from its start). The default
    schedule waits about 18 s in all before the last error is raised.
    """
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except UNAVAILABLE_ERRORS as exc:
            if attempt == attempts or not is_unavailable(exc):
                raise
            _log.warning(
                "%s: database unavailable (%s); retry %d in %.1f s",
                what,
                describe_unavailable(exc),
                attempt,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, max_delay_s)
    raise AssertionError("unreachable")  # pragma: no cover


def describe_unavailable(exc: BaseException) -> str:
    """The first line of the driver's message, without SQL or parameters."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
