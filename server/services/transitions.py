"""The one place where a process changes status or validation label.

Every writer goes through here: launches and the processing cache, workflow edges, cancel,
validation, the queue's claims and the worker's ends and retries. A row changes with
:func:`move` (or :func:`label` for a reviewer's verdict); a bulk ``UPDATE`` states which rows
may change with :func:`sources`. The legal moves are written once, in :data:`MOVES`; any
other raises :class:`~hcdc_server.exceptions.ConflictError` (HTTP 409).

The rule read from statuses lives here too: which runs count (:func:`accepted`, also as SQL):
they release their workflow children and the processing cache reuses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from hcdc_kernel.enums import (
    COMPLETED_STATUSES,
    FINISHED_STATUSES,
    VERDICTS,
    ProcessStatus,
    ValidationStatus,
)
from hcdc_server.exceptions import ConflictError
from hcdc_server.schema.tables import Process
from hcdc_server.services.users import utcnow

P = ProcessStatus
V = ValidationStatus

#: The status every process starts in.
INITIAL = P.QUEUED

#: For each status, the statuses a process may move to from it.
MOVES: Mapping[ProcessStatus, frozenset[ProcessStatus]] = {
    # claimed by a worker; a cache hit; cancelled; its workflow parent produced nothing usable
    P.QUEUED: frozenset({P.RUNNING, P.DONE, P.CANCELLED, P.ERROR}),
    # back to the queue (retry, never submitted); ended one way or another
    P.RUNNING: frozenset({P.QUEUED, P.WAITING_VALIDATION, P.DONE, P.ERROR, P.CANCELLED}),
    # a reviewer's verdict
    P.WAITING_VALIDATION: frozenset({P.DONE}),
    P.DONE: frozenset(),
    P.ERROR: frozenset(),
    P.CANCELLED: frozenset(),
}


def allowed(current: str, target: ProcessStatus) -> bool:
    """Whether a process in ``current`` may move to ``target``."""
    return target in MOVES[P(current)]


def sources(target: ProcessStatus) -> frozenset[ProcessStatus]:
    """The statuses from which ``target`` may be reached (the ``WHERE`` of bulk updates)."""
    return frozenset(status for status, targets in MOVES.items() if target in targets)


def move(
    process: Process,
    target: ProcessStatus,
    *,
    refused: str | None = None,
    ended_at: datetime | None = None,
) -> None:
    """Move ``process`` to ``target``, or raise :class:`ConflictError` saying why not.

    Entering a finished status stamps ``ended_at`` (now unless given); entering a completed
    one sets the progress to 100 %, and waiting for validation labels it ``to_validate``.
    ``refused`` words the error (default: the move).
    """
    current = P(process.status)
    if not allowed(current, target):
        why = refused or f"it cannot become {target}"
        raise ConflictError(f"process {process.id} is {current}: {why}")
    process.status = target
    if target in FINISHED_STATUSES and current not in FINISHED_STATUSES:
        process.ended_at = ended_at if ended_at is not None else utcnow()
    if target in COMPLETED_STATUSES:
        process.progress = 100.0
    if target == P.WAITING_VALIDATION:
        process.validation_status = V.TO_VALIDATE


def completed(*, needs_validation: bool) -> ProcessStatus:
    """The status of a run that wrote its products: waiting for a reviewer if the recipe asks."""
    return P.WAITING_VALIDATION if needs_validation else P.DONE


def label(process: Process, verdict: ValidationStatus) -> ValidationStatus | None:
    """Record a reviewer's verdict on a completed process; return the label it had.

    Any completed process can be labelled, whether or not its recipe asked for a review
    (``needs_validation`` decides only whether it waits for one).
    """
    if verdict not in VERDICTS:
        raise ConflictError(f"{verdict} is set by hcdc, not by a reviewer")
    if process.status not in COMPLETED_STATUSES:
        raise ConflictError(
            f"process {process.id} is {process.status}: only finished processes can be validated"
        )
    previous = None if process.validation_status is None else V(process.validation_status)
    if process.status == P.WAITING_VALIDATION:
        move(process, P.DONE)
    process.validation_status = verdict
    return previous


def require_finished(process: Process, action: str) -> None:
    """Refuse ``action`` on a process that has not finished yet."""
    if process.status not in FINISHED_STATUSES:
        raise ConflictError(
            f"process {process.id} is {process.status}: wait for its end to {action}"
        )


def accepted(process: Process) -> bool:
    """Whether a run counts: done, and valid where labelled (it releases its children)."""
    return process.status == P.DONE and process.validation_status in (None, V.VALID)


def accepted_sql(table: Any) -> ColumnElement[bool]:
    """:func:`accepted` as SQL on ``table`` (``Process`` or an alias of it)."""
    return and_(
        table.status == P.DONE,
        or_(table.validation_status.is_(None), table.validation_status == V.VALID),
    )
