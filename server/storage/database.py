"""Database engine and sessions; the only place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that may mean "the database is down or busy"; :func:`is_unavailable` decides.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.TimeoutError)
#: A failed SQL statement of any kind: its text shows the statement.
STATEMENT_ERRORS: tuple[type[Exception], ...] = (sa_exc.StatementError,)
_SQLITE_BUSY = ("locked", "busy", "unable to open", "disk i/o")
#: SQLite's message for a statement its progress handler aborted; PostgreSQL's SQLSTATE for a
#: statement cancelled (by ``statement_timeout`` here).
_SQLITE_INTERRUPTED = "interrupted"
_QUERY_CANCELED = "57014"
#: SQLite VM instructions between two looks at the clock (a few microseconds of work).
_PROGRESS_STEPS = 10_000
#: Keys of a connection's ``info``: when its statement must end; set while the timeout is lifted.
_DEADLINE = "hcdc_statement_deadline"
_NO_TIMEOUT = "hcdc_no_statement_timeout"


def create_db_engine(
    url: str, *, statement_timeout_s: float = 0.0, pool_size: int = 12, max_overflow: int = 4
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    A positive ``statement_timeout_s`` bounds every statement: PostgreSQL's
    ``statement_timeout`` in each connection's options, a progress handler on SQLite; the
    statement then fails with an error :func:`is_statement_timeout` recognises. Parameters never
    appear in error messages or logs (``hide_parameters``): they hold users' input. A PostgreSQL
    engine keeps ``pool_size`` connections and opens at most ``max_overflow`` more.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if statement_timeout_s > 0:
            _sqlite_statement_timeout(engine, statement_timeout_s)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            # psycopg 3 is the driver hcdc installs; plain postgresql:// would ask for psycopg2.
            parsed = parsed.set(drivername="postgresql+psycopg")
        if statement_timeout_s > 0:
            # Added to the URL's own options (a search_path, say), which connect_args would replace.
            given = parsed.query.get("options", "")
            given = " ".join(given) if isinstance(given, tuple) else given
            timeout = f"-c statement_timeout={max(1, round(statement_timeout_s * 1000))}"
            parsed = parsed.update_query_dict({"options": f"{given} {timeout}".strip()})
        url = parsed.render_as_string(hide_password=False)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
    )


def _sqlite_statement_timeout(engine: Engine, seconds: float) -> None:
    """Abort a SQLite statement once it has run ``seconds`` (rows fetched later included)."""

    @event.listens_for(engine, "connect")
    def install(dbapi_connection: Any, record: Any) -> None:
        info = record.info

        def past_deadline() -> int:
            deadline = info.get(_DEADLINE)
            return int(deadline is not None and time.monotonic() > deadline)

        dbapi_connection.set_progress_handler(past_deadline, _PROGRESS_STEPS)

    @event.listens_for(engine, "before_cursor_execute")
    def start(conn: Connection, *_: Any) -> None:
        lifted = conn.info.get(_NO_TIMEOUT)
        conn.info[_DEADLINE] = None if lifted else time.monotonic() + seconds

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def finish(conn: Connection) -> None:
        conn.info.pop(_DEADLINE, None)


@contextmanager
def no_statement_timeout(connection: Connection) -> Iterator[None]:
    """Lift the statement timeout inside ``connection``'s transaction (schema migrations)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        yield
        return
    connection.info[_NO_TIMEOUT] = True
    try:
        yield
    finally:
        connection.info.pop(_NO_TIMEOUT, None)


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement stopped by the statement timeout."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig) == _SQLITE_INTERRUPTED
    return getattr(orig, "sqlstate", None) == _QUERY_CANCELED


def is_statement_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed SQL statement (its text would show the statement)."""
    return isinstance(exc, STATEMENT_ERRORS)


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
    if is_statement_timeout(exc):
        return False  # the database answered: this statement is too slow, retrying won't help
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
