"""Field types shared by the API models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import StrictInt, WithJsonSchema

#: A UTC date and time. Every timestamp is stored and sent as naive UTC
#: (``2020-03-20T04:14:00``), as the seed's browse items carry them, so the schema says exactly
#: that rather than RFC 3339 ``date-time``, which demands an offset.
UtcDatetime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
            "description": "UTC date and time, ISO 8601 without an offset.",
            "examples": ["2020-03-20T04:14:00"],
        }
    ),
]

#: Largest 64-bit SQL integer. A number beyond it names nothing that can exist, and SQLite
#: raises on it (OverflowError) instead of matching nothing, so it is refused with a 400.
MAX_SQL_INT = 2**63 - 1

#: A row id, in a path or a body: 1 .. MAX_SQL_INT.
Id = Annotated[int, Ge(1), Le(MAX_SQL_INT)]
#: A row id in a JSON body, where a string or a float is a type error.
StrictId = Annotated[StrictInt, Ge(1), Le(MAX_SQL_INT)]
