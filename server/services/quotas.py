"""Quotas: what one user may queue and at which priority, and how long a job may run.

The one place of these rules (settings in :class:`hcdc_server.config.QuotaSettings`):

- A user who is not an administrator launches with a priority in
  ``[min_priority, max_priority]`` (400 naming the range otherwise) and has at most
  ``max_queued_per_user`` processes queued (429 naming the limit otherwise). A reprocess keeps
  the old priority, brought into the reprocessing user's range.
- Administrators are not limited (automatic calibration runs as the ``hcdc`` administrator).
- A job's time limit is its recipe's (``default_timeout_s``), or the one the settings give for
  that recipe, never above ``max_run_time_s``.

How many processes of one user run at once (``max_running_per_user``) and the order users are
served in are the queue's (:mod:`hcdc_server.dispatch.queue`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hcdc_kernel.enums import ProcessStatus
from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_server.config import QuotaSettings
from hcdc_server.exceptions import InvalidInputError, NotFoundError, QuotaExceededError
from hcdc_server.schema.tables import Process, User


def _role(session: Session, user_id: int, *, lock: bool = False) -> str:
    query = select(User.role).where(User.id == user_id)
    if lock:
        # Serialises the launches of one user, so that two at once cannot both pass the limit.
        query = query.with_for_update()
    role = session.scalar(query)
    if role is None:
        raise NotFoundError(f"no user with id {user_id}")
    return role


def is_unlimited(role: str) -> bool:
    """Whether a user of ``role`` is exempt from the per-user limits."""
    return role == "admin"


def check_priority(session: Session, user_id: int, priority: int, quotas: QuotaSettings) -> str:
    """400 naming the allowed range when ``priority`` is outside it for this user; the role."""
    role = _role(session, user_id)
    if is_unlimited(role) or quotas.min_priority <= priority <= quotas.max_priority:
        return role
    raise InvalidInputError(
        f"priority: {priority} is outside the range allowed to a {role} "
        f"({quotas.min_priority} to {quotas.max_priority}; administrators are not limited)"
    )


def fit_priority(session: Session, user_id: int, priority: int, quotas: QuotaSettings) -> int:
    """``priority`` brought into the range this user may use."""
    if is_unlimited(_role(session, user_id)):
        return priority
    return max(quotas.min_priority, min(quotas.max_priority, priority))


def check_queued(
    session: Session, user_id: int, quotas: QuotaSettings, *, role: str | None = None
) -> None:
    """429 when the user has more processes queued than allowed (new ones counted).

    Called once a launch's processes are written, in the same transaction, so that a refused
    launch leaves nothing and cached results (done at once) do not count. ``role``: the user's,
    when the caller read it already in this transaction.
    """
    if is_unlimited(role if role is not None else _role(session, user_id)):
        return
    # Locked only now, at the end of the launch: launches of one user wait for each other
    # just for this count and the commit, and administrators' launches never wait.
    _role(session, user_id, lock=True)
    queued = session.scalar(
        select(func.count(Process.id)).where(
            Process.user_id == user_id, Process.status == ProcessStatus.QUEUED
        )
    )
    if (queued or 0) > quotas.max_queued_per_user:
        raise QuotaExceededError(
            f"queue limit: this launch would leave {queued} processes queued, above the limit "
            f"of {quotas.max_queued_per_user} queued processes per user; wait for some to run "
            "or cancel some"
        )


def run_time_limit(spec: RecipeSpec, quotas: QuotaSettings) -> float:
    """Seconds a job of ``spec`` may run: the recipe's limit or the setting's, capped."""
    asked = quotas.run_time_s.get(spec.name, spec.default_timeout_s)
    if not asked or asked <= 0:
        return quotas.max_run_time_s
    return min(float(asked), quotas.max_run_time_s)
