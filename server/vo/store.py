"""The published tables in DaCHS's database (schema ``hcdc_vo``): replaced in one transaction.

Readers (TAP, SIA, DataLink) see the old publication until the new one commits; ``COPY``
keeps 100 000 rows to seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, fields
from typing import Any

from sqlalchemy import Engine, text

from hcdc_server.vo.records import CompanionRecord, FileRecord, LinkRecord, Publication

SCHEMA = "hcdc_vo"
#: Advisory lock serialising publications ("hcdc_vo" as a number).
_LOCK_KEY = 0x6863_6463_766F
_TABLES: tuple[tuple[str, type], ...] = (
    ("files", FileRecord),
    ("links", LinkRecord),
    ("epn_core", CompanionRecord),
)
#: Constant EPN-TAP columns of every companion row.
_EPN_CONSTANTS = {
    "dataproduct_type": "ci",  # catalogue item
    "target_class": "exoplanet",
    "spatial_frame_type": "celestial",
    "measurement_type": "pos.angDistance;phot.flux;arith.ratio",
    "processing_level": 5,  # derived physical parameters
    "service_title": "hcdc",
    "publisher": "High Contrast Data Center",
}


class PublishedTables:
    """The rows DaCHS serves; needs the tables made by ``dachs imp hcdc_vo/q``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace(self, publication: Publication) -> dict[str, int]:
        """Replace every published row; returns rows per table."""
        counts: dict[str, int] = {}
        with self._engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor:
                # One publication at a time (a validation's and cron's may overlap): the next
                # one waits, then deletes what this one wrote.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                for table, _ in _TABLES:
                    cursor.execute(f"DELETE FROM {SCHEMA}.{table}")
                for table, cls in _TABLES:
                    rows = {
                        "files": publication.files,
                        "links": publication.links,
                        "epn_core": publication.companions,
                    }[table]
                    columns = [f.name for f in fields(cls)]
                    extra = _EPN_CONSTANTS if table == "epn_core" else {}
                    counts[table] = _copy(cursor, table, [*columns, *extra], rows, extra)
            conn.execute(text(f"ANALYZE {SCHEMA}.files"))
        return counts

    def counts(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            return {
                table: int(conn.scalar(text(f"SELECT count(*) FROM {SCHEMA}.{table}")) or 0)
                for table, _ in _TABLES
            }

    def exists(self) -> bool:
        with self._engine.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT to_regclass(:name) IS NOT NULL"), {"name": "hcdc_vo.files"}
                )
            )


def _copy(
    cursor: Any,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Any],
    extra: dict[str, Any],
) -> int:
    names = ", ".join(columns)
    count = 0
    constants = tuple(extra.values())
    with cursor.copy(f"COPY {SCHEMA}.{table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*astuple(row), *constants))
            count += 1
    return count
