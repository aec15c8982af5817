"""Alembic environment: the engine comes from the caller (see hcdc_server.schema.migrate)."""

from __future__ import annotations

from alembic import context

from hcdc_server.schema.tables import Base
from hcdc_server.storage.database import no_statement_timeout

config = context.config
engine = config.attributes["engine"]

# A migration rewrites whole tables: it runs as long as it needs, past the statement timeout.
with engine.begin() as connection, no_statement_timeout(connection):
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
