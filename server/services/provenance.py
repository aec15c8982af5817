"""Provenance: what a process and its products inherit from the process's inputs.

A product describes the observation it comes from, as its inputs do: the target, the night, the
instrument, the programme and observation ids... so that browsing by ``TARGET_NAME`` or
``OBS_NIGHT_DATE`` finds the Level 2/3 products beside their raw frames. A process carries the
same fields. Each field is taken from the primary input when it has one, else the value most of
the inputs share (the first seen on a tie); a value already set is never overwritten (a product
whose own header says more keeps it). Products also record the version of the recipe that made
them (``pipeline_version``, the seed's ``DATA_PIPELINE_VERSION``).

Functions here work inside the caller's transaction (they take a Session and never commit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hcdc_server.schema.tables import DataFile, Process, ProcessInput

__all__ = [
    "DATA_FIELDS",
    "ProcessObservation",
    "inherit_outputs",
    "inherit_process",
    "observation_of",
    "process_observation",
]

#: Data file columns that describe the observation, inherited by products.
DATA_FIELDS = (
    "target_id",
    "object",
    "instrument",
    "arm",
    "obs_night",
    "date_obs",
    "mjd_obs",
    "ra",
    "dec",
    "instrument_filter",
    "prog_id",
    "obs_id",
    "observation_id",
    "derotator_mode",
    "coronagraph",
)


@dataclass(frozen=True)
class ProcessObservation:
    """The observation fields of a process."""

    target_id: int | None = None
    instrument: str | None = None
    obs_night: date | None = None
    obs_date: datetime | None = None
    obs_id: int | None = None
    prog_id: str | None = None


def observation_of(
    rows: Sequence[DataFile], primary: DataFile | None = None, fields: Iterable[str] = DATA_FIELDS
) -> dict[str, Any]:
    """For each field: the primary's value when set, else the most common value of ``rows``."""
    inherited: dict[str, Any] = {}
    for name in fields:
        value = getattr(primary, name) if primary is not None else None
        if value is None:
            counts = Counter(v for row in rows if (v := getattr(row, name)) is not None)
            value = counts.most_common(1)[0][0] if counts else None
        inherited[name] = value
    return inherited


def process_observation(
    rows: Sequence[DataFile], primary: DataFile | None = None
) -> ProcessObservation:
    """The observation fields of a process with these inputs (``primary`` first)."""
    found = observation_of(
        rows, primary, ("target_id", "instrument", "obs_night", "date_obs", "obs_id", "prog_id")
    )
    return ProcessObservation(
        target_id=found["target_id"],
        instrument=found["instrument"],
        obs_night=found["obs_night"],
        obs_date=found["date_obs"],
        obs_id=found["obs_id"],
        prog_id=found["prog_id"],
    )


def _inputs(
    session: Session, process_id: int, primary_tag: str | None
) -> tuple[list[DataFile], DataFile | None]:
    rows = session.execute(
        select(DataFile, ProcessInput.sof_tag)
        .join(ProcessInput, ProcessInput.data_file_id == DataFile.id)
        .where(ProcessInput.process_id == process_id)
        .order_by(ProcessInput.sof_tag, DataFile.id)
    ).all()
    files = [row[0] for row in rows]
    primary = next((row[0] for row in rows if row[1] == primary_tag), None)
    return files, primary


def inherit_process(session: Session, process: Process, *, primary_tag: str | None) -> None:
    """Fill the observation fields a process lacks from its inputs (e.g. a workflow step's,
    whose inputs were known only once its parents ended)."""
    files, primary = _inputs(session, process.id, primary_tag)
    found = process_observation(files, primary)
    for name in ("target_id", "instrument", "obs_night", "obs_date", "obs_id", "prog_id"):
        if getattr(process, name) is None and getattr(found, name) is not None:
            setattr(process, name, getattr(found, name))


def inherit_outputs(
    session: Session,
    process_id: int,
    data_ids: Iterable[int],
    *,
    primary_tag: str | None,
    pipeline_version: str | None,
) -> None:
    """Give the products of a process the observation fields of its inputs where they have
    none, and the version of the recipe that made them."""
    ids = sorted(set(data_ids))
    if not ids:
        return
    files, primary = _inputs(session, process_id, primary_tag)
    found = observation_of(files, primary)
    input_ids = {f.id for f in files}
    for product in session.scalars(select(DataFile).where(DataFile.id.in_(ids))):
        if product.id in input_ids:
            continue  # a product identical to an input is that input: leave it as it is
        for name, value in found.items():
            if value is not None and getattr(product, name) is None:
                setattr(product, name, value)
        if pipeline_version and product.pipeline_version is None:
            product.pipeline_version = pipeline_version
