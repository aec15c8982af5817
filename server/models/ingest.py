"""Result of ingesting one file."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

IngestStatus = Literal["ingested", "unchanged", "rejected"]


class IngestRecord(BaseModel):
    """What happened to one path; the ``--json`` output of ``hcdc ingest`` is one per line."""

    model_config = ConfigDict(frozen=True)

    path: str
    status: IngestStatus
    id: int | None = None
    frame_type: str | None = None
    obs_night: date | None = None
    reason: str | None = None
