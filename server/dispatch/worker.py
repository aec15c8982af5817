"""``hcdc worker``: claims queued processes, submits their jobs, follows them to the end.

Recovery is the point of this design. Every running process carries the worker that claimed
it and a heartbeat. A worker that dies (kill -9) leaves its processes ``running``; another
worker (or the restarted one) adopts them once their heartbeat is stale, or at once when
the dead worker was on the same machine. From the job directory it decides, per process:
a manifest means the job ended (record it); a start marker means the job ran or runs (follow
it); neither means the job never started (submit it again: the job's exclusive start marker
guarantees the recipe still runs at most once).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hcdc_kernel.conditions import CONDITIONS_FILE, CONDITIONS_TAG, write_conditions_file
from hcdc_kernel.enums import COMPLETED_STATUSES, ProcessStatus
from hcdc_kernel.jobs.manifest import (
    FailureClass,
    JobManifest,
    log_tail,
    read_manifest,
    read_progress,
)
from hcdc_kernel.jobs.runner import EXIT_DUPLICATE, EXIT_USAGE
from hcdc_kernel.jobs.sandbox import SandboxUnavailableError, landlock_abi
from hcdc_kernel.jobs.spec import LOG_FILE, SPEC_FILE, STARTED_FILE, JobInput, JobSpec
from hcdc_kernel.recipes.spec import RecipeSpec, SpecFormatError
from hcdc_server.dispatch.executors.base import Executor, JobState, Submission
from hcdc_server.dispatch.executors.local import EXECUTOR_LOG, LocalExecutor, _start_ticks
from hcdc_server.dispatch.executors.slurm import SlurmExecutor
from hcdc_server.dispatch.queue import ProcessQueue, stale_before
from hcdc_server.dispatch.registration import Product as RegisteredProduct
from hcdc_server.dispatch.registration import register_products
from hcdc_server.dispatch.settings import WorkerSettings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import (
    DataFile,
    Process,
    ProcessInput,
    ProcessOutput,
    Recipe,
    User,
    WorkspaceData,
)
from hcdc_server.services import provenance, transitions
from hcdc_server.services.conditions import conditions_for_process
from hcdc_server.services.conditions import inherit_outputs as inherit_conditions
from hcdc_server.services.dependencies import release_children, stop_descendants
from hcdc_server.services.quotas import run_time_limit
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import output_scope
from hcdc_server.storage.changes import DURATIONS, announce
from hcdc_server.storage.database import UNAVAILABLE_ERRORS, describe_unavailable, is_unavailable

_log = logging.getLogger(__name__)

#: Most seconds between tries while the database is unavailable.
_MAX_BACKOFF_S = 5.0
#: Below this many free bytes, a job directory's filesystem counts as full.
_FULL_BYTES = 64 * 1024


@dataclass
class Tracked:
    """A process this worker follows."""

    process_id: int
    job_dir: Path
    job_id: str | None
    timeout_s: float | None
    since: float = field(default_factory=time.monotonic)
    last_progress: float = -1.0


def make_executor(
    factory: Factory, *, kind: str | None = None, settings: WorkerSettings | None = None
) -> Executor:
    """The executor named by ``kind`` (default: the ``HCDC_EXECUTOR`` setting)."""
    settings = settings or factory.settings.worker
    kind = kind or factory.settings.executor
    if kind == "slurm":
        return SlurmExecutor(
            settings=factory.settings.slurm,
            job_command=settings.job_command,
            scripts_dir=factory.settings.jobs_dir / "slurm",
        )
    return LocalExecutor(job_command=settings.job_command)


class Worker:
    """The dispatcher loop: claim, submit, poll, finalize, adopt."""

    def __init__(
        self,
        factory: Factory,
        *,
        executor: Executor,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
    ) -> None:
        self._factory = factory
        self._sessions = factory.sessions
        self._executor = executor
        self._settings = settings or factory.settings.worker
        self._host = socket.gethostname()
        self.worker_id = worker_id or f"{self._host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._quotas = factory.settings.quotas
        self._queue = ProcessQueue(self._sessions, quotas=self._quotas)
        #: Set once this worker has warned that jobs run without a sandbox.
        self._warned_unconfined = False
        self._tracked: dict[int, Tracked] = {}
        self._specs: dict[int, RecipeSpec] = {}
        self._recipes = factory.recipes()
        #: Set when a cycle broke off: some claims of ours may not be tracked.
        self._reconcile_due = False
        #: Every process this worker submitted (tests check two workers never share one).
        self.submitted: list[int] = []

    # -- the loop --------------------------------------------------------------------------

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        until_idle: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        """Loop until ``stop`` is set, or (``until_idle``) nothing is left to do."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        _log.info("worker %s started (executor %s)", self.worker_id, self._executor.name)
        self._check_sandbox()
        backoff = self._settings.poll_interval_s
        try:
            while not (stop is not None and stop.is_set()):
                pause = self._settings.poll_interval_s
                try:
                    busy = self.step()
                    # Idle only once every process is finished: one running under a worker
                    # that died is adopted when its heartbeat is stale; stopping earlier
                    # would strand it.
                    if until_idle and not busy:
                        busy = self._queue.outstanding(executor=self._executor.name)
                    backoff = self._settings.poll_interval_s
                except UNAVAILABLE_ERRORS as exc:
                    if not is_unavailable(exc):
                        raise
                    # Keep the jobs running and try again; nothing is lost while we wait.
                    self._reconcile_due = True
                    busy = True
                    pause = backoff
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    _log.warning(
                        "database unavailable (%s); retrying in %.1f s",
                        describe_unavailable(exc),
                        pause,
                    )
                if until_idle and not busy:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    break
                if stop is not None:
                    stop.wait(pause)
                else:
                    time.sleep(pause)
        finally:
            self._executor.close()

    def step(self) -> bool:
        """One cycle; True while processes are being followed or were just claimed."""
        self._queue.heartbeat(self.worker_id)
        if self._reconcile_due:
            self._reconcile()
        self._adopt_stale()
        if self._tracked:
            self._poll()
        claimed = self._claim()
        return bool(self._tracked) or bool(claimed)

    @property
    def tracked(self) -> dict[int, Tracked]:
        return dict(self._tracked)

    def _check_sandbox(self) -> None:
        """Say at start-up when this machine's jobs cannot be confined (local executor)."""
        mode = self._factory.settings.job_sandbox
        if mode == "off":
            _log.warning("job sandbox off (HCDC_JOB_SANDBOX=off): jobs may write anywhere")
            return
        if self._executor.name != "local":
            return  # the compute nodes decide; each job's manifest says what it got
        try:
            _log.info("job sandbox: Landlock ABI %d", landlock_abi())
        except SandboxUnavailableError as exc:
            if mode == "required":
                _log.error("job sandbox required but unavailable: every job will fail: %s", exc)
            else:
                _log.warning("jobs run without a sandbox (may write anywhere): %s", exc)

    # -- claiming and submitting -----------------------------------------------------------

    def _claim(self) -> list[int]:
        room = self._settings.capacity - len(self._tracked)
        ids = self._queue.claim(self.worker_id, room, executor=self._executor.name)
        if not ids:
            return []
        submissions = []
        for process_id in ids:
            submission = self._prepare(process_id)
            if submission is not None:
                submissions.append(submission)
        self._submit(submissions)
        return ids

    def _prepare(self, process_id: int) -> Submission | None:
        """Write the job spec of a claimed process; a refused one ends as a usage error."""
        with self._sessions.begin() as session:
            process = session.get_one(Process, process_id)
            if process.status != ProcessStatus.RUNNING or process.claimed_by != self.worker_id:
                return None  # cancelled since the claim
            try:
                spec = self._spec(session, process.recipe_id)
            except SpecFormatError as exc:
                self._end(
                    session,
                    process,
                    status=ProcessStatus.ERROR,
                    error=f"recipe {process.recipe_id} cannot be read: {exc}",
                    failure_class="usage",
                )
                return None
            job_dir = self._factory.settings.jobs_dir / str(process_id) / f"a{process.attempt}"
            inputs = session.execute(
                select(DataFile.path, ProcessInput.sof_tag)
                .join(DataFile, DataFile.id == ProcessInput.data_file_id)
                .where(ProcessInput.process_id == process_id)
                .order_by(ProcessInput.sof_tag, DataFile.id)
            ).all()
            # Jobs never read the database: the conditions go with the inputs, as a file.
            conditions = (
                conditions_for_process(session, process_id)
                if any(slot.tag == CONDITIONS_TAG for slot in spec.inputs)
                else []
            )
            conditions_file = job_dir.resolve() / CONDITIONS_FILE
            if conditions:
                inputs = [*inputs, (str(conditions_file), CONDITIONS_TAG)]
            job = JobSpec(
                recipe=spec.name,
                version=spec.version,
                kind=spec.kind,
                entry=spec.entry,
                job_dir=str(job_dir.resolve()),
                inputs=tuple(JobInput(path=p, tag=t) for p, t in inputs),
                params=dict(process.params or {}),
                cli_names={p.name: p.cli_name for p in spec.params if p.cli_name},
                timeout_s=run_time_limit(spec, self._quotas),
                process_id=process_id,
                attempt=process.attempt,
                path_params=tuple(p.name for p in spec.params if p.type == "path"),
                sandbox=self._factory.settings.job_sandbox,
            )
            process.job_dir = job.job_dir
            if not spec.available:
                self._end(
                    session,
                    process,
                    status=ProcessStatus.ERROR,
                    error=f"recipe unavailable here: {spec.unavailable}",
                    failure_class="usage",
                )
                return None
        try:
            spec_path = job.write()
            if conditions:
                write_conditions_file(conditions_file, conditions)
        except OSError as exc:
            # E.g. a full disk: this process fails (bounded retries), the others go on.
            self._fail(
                Tracked(process_id, job.directory, None, None),
                f"cannot write the job directory {job.directory}: {exc.strerror or exc}",
                "transient",
            )
            return None
        return Submission(
            process_id=process_id,
            spec_path=spec_path,
            job_dir=job.directory,
            name=f"hcdc-{process_id}",
            timeout_s=job.timeout_s,
        )

    def _submit(self, submissions: Sequence[Submission]) -> None:
        if not submissions:
            return
        try:
            job_ids = self._executor.submit(submissions)
        except Exception as exc:  # submission failure must not lose the claims
            _log.exception("submission failed; processes re-queued")
            with self._sessions.begin() as session:
                session.execute(
                    update(Process)
                    .where(
                        Process.id.in_([s.process_id for s in submissions]),
                        Process.claimed_by == self.worker_id,
                        Process.status.in_(transitions.sources(ProcessStatus.QUEUED)),
                    )
                    .values(
                        status=ProcessStatus.QUEUED,
                        claimed_by=None,
                        error=f"submission failed, re-queued: {exc}",
                    )
                )
            return
        with self._sessions.begin() as session:
            for submission, job_id in zip(submissions, job_ids, strict=True):
                session.execute(
                    update(Process)
                    .where(Process.id == submission.process_id)
                    .values(executor_job_id=job_id)
                )
        for submission, job_id in zip(submissions, job_ids, strict=True):
            self._tracked[submission.process_id] = Tracked(
                submission.process_id, submission.job_dir, job_id, submission.timeout_s
            )
            self.submitted.append(submission.process_id)

    # -- following -------------------------------------------------------------------------

    def _poll(self) -> None:
        with self._sessions() as session:
            statuses = dict(
                session.execute(
                    select(Process.id, Process.status).where(Process.id.in_(list(self._tracked)))
                ).all()
            )
        for process_id, status in statuses.items():
            if status != ProcessStatus.RUNNING:
                # Cancelled through the API (or finished by another worker): stop the job.
                tracked = self._tracked.pop(process_id)
                if status == ProcessStatus.CANCELLED and tracked.job_id:
                    self._executor.cancel([tracked.job_id])
        job_ids = [t.job_id for t in self._tracked.values() if t.job_id]
        states = self._executor.poll(job_ids) if job_ids else {}
        progress_updates = []
        for tracked in list(self._tracked.values()):
            manifest = read_manifest(tracked.job_dir)
            if manifest is not None:
                self._finish(tracked, manifest)
                continue
            state = states.get(tracked.job_id or "", JobState("pending"))
            if state.state in ("pending", "running"):
                if self._overdue(tracked):
                    continue
                progress = read_progress(tracked.job_dir)
                if progress is not None and progress.progress != tracked.last_progress:
                    tracked.last_progress = progress.progress
                    progress_updates.append((tracked.process_id, progress))
                continue
            self._ended_without_manifest(tracked, state)
        if progress_updates:
            with self._sessions.begin() as session:
                for process_id, progress in progress_updates:
                    session.execute(
                        update(Process)
                        .where(Process.id == process_id, Process.status == ProcessStatus.RUNNING)
                        .values(
                            progress=progress.progress,
                            server=progress.host,
                            started_at=_started_at(self._tracked[process_id].job_dir),
                        )
                    )

    def _overdue(self, tracked: Tracked) -> bool:
        """Backstop of the job's own time limit: kill a job that ignores it."""
        if not tracked.timeout_s or not tracked.job_id:
            return False
        started = _started_at(tracked.job_dir)
        if started is None:
            return False
        limit = tracked.timeout_s + self._settings.timeout_grace_s
        if (utcnow() - started).total_seconds() <= limit:
            return False
        self._executor.cancel([tracked.job_id])
        self._fail(
            tracked,
            f"time limit of {tracked.timeout_s:g} s exceeded; the job was killed",
            "timeout",
        )
        return True

    def _ended_without_manifest(self, tracked: Tracked, state: JobState) -> None:
        manifest = read_manifest(tracked.job_dir)
        if manifest is not None:
            self._finish(tracked, manifest)
            return
        if state.exit_code == EXIT_DUPLICATE:
            # Our copy found the job already started by an earlier submission: follow that one.
            other = _marker_job_id(tracked.job_dir, self._executor)
            if other is not None and other != tracked.job_id:
                tracked.job_id = other
                self._record_job_id(tracked)
                return
        if state.state == "lost" and not (tracked.job_dir / STARTED_FILE).exists():
            reason = state.reason or "the executor lost the job before it started"
            self._fail(tracked, reason, "transient")
            return
        if state.reason:
            reason = state.reason
        elif state.exit_code == EXIT_USAGE:
            reason = "the job refused its spec (usage error)"
        elif state.exit_code is None:
            reason = "the job ended without writing its manifest (crashed)"
        else:
            reason = f"the job crashed (exit status {state.exit_code}) without writing a manifest"
        full = _disk_full(tracked.job_dir)
        if full:
            reason = f"{reason}; {full}"
        failure_class: FailureClass = state.failure_class or (
            "usage" if state.exit_code == EXIT_USAGE else "fatal"
        )
        self._fail(tracked, reason, failure_class)

    def _record_job_id(self, tracked: Tracked) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(Process)
                .where(Process.id == tracked.process_id)
                .values(executor_job_id=tracked.job_id)
            )

    # -- ending ----------------------------------------------------------------------------

    def _fail(self, tracked: Tracked, reason: str, failure_class: FailureClass) -> None:
        tail = log_tail(tracked.job_dir / LOG_FILE) or log_tail(tracked.job_dir / EXECUTOR_LOG)
        error = reason + (f"\n--- log tail ---\n{tail}" if tail else "")
        self._tracked.pop(tracked.process_id, None)
        with self._sessions.begin() as session:
            process = session.get_one(Process, tracked.process_id)
            if process.status != ProcessStatus.RUNNING or process.claimed_by != self.worker_id:
                return
            if failure_class == "transient" and process.attempt < self._settings.max_attempts:
                transitions.move(process, ProcessStatus.QUEUED)
                process.claimed_by = None
                process.executor_job_id = None
                process.failure_class = failure_class
                process.error = f"attempt {process.attempt}: {reason}; re-queued"
                return
            self._end(
                session,
                process,
                status=ProcessStatus.ERROR,
                error=error,
                failure_class=failure_class,
                started_at=_started_at(tracked.job_dir),
            )

    def _finish(self, tracked: Tracked, manifest: JobManifest) -> None:
        """Record a job's manifest: ingest products, link them, end the process."""
        self._tracked.pop(tracked.process_id, None)
        if manifest.sandbox and manifest.sandbox.startswith("none") and not self._warned_unconfined:
            self._warned_unconfined = True
            _log.warning(
                "process %s ran without a sandbox (%s); further such jobs are not reported",
                tracked.process_id,
                manifest.sandbox,
            )
        if manifest.status != "ok":
            self._fail(
                tracked, manifest.error or "the recipe failed", manifest.failure_class or "fatal"
            )
            return
        with self._sessions() as session:
            process = session.get_one(Process, tracked.process_id)
            if process.status != ProcessStatus.RUNNING or process.claimed_by != self.worker_id:
                return
            # Products are visible exactly where all the inputs are (one rule, in visibility).
            scope = output_scope(session, process.id)
            login = session.scalar(select(User.login).where(User.id == process.user_id))
            user_id = process.user_id
            spec = self._spec(session, process.recipe_id)
        # FITS products through the ingest, the others (ECSV, PNG previews) as they are.
        outputs = register_products(
            self._factory.ingest(),
            self._sessions,
            [RegisteredProduct(p.path, p.category) for p in manifest.products],
            public=scope.public,
            user_id=user_id,
            user_login=login,
        )
        with self._sessions.begin() as session:
            process = session.get_one(Process, tracked.process_id)
            if process.status != ProcessStatus.RUNNING or process.claimed_by != self.worker_id:
                return
            known = set(
                session.scalars(
                    select(ProcessOutput.data_file_id).where(ProcessOutput.process_id == process.id)
                )
            )
            for data_file_id, category in outputs.items():
                if data_file_id not in known:
                    session.add(
                        ProcessOutput(
                            process_id=process.id, data_file_id=data_file_id, category=category
                        )
                    )
            _share(session, scope.workspace_ids, outputs)
            # Products and the process describe the observation of the inputs (provenance).
            primary_tag = spec.primary_slot.tag if spec.primary_slot else None
            provenance.inherit_outputs(
                session,
                process.id,
                outputs,
                primary_tag=primary_tag,
                pipeline_version=spec.version,
            )
            provenance.inherit_process(session, process, primary_tag=primary_tag)
            # Products carry the conditions of the inputs they were made from.
            inherit_conditions(session, process.id, outputs)
            session.flush()
            self._end(
                session,
                process,
                status=transitions.completed(needs_validation=spec.needs_validation),
                error=None,
                failure_class=None,
                started_at=manifest.started_at,
                ended_at=manifest.ended_at,
                server=manifest.host,
            )

    def _end(
        self,
        session: Session,
        process: Process,
        *,
        status: ProcessStatus,
        error: str | None,
        failure_class: FailureClass | None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        server: str | None = None,
    ) -> None:
        transitions.move(process, status, ended_at=ended_at)
        process.error = error
        process.failure_class = failure_class
        if started_at is not None:
            process.started_at = started_at
        if server is not None:
            process.server = server
        session.flush()
        if status in COMPLETED_STATUSES:
            # The recipe's run-time history changed: launches estimate from it afresh.
            announce(session, DURATIONS)
            release_children(session, process, self._specs)
        elif status == ProcessStatus.ERROR:
            step = f"step {process.workflow_step!r} " if process.workflow_step else ""
            stop_descendants(
                session, process.id, f"not run: {step}(process {process.id}) ended in error"
            )

    def _spec(self, session: Session, recipe_id: int) -> RecipeSpec:
        spec = self._specs.get(recipe_id)
        if spec is None:
            row = session.get_one(Recipe, recipe_id)
            from hcdc_server.services.recipes import spec_of

            spec = self._specs[recipe_id] = spec_of(row, {})
        return spec

    # -- recovery --------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Follow again our claims that a broken-off cycle left untracked (never stuck)."""
        with self._sessions() as session:
            ours = list(
                session.scalars(
                    select(Process.id).where(
                        Process.claimed_by == self.worker_id,
                        Process.status == ProcessStatus.RUNNING,
                    )
                )
            )
        self._reconcile_due = False
        for process_id in ours:
            if process_id not in self._tracked:
                _log.warning("recovering process %s after an interrupted cycle", process_id)
                self._recover(process_id)

    def _adopt_stale(self) -> None:
        dead = [w for w in self._queue.running_claims(prefix=f"{self._host}:") if _dead(w)]
        stale = self._queue.stale(
            self.worker_id,
            older_than=stale_before(self._settings.stale_after_s),
            dead_workers=dead,
        )
        for process_id, previous, _ in stale:
            if process_id in self._tracked:
                continue
            if self._queue.adopt(process_id, self.worker_id, previous):
                _log.warning("adopting process %s from worker %s", process_id, previous)
                self._recover(process_id)

    def _recover(self, process_id: int) -> None:
        with self._sessions() as session:
            process = session.get_one(Process, process_id)
            job_dir = Path(process.job_dir) if process.job_dir else None
            job_id = process.executor_job_id
            executor = process.executor
            spec: RecipeSpec | None = None
            reason = ""
            try:
                spec = self._spec(session, process.recipe_id)
            except SpecFormatError as exc:
                reason = f"recipe {process.recipe_id} cannot be read: {exc}"
        if spec is None:
            # A job we cannot interpret is ended, not retried: the next worker would fail alike.
            with self._sessions.begin() as session:
                process = session.get_one(Process, process_id)
                if process.status == ProcessStatus.RUNNING and process.claimed_by == self.worker_id:
                    self._end(
                        session,
                        process,
                        status=ProcessStatus.ERROR,
                        error=reason,
                        failure_class="usage",
                    )
            return
        if executor is not None and executor != self._executor.name:
            _log.error(
                "process %s runs on %s, not %s: left alone",
                process_id,
                executor,
                self._executor.name,
            )
            return
        if job_dir is None or not (job_dir / SPEC_FILE).exists():
            # Claimed but never submitted: back to the queue.
            with self._sessions.begin() as session:
                session.execute(
                    update(Process)
                    .where(
                        Process.id == process_id,
                        Process.claimed_by == self.worker_id,
                        Process.status.in_(transitions.sources(ProcessStatus.QUEUED)),
                    )
                    .values(
                        status=ProcessStatus.QUEUED,
                        claimed_by=None,
                        executor_job_id=None,
                        # The claim never became a job: it does not count as an attempt.
                        attempt=Process.attempt - 1,
                    )
                )
            return
        tracked = Tracked(process_id, job_dir, job_id, run_time_limit(spec, self._quotas))
        if (job_dir / STARTED_FILE).exists():
            tracked.job_id = job_id or _marker_job_id(job_dir, self._executor)
            if tracked.job_id is None:
                tracked.job_id = "0:gone"
            self._tracked[process_id] = tracked
            self._record_job_id(tracked)
            return
        if job_id is not None:
            self._tracked[process_id] = tracked
            return
        # Submitted or not, the job has not started: submit again; the start marker lets only
        # one copy run.
        self._submit(
            [
                Submission(
                    process_id=process_id,
                    spec_path=job_dir / SPEC_FILE,
                    job_dir=job_dir,
                    name=f"hcdc-{process_id}",
                    timeout_s=tracked.timeout_s,
                )
            ]
        )


def _share(session: Session, workspace_ids: Iterable[int], data_ids: Iterable[int]) -> None:
    """Share data files with workspaces (products known from before included)."""
    wanted = {(w, d) for w in workspace_ids for d in data_ids}
    if not wanted:
        return
    shared = {
        (row.workspace_id, row.data_file_id)
        for row in session.execute(
            select(WorkspaceData.workspace_id, WorkspaceData.data_file_id).where(
                WorkspaceData.data_file_id.in_({d for _, d in wanted})
            )
        )
    }
    session.add_all(
        WorkspaceData(workspace_id=w, data_file_id=d) for w, d in sorted(wanted - shared)
    )


def _dead(worker_id: str) -> bool:
    """Whether a worker of this machine (``host:pid:token``) no longer runs."""
    parts = worker_id.split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _disk_full(job_dir: Path) -> str | None:
    """A note when the job directory's filesystem is (nearly) full, else None."""
    try:
        stats = os.statvfs(job_dir)
    except OSError:
        return None
    free = stats.f_bavail * stats.f_frsize
    if free >= _FULL_BYTES:
        return None
    return f"no space left on device: {free} bytes free where the job writes ({job_dir})"


def _marker_job_id(job_dir: Path, executor: Executor) -> str | None:
    """The executor id of the copy of a job that holds its start marker."""
    try:
        marker = json.loads((job_dir / STARTED_FILE).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(executor, SlurmExecutor):
        slurm_id = marker.get("slurm_job_id")
        return str(slurm_id) if slurm_id else None
    pid = int(marker.get("pid", 0))
    ticks = _start_ticks(pid) if pid else None
    return f"{pid}:{ticks}" if ticks else f"{pid}:gone"


def _started_at(job_dir: Path) -> datetime | None:
    try:
        marker = json.loads((job_dir / STARTED_FILE).read_text())
        return datetime.fromisoformat(marker["started_at"])
    except (OSError, ValueError, KeyError):
        return None
