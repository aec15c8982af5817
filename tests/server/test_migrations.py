"""Schema drift is a test failure: migrations reach head and match the models."""

from __future__ import annotations

from sqlalchemy import inspect

from hcdc_server.schema.migrate import check, upgrade
from hcdc_server.schema.tables import Base


def test_upgrade_head_then_check(factory) -> None:
    upgrade(factory.engine)  # already at head: a second upgrade is a no-op
    check(factory.engine)
    tables = set(inspect(factory.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
