"""Processes: launch (with association and the processing cache), validation, reprocess, cancel.

Planning (which inputs, the checks, the cache) is the launch planner's
(:mod:`~hcdc_server.services.launch_planner`), shared with workflows; status changes go through
:mod:`~hcdc_server.services.transitions`. A valid launch creates one batch and its queued
processes in one transaction; the dispatcher (``hcdc worker``) runs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.enums import ProcessStatus, ValidationStatus
from hcdc_kernel.recipes.esorex import sof_for
from hcdc_server.config import QuotaSettings
from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.processes import (
    AssociationPreview,
    LaunchRequest,
    LaunchResult,
    ProcessInputModel,
    ProcessModel,
    SlotPreview,
    ValidationEventModel,
    ValidationVerdict,
)
from hcdc_server.schema.tables import (
    DataFile,
    Process,
    ProcessInput,
    ProcessOutput,
    Recipe,
    User,
    ValidationEvent,
)
from hcdc_server.services import launch_planner as planner
from hcdc_server.services import quotas, transitions, visibility
from hcdc_server.services.dependencies import release_children, repoint_children, stop_descendants
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.stamped_cache import StampedCache
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import Viewer

SYSTEM_LOGIN = "hcdc"


class ProcessService:
    """Launch processes and act on them (validation, reprocess, cancel)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        recipes: RecipeService,
        quotas: QuotaSettings | None = None,
        on_valid: Callable[[int], None] | None = None,
        durations: StampedCache[planner.DurationHistory] | None = None,
    ) -> None:
        self._sessions = sessions
        self._recipes = recipes
        self._quotas = quotas if quotas is not None else QuotaSettings()
        self._durations = durations
        # Called after a `valid` verdict is committed (the VO publishes the products).
        self._on_valid = on_valid

    # -- launching -------------------------------------------------------------------------

    def _duration_history(self, session: Session, recipe_name: str) -> planner.DurationHistory:
        """A recipe's recent run times, read at most every few seconds per process."""
        if self._durations is None:
            return planner.duration_history(session, recipe_name)
        return self._durations.get_or_load(
            recipe_name,
            lambda: (planner.duration_history(session, recipe_name), None),
            now=utcnow,
        )

    def launch(
        self,
        request: LaunchRequest,
        *,
        user_id: int,
        launcher_type: str = "user",
        workspace_from_inputs: bool = False,
    ) -> LaunchResult:
        """Validate a launch and create its queued processes in one batch.

        With ``workspace_from_inputs`` and no workspace named, each process belongs to the
        workspace that holds its primary inputs (automatic calibration).

        Raises
        ------
        InvalidInputError
            Naming each bad parameter or unfilled input slot (HTTP 400).
        NotFoundError
            For an unknown recipe, version, workspace or data file.
        QuotaExceededError
            When the user would have more processes queued than allowed (HTTP 429).
        """
        recipe = planner.resolve_recipe(
            self._recipes,
            request.recipe,
            request.version,
            params=request.params,
            preset=request.preset,
        )
        with self._sessions.begin() as session:
            role = quotas.check_priority(session, user_id, request.priority, self._quotas)
            workspace_id = planner.workspace_id(session, request.workspace)
            plans = planner.plans_for(session, recipe.spec, request, workspace_id)
            for plan in plans:
                planner.check_plan(recipe.spec, plan)
            batch = planner.open_batch(session, name=request.batch_name, user_id=user_id)
            launch = planner.LaunchContext(
                durations=self._duration_history,
                batch_id=batch.id,
                user_id=user_id,
                workspace_id=workspace_id,
                launcher_type=launcher_type,
                reference=request.reference,
                priority=request.priority,
                force=request.force,
            )
            processes = []
            for plan in plans:
                context = launch
                if workspace_from_inputs and workspace_id is None:
                    found = planner.inputs_workspace(session, recipe.spec, plan)
                    context = dataclasses.replace(launch, workspace_id=found)
                processes.append(planner.create_process(session, recipe, plan, context))
            quotas.check_queued(session, user_id, self._quotas, role=role)
            known = (recipe.recipe_id, recipe.spec.name, recipe.spec.version)
            return LaunchResult(
                batch_id=batch.id,
                processes=[process_model(session, p, recipe=known) for p in processes],
            )

    def preview(self, request: LaunchRequest) -> list[AssociationPreview]:
        """The inputs a launch would get (``POST /api/associate``), nothing written."""
        _, spec = self._recipes.get(request.recipe, request.version)
        with self._sessions() as session:
            workspace_id = planner.workspace_id(session, request.workspace)
            if not request.selection:
                raise InvalidInputError("selection: give the data file ids to associate")
            results = planner.associate_selection(
                session,
                spec,
                request.selection,
                overrides=request.overrides,
                workspace_id=workspace_id,
            )
            return [
                AssociationPreview(
                    recipe=spec.name,
                    version=spec.version,
                    primary_tag=result.primary_tag,
                    primary_ids=[f.id for f in result.primary],
                    slots=[
                        SlotPreview(
                            tag=s.tag,
                            data_file_ids=[f.id for f in s.frames],
                            level=s.level,
                            reason=s.reason,
                            required=s.required,
                            overridden=s.overridden,
                        )
                        for s in result.slots
                    ],
                    complete=result.complete,
                    missing=list(result.missing),
                )
                for result in results
            ]

    # -- reading ---------------------------------------------------------------------------

    def get(self, process_id: int) -> ProcessModel:
        with self._sessions() as session:
            return process_model(session, _process(session, process_id))

    def list_batch(self, batch_id: int) -> list[ProcessModel]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Process).where(Process.batch_id == batch_id).order_by(Process.id)
            )
            return [process_model(session, p) for p in rows]

    def sof(self, process_id: int, *, viewer: Viewer | None = None) -> str:
        """The set-of-frames text of a process (``<path> <TAG>`` per input).

        For a ``viewer``, only the inputs they can see are listed; a closing comment line
        counts the others (never their paths).
        """
        with self._sessions() as session:
            _process(session, process_id)
            query = (
                select(DataFile.path, ProcessInput.sof_tag)
                .join(DataFile, DataFile.id == ProcessInput.data_file_id)
                .where(ProcessInput.process_id == process_id)
                .order_by(ProcessInput.sof_tag, DataFile.id)
            )
            if viewer is None:
                return sof_for(list(session.execute(query).all()))
            rows = session.execute(query.where(visibility.visible(viewer, "data"))).all()
            total = session.scalar(
                select(func.count()).where(ProcessInput.process_id == process_id)
            )
            hidden = (total or 0) - len(rows)
            note = f"# {hidden} more input(s) not visible to you\n" if hidden else ""
            return sof_for(list(rows)) + note

    def validation_events(self, process_id: int) -> list[ValidationEventModel]:
        with self._sessions() as session:
            rows = session.scalars(
                select(ValidationEvent)
                .where(ValidationEvent.process_id == process_id)
                .order_by(ValidationEvent.id)
            )
            return [ValidationEventModel.model_validate(e) for e in rows]

    # -- acting ----------------------------------------------------------------------------

    def set_validation(
        self,
        process_id: int,
        verdict: ValidationVerdict,
        *,
        user_id: int,
        comment: str | None = None,
    ) -> ProcessModel:
        """Record a validation decision as an event (who, when, from, to, comment).

        Any finished run can be labelled (:func:`transitions.label`). ``valid`` releases its
        workflow children with its products; ``rejected`` stops its queued descendants.
        """
        with self._sessions.begin() as session:
            process = _process(session, process_id, lock=True)
            previous = transitions.label(process, verdict)
            session.add(
                ValidationEvent(
                    process_id=process_id,
                    user_id=user_id,
                    at=utcnow(),
                    from_status=previous,
                    to_status=verdict,
                    comment=comment,
                )
            )
            session.flush()
            if verdict == ValidationStatus.REJECTED:
                stop_descendants(
                    session, process_id, f"not run: parent process {process_id} was rejected"
                )
            else:
                release_children(session, process)
            session.flush()
            answer = process_model(session, process)
        if verdict == ValidationStatus.VALID and self._on_valid is not None:
            self._on_valid(process_id)
        return answer

    def reprocess(
        self,
        process_id: int,
        *,
        user_id: int,
        params: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> ProcessModel:
        """A new queued process on the same inputs, linked to the old one (which it supersedes)."""
        with self._sessions.begin() as session:
            old = _process(session, process_id, lock=True)
            transitions.require_finished(old, "reprocess it")
            if old.reprocessed_by_id is not None:
                raise ConflictError(
                    f"process {process_id} was already reprocessed by {old.reprocessed_by_id}"
                )
            old_recipe = session.get_one(Recipe, old.recipe_id)
            recipe = planner.resolve_recipe(
                self._recipes,
                old_recipe.name,
                version or old_recipe.version,
                params={**old.params, **(params or {})},
            )
            # The old parameters already hold the preset's values: it is only recorded.
            recipe = dataclasses.replace(recipe, preset=old.recipe_preset)
            launch = planner.LaunchContext(
                durations=self._duration_history,
                batch_id=old.batch_id,
                user_id=user_id,
                workspace_id=old.workspace_id,
                launcher_type=old.launcher_type,
                reference=old.reference,
                priority=quotas.fit_priority(session, user_id, old.priority, self._quotas),
                force=True,
                workflow_id=old.workflow_id,
            )
            new = planner.create_process(
                session,
                recipe,
                planner.plan_again(session, process_id),
                launch,
                step=old.workflow_step if old.workflow_id else None,
            )
            new.reprocess_of_id = old.id
            old.reprocessed_by_id = new.id
            repoint_children(session, old.id, new.id)
            session.flush()
            quotas.check_queued(session, user_id, self._quotas)
            return process_model(session, new)

    def check_quotas(self, session: Session, *, user_id: int, priority: int) -> None:
        """Apply the launch quotas to processes just written in ``session`` (workflows)."""
        quotas.check_priority(session, user_id, priority, self._quotas)
        quotas.check_queued(session, user_id, self._quotas)

    def cancel(self, process_id: int, *, user_id: int) -> ProcessModel:
        """Cancel a queued or running process (the worker stops a running job)."""
        with self._sessions.begin() as session:
            process = _process(session, process_id, lock=True)
            login = session.scalar(select(User.login).where(User.id == user_id))
            transitions.move(process, ProcessStatus.CANCELLED, refused="nothing to cancel")
            process.error = f"cancelled by {login or user_id}"
            stop_descendants(
                session, process_id, f"not run: parent process {process_id} was cancelled"
            )
            session.flush()
            return process_model(session, process)

    def system_user_id(self) -> int:
        """The id of the ``hcdc`` user that automatic launches belong to (created once)."""
        with self._sessions.begin() as session:
            user_id = session.scalar(select(User.id).where(User.login == SYSTEM_LOGIN))
            if user_id is None:
                user = User(login=SYSTEM_LOGIN, role="admin", created_at=utcnow())
                session.add(user)
                session.flush()
                user_id = user.id
            return user_id

    def auto_calibrate(
        self, data_file_ids: Sequence[int], *, user_id: int | None = None
    ) -> list[LaunchResult]:
        """Launch the automatic calibration recipes on newly ingested raw frames.

        Each current, visible, available recipe marked ``auto_calibrate`` gets the new
        frames its primary slot accepts, grouped by its association rules; a group that is
        not a valid launch (too few frames) is skipped, and the processing cache keeps a
        re-ingest from running anything twice. Each process belongs to the workspace that
        holds its frames, so that the workspace's members see it.
        """
        if not data_file_ids:
            return []
        owner = user_id if user_id is not None else self.system_user_id()
        with self._sessions() as session:
            types: dict[int, str] = dict(
                session.execute(
                    select(DataFile.id, DataFile.frame_type).where(
                        DataFile.id.in_(data_file_ids), DataFile.is_raw.is_(True)
                    )
                ).all()
            )
        results = []
        for recipe in self._recipes.list_recipes():
            if not recipe.is_current or not recipe.available:
                continue
            _, spec = self._recipes.get(recipe.name, recipe.version)
            slot = spec.primary_slot
            if not spec.auto_calibrate or slot is None:
                continue
            selected = [i for i, t in types.items() if t in slot.frame_types]
            if not selected:
                continue
            # esorex's default border rejection (200 px) needs frames of at least 400 px.
            sizes = self.frame_sizes(selected)
            small = any((n1 or 0) < 400 or (n2 or 0) < 400 for n1, n2 in sizes.values())
            preset = "small_frames" if small and "small_frames" in spec.presets else None
            try:
                results.append(
                    self.launch(
                        LaunchRequest(
                            recipe=spec.name,
                            version=spec.version,
                            selection=selected,
                            preset=preset,
                            batch_name=f"auto-calibration {spec.name}",
                        ),
                        user_id=owner,
                        launcher_type="auto",
                        workspace_from_inputs=True,
                    )
                )
            except InvalidInputError:
                continue
        return results

    def frame_sizes(self, ids: Sequence[int]) -> dict[int, tuple[int | None, int | None]]:
        with self._sessions() as session:
            return {
                row.id: (row.naxis1, row.naxis2)
                for row in session.execute(
                    select(DataFile.id, DataFile.naxis1, DataFile.naxis2).where(
                        DataFile.id.in_(ids)
                    )
                )
            }


def _process(session: Session, process_id: int, *, lock: bool = False) -> Process:
    query = select(Process).where(Process.id == process_id)
    if lock:
        query = query.with_for_update()
    process = session.scalars(query).first()
    if process is None:
        raise NotFoundError(f"no process {process_id}")
    return process


def process_model(
    session: Session, process: Process, *, recipe: tuple[int, str, str] | None = None
) -> ProcessModel:
    """A process as the API shows it (with its inputs and outputs).

    ``recipe``: (id, name, version) of its recipe where the caller knows them (a launch).
    """
    if recipe is not None and recipe[0] == process.recipe_id:
        recipe_name, recipe_version = recipe[1], recipe[2]
    else:
        row = session.get_one(Recipe, process.recipe_id)
        recipe_name, recipe_version = row.name, row.version
    inputs = session.scalars(
        select(ProcessInput)
        .where(ProcessInput.process_id == process.id)
        .order_by(ProcessInput.sof_tag, ProcessInput.data_file_id)
    ).all()
    outputs = session.scalars(
        select(ProcessOutput.data_file_id)
        .where(ProcessOutput.process_id == process.id)
        .order_by(ProcessOutput.data_file_id)
    ).all()
    return ProcessModel(
        id=process.id,
        batch_id=process.batch_id,
        recipe_name=recipe_name,
        recipe_version=recipe_version,
        recipe_preset=process.recipe_preset,
        user_id=process.user_id,
        workspace_id=process.workspace_id,
        reference=process.reference,
        params=dict(process.params or {}),
        status=process.status,
        validation_status=process.validation_status,
        progress=process.progress,
        server=process.server,
        created_at=process.created_at,
        started_at=process.started_at,
        ended_at=process.ended_at,
        estimated_duration_s=process.estimated_duration_s,
        instrument=process.instrument,
        obs_night=process.obs_night,
        launcher_type=process.launcher_type,
        workflow_id=process.workflow_id,
        workflow_step=process.workflow_step,
        reprocess_of_id=process.reprocess_of_id,
        reprocessed_by_id=process.reprocessed_by_id,
        cache_of_id=process.cache_of_id,
        executor=process.executor,
        executor_job_id=process.executor_job_id,
        attempt=process.attempt,
        job_dir=process.job_dir,
        error=process.error,
        failure_class=process.failure_class,
        inputs=[ProcessInputModel.model_validate(i) for i in inputs],
        outputs=list(outputs),
    )
