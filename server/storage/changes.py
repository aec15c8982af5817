"""Change stamps: how every process learns that cached rows changed, without asking the database.

API worker processes, API replicas on other machines, the worker and the CLI share nothing but
the database and the data directory. A process that keeps credentials or recipes in memory
must still see a revocation on the next request, so each commit that wrote a watched table
replaces a small file per topic in ``<data dir>/changes/``; readers compare the file's stamp
(inode, modification time) with the one their cache entry was made under: one ``stat`` call,
a few microseconds, instead of a database round trip.

The writes are seen by session events (ORM flushes and ``update()``/``delete()`` statements
through a session), so no service has to remember to announce them.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

_log = logging.getLogger(__name__)

#: Stamp of a topic: (inode, mtime in ns) of its file, None while it was never bumped.
Stamp = tuple[int, int] | None

AUTH = "auth"
RECIPES = "recipes"
#: Recipes' run-time histories: announced by the worker when a run ends.
DURATIONS = "durations"
#: Which cached facts each table's rows feed.
TOPICS_OF_TABLES: dict[str, str] = {
    "users": AUTH,
    "tokens": AUTH,
    "workspaces": AUTH,
    "workspace_members": AUTH,
    "recipes": RECIPES,
    "recipe_presets": RECIPES,
}
_PENDING = "hcdc_changed_topics"


class ChangeStamps:
    """One file per topic in ``folder``; replacing it (a new inode) is the change signal."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def stamp(self, topic: str) -> Stamp:
        try:
            info = (self._folder / topic).stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns)

    def bump(self, topics: Iterable[str]) -> None:
        """Announce a change of ``topics`` (after the commit that made it)."""
        for topic in sorted(set(topics)):
            path = self._folder / topic
            scratch = path.with_name(f".{topic}.{secrets.token_hex(6)}")
            try:
                self._folder.mkdir(parents=True, exist_ok=True)
                scratch.write_text(secrets.token_hex(8))
                # The scratch file exists beside the old one, so the rename gives a new inode.
                scratch.replace(path)
            except OSError as exc:
                # Caches then notice the change when their entries expire (a few seconds).
                _log.warning("cannot announce a change of %s in %s: %s", topic, path, exc)
                scratch.unlink(missing_ok=True)


def announce(session: Session, topic: str) -> None:
    """Bump ``topic`` once ``session`` commits (for changes no watched table shows)."""
    session.info.setdefault(_PENDING, set()).add(topic)


def watch(sessions: sessionmaker[Session], stamps: ChangeStamps) -> None:
    """Bump the topics of the watched tables that a session wrote, once it has committed."""

    def note(session: Session, tables: Iterable[str]) -> None:
        for name in tables:
            if name in TOPICS_OF_TABLES:
                announce(session, TOPICS_OF_TABLES[name])

    def flushed(session: Session, _context: UOWTransaction) -> None:
        objects = (*session.new, *session.dirty, *session.deleted)
        note(session, (getattr(obj, "__tablename__", "") for obj in objects))

    def executed(state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete or state.is_insert:
            table: Any = getattr(state.statement, "table", None)
            note(state.session, [getattr(table, "name", "")])

    def committed(session: Session) -> None:
        topics = session.info.pop(_PENDING, None)
        if topics:
            stamps.bump(topics)

    def rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)

    event.listen(sessions, "after_flush", flushed)
    event.listen(sessions, "do_orm_execute", executed)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)
