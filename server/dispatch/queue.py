"""The durable queue: processes in the database, claimed atomically by workers.

PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the ``UPDATE``, so
concurrent workers each lock different rows; SQLite serialises writers, and the ``UPDATE``
re-checks ``status = 'queued'``, so a row is claimed once. A process whose workflow parents
have not all finished (done, and valid where validated) is not claimable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from hcdc_server.schema.tables import Process, ProcessDependency
from hcdc_server.services.users import utcnow


class ProcessQueue:
    """Claim queued processes, beat for running ones, find and adopt stale claims."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _postgres(self, session: Session) -> bool:
        return session.get_bind().dialect.name == "postgresql"

    def claim(self, worker_id: str, limit: int, *, executor: str) -> list[int]:
        """Claim up to ``limit`` runnable processes (priority, then age); return their ids."""
        if limit <= 0:
            return []
        parent = aliased(Process)
        blocked = exists(
            select(ProcessDependency.parent_id)
            .join(parent, parent.id == ProcessDependency.parent_id)
            .where(
                ProcessDependency.process_id == Process.id,
                or_(
                    parent.status != "done",
                    and_(
                        parent.validation_status.is_not(None),
                        parent.validation_status != "valid",
                    ),
                ),
            )
        )
        candidates = (
            select(Process.id)
            .where(Process.status == "queued", ~blocked)
            .order_by(Process.priority.desc(), Process.id)
            .limit(limit)
        )
        now = utcnow()
        with self._sessions.begin() as session:
            if self._postgres(session):
                candidates = candidates.with_for_update(skip_locked=True, of=Process)
            claimed = session.execute(
                update(Process)
                .where(Process.id.in_(candidates.scalar_subquery()), Process.status == "queued")
                .values(
                    status="running",
                    claimed_by=worker_id,
                    heartbeat_at=now,
                    attempt=Process.attempt + 1,
                    executor=executor,
                    executor_job_id=None,
                    progress=0.0,
                )
                .returning(Process.id)
                .execution_options(synchronize_session=False)
            )
            return sorted(claimed.scalars().all())

    def heartbeat(self, worker_id: str) -> None:
        """Mark every process this worker runs as alive."""
        with self._sessions.begin() as session:
            session.execute(
                update(Process)
                .where(Process.claimed_by == worker_id, Process.status == "running")
                .values(heartbeat_at=utcnow())
            )

    def stale(
        self, worker_id: str, *, older_than: datetime, dead_workers: Sequence[str]
    ) -> list[tuple[int, str | None, datetime | None]]:
        """Running processes of other workers that stopped beating or are known dead."""
        with self._sessions() as session:
            rows = session.execute(
                select(Process.id, Process.claimed_by, Process.heartbeat_at).where(
                    Process.status == "running",
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
                    .where(Process.status == "running", Process.claimed_by.like(f"{prefix}%"))
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
                .where(Process.id == process_id, Process.status == "running", condition)
                .values(claimed_by=worker_id, heartbeat_at=utcnow())
                .returning(Process.id)
                .execution_options(synchronize_session=False)
            )
            return result.scalar() is not None


def stale_before(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
