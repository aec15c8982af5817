"""Alembic driven from code: the CLI, the tests and start-up use the same configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

#: Where a database stands: no hcdc schema yet, an older one, the latest, or a newer one.
SchemaState = Literal["empty", "outdated", "current", "newer"]

ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def check(engine: Engine) -> None:
    """Raise if the models and the migrated database differ (schema drift)."""
    command.check(alembic_config(engine))


def schema_state(engine: Engine) -> tuple[SchemaState, str | None, str]:
    """Where the database's schema stands, its revision (None when empty) and the latest one.

    Reads only: nothing is created, not even Alembic's version table.
    """
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    assert head is not None, "hcdc ships at least one migration"
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return "empty", None, head
    if current == head:
        return "current", current, head
    known = {revision.revision for revision in script.walk_revisions()}
    return ("outdated" if current in known else "newer"), current, head
