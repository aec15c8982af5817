"""SQL expressions that differ between SQLite and PostgreSQL, compiled per dialect.

The browse API derives keys from stored dates (``obs_night_date_year_month``, ``mjd_obs``); these
small function elements keep one expression in the vocabulary and let SQLAlchemy render the
dialect's own form.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: MJD of the Unix epoch (1970-01-01T00:00 UTC).
MJD_UNIX_EPOCH = 40587.0


class year_month(FunctionElement[str]):  # noqa: N801 - SQL function naming
    """``'YYYY-MM'`` of a date or date-time column."""

    type = String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(year_month, "postgresql")
def _year_month_postgresql(element: year_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


class modified_julian_date(FunctionElement[float]):  # noqa: N801 - SQL function naming
    """The MJD of a naive-UTC date-time column."""

    type = Float()
    name = "modified_julian_date"
    inherit_cache = True


@compiles(modified_julian_date, "sqlite")
def _mjd_sqlite(element: modified_julian_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(julianday({compiler.process(element.clauses, **kw)}) - 2400000.5)"


@compiles(modified_julian_date, "postgresql")
def _mjd_postgresql(element: modified_julian_date, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(extract(epoch from {column}) / 86400.0 + {MJD_UNIX_EPOCH})"
