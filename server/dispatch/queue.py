"""The durable queue: processes in the database, claimed atomically by workers.

Which processes a claim takes (fair share): the highest priority first; within a priority,
users take turns, the next turn going to the user with the fewest processes running, then
to the one served least recently (``claimed_at``), each user's processes in launch order. So
one user's 300 launches delay another user's single launch by one turn, not 300. A user who
is not an administrator runs at most ``max_running_per_user`` processes at once.

PostgreSQL locks the chosen rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the
``UPDATE``, so concurrent workers never take the same row; SQLite serialises writers, and the
``UPDATE`` re-checks that the row may still start (:func:`transitions.sources`), so a row is
claimed once (a claim that lost rows to another worker chooses again). A process whose
workflow parents have not all finished (done, and valid where validated:
:func:`transitions.accepted`) is not claimable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from hcdc_kernel.enums import ProcessStatus
from hcdc_server.config import QuotaSettings
from hcdc_server.schema.tables import Process, ProcessDependency, User
from hcdc_server.services import transitions
from hcdc_server.services.quotas import is_unlimited
from hcdc_server.services.users import utcnow

RUNNING = ProcessStatus.RUNNING
#: Rounds of choosing again when other workers took some of the chosen processes first.
_CLAIM_ROUNDS = 3


class ProcessQueue:
    """Claim queued processes, beat for running ones, find and adopt stale claims."""

    def __init__(
        self, sessions: sessionmaker[Session], *, quotas: QuotaSettings | None = None
    ) -> None:
        self._sessions = sessions
        self._quotas = quotas if quotas is not None else QuotaSettings()

    def _postgres(self, session: Session) -> bool:
        return session.get_bind().dialect.name == "postgresql"

    def claim(self, worker_id: str, limit: int, *, executor: str) -> list[int]:
        """Claim up to ``limit`` runnable processes, in fair-share order; return their ids."""
        claimed: list[int] = []
        for _ in range(_CLAIM_ROUNDS):
            if len(claimed) >= limit:
                break
            chosen, got = self._claim_once(worker_id, limit - len(claimed), executor=executor)
            claimed += got
            if len(got) == len(chosen):
                break  # nothing lost to another worker: nothing more to take
        return sorted(claimed)

    def _claim_once(
        self, worker_id: str, limit: int, *, executor: str
    ) -> tuple[list[int], list[int]]:
        """One choice and claim: (the ids chosen, the ids this worker got)."""
        now = utcnow()
        with self._sessions.begin() as session:
            chosen = self._choose(session, limit)
            if not chosen:
                return [], []
            candidates = select(Process.id).where(
                Process.id.in_(chosen), Process.status.in_(transitions.sources(RUNNING))
            )
            if self._postgres(session):
                candidates = candidates.with_for_update(skip_locked=True)
            claimed = session.execute(
                update(Process)
                .where(
                    Process.id.in_(candidates.scalar_subquery()),
                    Process.status.in_(transitions.sources(RUNNING)),
                )
                .values(
                    status=RUNNING,
                    claimed_by=worker_id,
                    claimed_at=now,
                    heartbeat_at=now,
                    attempt=Process.attempt + 1,
                    executor=executor,
                    executor_job_id=None,
                    progress=0.0,
                )
                .returning(Process.id)
                .execution_options(synchronize_session=False)
            )
            return chosen, list(claimed.scalars().all())

    def outstanding(self, *, executor: str) -> bool:
        """Whether a worker of ``executor`` may still have work: a process of it running
        (under any worker, a dead one included) or one queued that is not blocked."""
        with self._sessions() as session:
            running = session.scalar(
                select(Process.id)
                .where(
                    Process.status == RUNNING,
                    or_(Process.executor.is_(None), Process.executor == executor),
                )
                .limit(1)
            )
            if running is not None:
                return True
            queued = session.scalar(
                select(Process.id)
                .where(Process.status == ProcessStatus.QUEUED, ~_blocked())
                .limit(1)
            )
            return queued is not None

    def _choose(self, session: Session, limit: int) -> list[int]:
        """Up to ``limit`` runnable process ids in fair-share order (see the module's doc)."""
        if limit <= 0:
            return []
        blocked = _blocked()
        # Each user's first ``limit`` runnable processes at each priority: enough for any turn.
        ranked = (
            select(
                Process.id,
                Process.user_id,
                Process.priority,
                func.row_number()
                .over(partition_by=(Process.user_id, Process.priority), order_by=Process.id)
                .label("turn"),
            )
            .where(Process.status == ProcessStatus.QUEUED, ~blocked)
            .subquery()
        )
        rows = session.execute(
            select(ranked.c.id, ranked.c.user_id, ranked.c.priority)
            .where(ranked.c.turn <= limit)
            .order_by(ranked.c.priority.desc(), ranked.c.id)
        ).all()
        if not rows:
            return []
        users = sorted({row.user_id for row in rows})
        unlimited = {
            user_id
            for user_id, role in session.execute(
                select(User.id, User.role).where(User.id.in_(users))
            )
            if is_unlimited(role)
        }
        running: dict[int, int] = dict(
            session.execute(
                select(Process.user_id, func.count(Process.id))
                .where(Process.status == RUNNING, Process.user_id.in_(users))
                .group_by(Process.user_id)
            ).all()
        )
        served: dict[int, datetime] = {
            user_id: at
            for user_id, at in session.execute(
                select(Process.user_id, func.max(Process.claimed_at))
                .where(Process.user_id.in_(users))
                .group_by(Process.user_id)
            )
            if at is not None
        }
        # The order in which users were last served: never served first, then oldest first.
        order = sorted(users, key=lambda u: (u in served, served.get(u, datetime.min), u))
        last_turn = {user_id: index for index, user_id in enumerate(order)}
        turns = len(order)
        levels: dict[int, dict[int, deque[int]]] = {}
        for row in rows:
            levels.setdefault(row.priority, {}).setdefault(row.user_id, deque()).append(row.id)
        cap = self._quotas.max_running_per_user
        chosen: list[int] = []
        for priority in sorted(levels, reverse=True):
            waiting = levels[priority]
            while waiting and len(chosen) < limit:
                eligible = [u for u in waiting if u in unlimited or running.get(u, 0) < cap]
                if not eligible:
                    break
                user_id = min(
                    eligible, key=lambda u: (running.get(u, 0), last_turn[u], waiting[u][0])
                )
                chosen.append(waiting[user_id].popleft())
                running[user_id] = running.get(user_id, 0) + 1
                last_turn[user_id] = turns
                turns += 1
                if not waiting[user_id]:
                    del waiting[user_id]
            if len(chosen) >= limit:
                break
        return chosen

    def heartbeat(self, worker_id: str) -> None:
        """Mark every process this worker runs as alive."""
        with self._sessions.begin() as session:
            session.execute(
                update(Process)
                .where(Process.claimed_by == worker_id, Process.status == RUNNING)
                .values(heartbeat_at=utcnow())
            )

    def stale(
        self, worker_id: str, *, older_than: datetime, dead_workers: Sequence[str]
    ) -> list[tuple[int, str | None, datetime | None]]:
        """Running processes of other workers that stopped beating or are known dead."""
        with self._sessions() as session:
            rows = session.execute(
                select(Process.id, Process.claimed_by, Process.heartbeat_at).where(
                    Process.status == RUNNING,
                    or_(Process.claimed_by.is_(None), Process.claimed_by != worker_id),
                    or_(
                        Process.heartbeat_at.is_(None),
                        Process.heartbeat_at < older_than,
                        Process.claimed_by.in_(list(dead_workers)),
                    ),
                )
            ).all()
            return list(rows)

    def running_claims(self, *, prefix: str) -> list[str]:
        """Distinct workers whose id starts with ``prefix`` holding running processes."""
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(Process.claimed_by)
                    .where(Process.status == RUNNING, Process.claimed_by.like(f"{prefix}%"))
                    .distinct()
                )
            )

    def adopt(self, process_id: int, worker_id: str, previous: str | None) -> bool:
        """Take over a process from a dead worker; False when someone else did first."""
        with self._sessions.begin() as session:
            condition = (
                Process.claimed_by.is_(None) if previous is None else Process.claimed_by == previous
            )
            result = session.execute(
                update(Process)
                .where(Process.id == process_id, Process.status == RUNNING, condition)
                .values(claimed_by=worker_id, heartbeat_at=utcnow())
                .returning(Process.id)
                .execution_options(synchronize_session=False)
            )
            return result.scalar() is not None


def _blocked() -> ColumnElement[bool]:
    """A process has a workflow parent not finished (done, and valid where validated)."""
    parent = aliased(Process)
    return exists(
        select(ProcessDependency.parent_id)
        .join(parent, parent.id == ProcessDependency.parent_id)
        .where(ProcessDependency.process_id == Process.id, ~transitions.accepted_sql(parent))
    )


def stale_before(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
