"""Enumerations of hcdc's process domain: one symbol per status everywhere.

The database schema, the service's API models, the transitions of the service, the notebook
client and the widgets all import these; a status is never spelled as a string elsewhere.
Members are :class:`~enum.StrEnum`: they equal, format and serialise as their values, so the
JSON API and the stored columns carry the plain words (``"done"``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ACTIVE_STATUSES",
    "COMPLETED_STATUSES",
    "FAILED_STATUSES",
    "FINISHED_STATUSES",
    "TERMINAL_STATUSES",
    "VERDICTS",
    "ProcessStatus",
    "ValidationStatus",
]


class ProcessStatus(StrEnum):
    """Where a process stands in its run."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING_VALIDATION = "waiting_validation"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


class ValidationStatus(StrEnum):
    """A reviewer's label on a finished process (``None`` while nobody labelled it)."""

    TO_VALIDATE = "to_validate"
    VALID = "valid"
    REJECTED = "rejected"
    TO_REPROCESS = "to_reprocess"


#: Waiting for a worker or running: the statuses a cancel applies to.
ACTIVE_STATUSES: frozenset[ProcessStatus] = frozenset({ProcessStatus.QUEUED, ProcessStatus.RUNNING})
#: The run went to its end and wrote its products (a reviewer may label it).
COMPLETED_STATUSES: frozenset[ProcessStatus] = frozenset(
    {ProcessStatus.WAITING_VALIDATION, ProcessStatus.DONE}
)
#: The run ended without products.
FAILED_STATUSES: frozenset[ProcessStatus] = frozenset(
    {ProcessStatus.ERROR, ProcessStatus.CANCELLED}
)
#: Statuses after which a process no longer changes by itself.
FINISHED_STATUSES: frozenset[ProcessStatus] = COMPLETED_STATUSES | FAILED_STATUSES
#: Statuses that nothing changes any more (a reviewer's label aside).
TERMINAL_STATUSES: frozenset[ProcessStatus] = FAILED_STATUSES | {ProcessStatus.DONE}
#: The labels a reviewer chooses from (``to_validate`` is set by hcdc alone).
VERDICTS: tuple[ValidationStatus, ...] = (
    ValidationStatus.VALID,
    ValidationStatus.REJECTED,
    ValidationStatus.TO_REPROCESS,
)
