"""Processes: launch (with association and the processing cache), validation, reprocess, cancel.

A launch is validated entirely before anything is written: unknown or badly typed parameters
and input slots that are not filled are refused with an :class:`InvalidInputError` naming each
one. A valid launch creates one batch and its queued processes in one transaction; the
dispatcher (``hcdc worker``) runs them.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.association import (
    AssociationResult,
    Frame,
    SlotMatch,
    associate,
    association_for,
    group_primary,
)
from hcdc_kernel.recipes.esorex import sof_for
from hcdc_kernel.recipes.registry import accepts
from hcdc_kernel.recipes.spec import RecipeSpec, RecipeValidationError
from hcdc_server.config import QuotaSettings
from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.processes import (
    TERMINAL_STATUSES,
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
    Batch,
    DataFile,
    Process,
    ProcessInput,
    ProcessOutput,
    Recipe,
    User,
    ValidationEvent,
    Workspace,
    WorkspaceData,
)
from hcdc_server.services import permissions, quotas, visibility
from hcdc_server.services.dependencies import repoint_children, stop_descendants
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import Viewer, load_viewer

#: Runs of a recipe used to estimate the duration of a new one.
_HISTORY = 50
#: Newest runs with the same cache key considered for reuse (older ones are run afresh).
_CACHE_CANDIDATES = 50
SYSTEM_LOGIN = "hcdc"


@dataclass(frozen=True)
class PlannedInput:
    """One input of a process to be created."""

    data_file: DataFile
    tag: str
    level: int | None = None
    reason: str | None = None
    overridden: bool = False


@dataclass(frozen=True)
class Plan:
    """The inputs of one process to be created."""

    inputs: tuple[PlannedInput, ...]
    deferred_tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def primary(self) -> DataFile | None:
        return self.inputs[0].data_file if self.inputs else None


def frame_of(row: DataFile) -> Frame:
    """The association view of a data file."""
    return Frame(
        id=row.id,
        frame_type=row.frame_type,
        path=row.path,
        date_obs=row.date_obs,
        obs_night=row.obs_night,
        dit=row.dit,
        instrument_filter=row.instrument_filter,
        readout_mode=row.readout_mode,
        obs_id=row.obs_id,
        object=row.object,
    )


def cache_key(
    spec: RecipeSpec, inputs: Sequence[tuple[str, str]], params: Mapping[str, Any]
) -> str:
    """Recipe version, input checksums (with tags) and parameters, hashed."""
    payload = json.dumps(
        {
            "recipe": spec.name,
            "version": spec.version,
            "inputs": sorted(inputs),
            "params": dict(sorted(params.items())),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def estimate_duration(session: Session, recipe_name: str, input_bytes: int) -> float | None:
    """Median seconds per input byte of past runs times ``input_bytes`` (median run without).

    Only finished runs that really ran count (cache hits and failures are left out).
    """
    rows = session.execute(
        select(Process.id, Process.started_at, Process.ended_at)
        .join(Recipe, Recipe.id == Process.recipe_id)
        .where(
            Recipe.name == recipe_name,
            Process.status.in_(("done", "waiting_validation")),
            Process.cache_of_id.is_(None),
            Process.started_at.is_not(None),
            Process.ended_at.is_not(None),
        )
        .order_by(Process.id.desc())
        .limit(_HISTORY)
    ).all()
    if not rows:
        return None
    sizes: dict[int, int] = dict(
        session.execute(
            select(ProcessInput.process_id, func.sum(DataFile.size))
            .join(DataFile, DataFile.id == ProcessInput.data_file_id)
            .where(ProcessInput.process_id.in_([r.id for r in rows]))
            .group_by(ProcessInput.process_id)
        ).all()
    )
    durations = [max(0.0, (r.ended_at - r.started_at).total_seconds()) for r in rows]
    rates = [
        d / float(sizes[r.id]) for d, r in zip(durations, rows, strict=True) if sizes.get(r.id)
    ]
    if input_bytes > 0 and rates:
        return float(statistics.median(rates) * input_bytes)
    return float(statistics.median(durations))


class ProcessService:
    """Launch processes and act on them (validation, reprocess, cancel)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        recipes: RecipeService,
        quotas: QuotaSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._recipes = recipes
        self._quotas = quotas if quotas is not None else QuotaSettings()

    # -- launching -------------------------------------------------------------------------

    def launch(
        self, request: LaunchRequest, *, user_id: int, launcher_type: str = "user"
    ) -> LaunchResult:
        """Validate a launch and create its queued processes in one batch.

        Raises
        ------
        InvalidInputError
            Naming each bad parameter or unfilled input slot (HTTP 400).
        NotFoundError
            For an unknown recipe, version, workspace or data file.
        QuotaExceededError
            When the user would have more processes queued than allowed (HTTP 429).
        """
        recipe_id, spec = self._recipes.get(request.recipe, request.version)
        if not spec.available:
            raise InvalidInputError(
                f"recipe {spec.name} {spec.version} is unavailable here: {spec.unavailable}"
            )
        try:
            params = spec.resolve_params(request.params, preset=request.preset)
        except RecipeValidationError as exc:
            raise InvalidInputError(str(exc)) from exc
        with self._sessions.begin() as session:
            quotas.check_priority(session, user_id, request.priority, self._quotas)
            workspace_id = _workspace_id(session, request.workspace)
            plans = self._plans(session, spec, request, workspace_id)
            for plan in plans:
                _check_plan(spec, plan)
            batch = Batch(name=request.batch_name, user_id=user_id, created_at=utcnow())
            session.add(batch)
            session.flush()
            processes = [
                self._create(
                    session,
                    spec,
                    recipe_id,
                    plan,
                    params=params,
                    batch_id=batch.id,
                    user_id=user_id,
                    workspace_id=workspace_id,
                    request=request,
                    launcher_type=launcher_type,
                )
                for plan in plans
            ]
            session.flush()
            quotas.check_queued(session, user_id, self._quotas)
            return LaunchResult(
                batch_id=batch.id, processes=[_model(session, p) for p in processes]
            )

    def preview(self, request: LaunchRequest) -> list[AssociationPreview]:
        """The inputs a launch would get (``POST /api/associate``), nothing written."""
        _, spec = self._recipes.get(request.recipe, request.version)
        with self._sessions() as session:
            workspace_id = _workspace_id(session, request.workspace)
            if not request.selection:
                raise InvalidInputError("selection: give the data file ids to associate")
            previews = []
            for primary, result in self._associate(session, spec, request, workspace_id):
                previews.append(
                    AssociationPreview(
                        recipe=spec.name,
                        version=spec.version,
                        primary_tag=result.primary_tag,
                        primary_ids=[f.id for f in primary],
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
                )
            return previews

    def _plans(
        self,
        session: Session,
        spec: RecipeSpec,
        request: LaunchRequest,
        workspace_id: int | None,
    ) -> list[Plan]:
        if request.inputs is not None:
            rows = _data_files(session, [i.data_file_id for i in request.inputs])
            planned = []
            for item in request.inputs:
                row = rows[item.data_file_id]
                tag = item.tag or _slot_for(spec, row)
                planned.append(PlannedInput(row, tag, reason="given by the user"))
            return [Plan(tuple(planned))]
        if request.selection:
            plans = []
            for _, result in self._associate(session, spec, request, workspace_id):
                rows = _data_files(
                    session,
                    [f.id for f in result.primary] + [f.id for s in result.slots for f in s.frames],
                )
                planned = [
                    PlannedInput(rows[f.id], result.primary_tag or "", reason="selected")
                    for f in result.primary
                ]
                for slot in result.slots:
                    planned += [
                        PlannedInput(rows[f.id], slot.tag, slot.level, slot.reason, slot.overridden)
                        for f in slot.frames
                    ]
                if result.missing:
                    reasons = "; ".join(
                        f"input {s.tag}: {s.reason}"
                        for s in result.slots
                        if s.tag in result.missing
                    )
                    raise InvalidInputError(f"{spec.name}: {reasons}")
                plans.append(Plan(tuple(planned)))
            return plans
        return [Plan(())]

    def _associate(
        self,
        session: Session,
        spec: RecipeSpec,
        request: LaunchRequest,
        workspace_id: int | None,
    ) -> list[tuple[tuple[Frame, ...], AssociationResult]]:
        rows = _data_files(session, request.selection or [])
        primary_slot = spec.primary_slot
        if primary_slot is None:
            raise InvalidInputError(f"{spec.name}: has no primary input to select")
        primary = [frame_of(r) for r in rows.values() if accepts(primary_slot, r.frame_type)]
        if not primary:
            raise InvalidInputError(
                f"input {primary_slot.tag}: the selection has no frame of type "
                f"{'/'.join(primary_slot.frame_types)}"
            )
        rules = association_for(spec.name)
        by_tag = {rule.tag: rule for rule in rules.calibrations}
        rest = [frame_of(r) for r in rows.values() if not accepts(primary_slot, r.frame_type)]
        instrument = next(iter(rows.values())).instrument
        overrides = {
            tag: [frame_of(r) for r in _data_files(session, ids).values()]
            for tag, ids in request.overrides.items()
        }
        results = []
        for group in group_primary(primary, rules.group_by):
            matches: list[SlotMatch] = []
            for slot in spec.inputs:
                if slot.primary:
                    continue
                if slot.tag in overrides:
                    frames = tuple(overrides[slot.tag])
                    matches.append(
                        SlotMatch(
                            slot.tag,
                            frames,
                            None,
                            f"{len(frames)} frame(s) chosen by the user",
                            slot.min_count > 0,
                            overridden=True,
                        )
                    )
                    continue
                rule = by_tag.get(slot.tag)
                if rule is None:
                    chosen = tuple(f for f in rest if accepts(slot, f.frame_type))
                    matches.append(
                        SlotMatch(
                            slot.tag,
                            chosen,
                            None,
                            f"{len(chosen)} frame(s) from the selection",
                            slot.min_count > 0,
                        )
                    )
                    continue
                candidates = _candidates(session, rule.frame_types, instrument, workspace_id)
                matches.append(associate(spec.name, group, candidates, [rule]).slots[0])
            results.append(
                (
                    group,
                    AssociationResult(
                        recipe=spec.name,
                        primary_tag=primary_slot.tag,
                        primary=group,
                        slots=tuple(matches),
                    ),
                )
            )
        return results

    def _create(
        self,
        session: Session,
        spec: RecipeSpec,
        recipe_id: int,
        plan: Plan,
        *,
        params: Mapping[str, Any],
        batch_id: int,
        user_id: int,
        workspace_id: int | None,
        request: LaunchRequest,
        launcher_type: str,
        workflow: tuple[int, str] | None = None,
    ) -> Process:
        primary = plan.primary
        key = None
        if not plan.deferred_tags:
            key = cache_key(spec, [(i.tag, i.data_file.checksum) for i in plan.inputs], params)
        now = utcnow()
        process = Process(
            batch_id=batch_id,
            recipe_id=recipe_id,
            recipe_preset=request.preset,
            user_id=user_id,
            workspace_id=workspace_id,
            target_id=primary.target_id if primary else None,
            reference=request.reference,
            params=dict(params),
            status="queued",
            progress=0.0,
            priority=request.priority,
            created_at=now,
            instrument=primary.instrument if primary else spec.instrument,
            obs_night=primary.obs_night if primary else None,
            obs_date=primary.date_obs if primary else None,
            obs_id=primary.obs_id if primary else None,
            prog_id=primary.prog_id if primary else None,
            launcher_type=launcher_type,
            cache_key=key,
            attempt=0,
            workflow_id=workflow[0] if workflow else None,
            workflow_step=workflow[1] if workflow else None,
        )
        session.add(process)
        session.flush()
        seen: set[tuple[int, str]] = set()
        for item in plan.inputs:
            if (item.data_file.id, item.tag) in seen:
                continue
            seen.add((item.data_file.id, item.tag))
            session.add(
                ProcessInput(
                    process_id=process.id,
                    data_file_id=item.data_file.id,
                    sof_tag=item.tag,
                    association_level=item.level,
                    association_reason=item.reason,
                    overridden_by=user_id if item.overridden else None,
                )
            )
        cached = (
            None
            if request.force or key is None
            else _cached(session, key, user_id=user_id, workspace_id=workspace_id)
        )
        if cached is not None:
            process.status = "done"
            process.cache_of_id = cached.id
            process.validation_status = cached.validation_status
            process.progress = 100.0
            process.started_at = process.ended_at = now
            process.server = cached.server
            for output in session.scalars(
                select(ProcessOutput).where(ProcessOutput.process_id == cached.id)
            ):
                session.add(
                    ProcessOutput(
                        process_id=process.id,
                        data_file_id=output.data_file_id,
                        category=output.category,
                    )
                )
        else:
            size = sum(i.data_file.size for i in plan.inputs)
            process.estimated_duration_s = estimate_duration(session, spec.name, size)
        session.flush()
        return process

    # -- reading ---------------------------------------------------------------------------

    def get(self, process_id: int) -> ProcessModel:
        with self._sessions() as session:
            return _model(session, _process(session, process_id))

    def list_batch(self, batch_id: int) -> list[ProcessModel]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Process).where(Process.batch_id == batch_id).order_by(Process.id)
            )
            return [_model(session, p) for p in rows]

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

        A rejected process stops its queued descendants.
        """
        with self._sessions.begin() as session:
            process = _process(session, process_id, lock=True)
            if process.status not in ("waiting_validation", "done"):
                raise ConflictError(
                    f"process {process_id} is {process.status}: only finished processes "
                    "can be validated"
                )
            if process.status == "done" and process.validation_status is None:
                raise ConflictError(f"process {process_id} does not need validation")
            session.add(
                ValidationEvent(
                    process_id=process_id,
                    user_id=user_id,
                    at=utcnow(),
                    from_status=process.validation_status,
                    to_status=verdict,
                    comment=comment,
                )
            )
            process.validation_status = verdict
            process.status = "done"
            if verdict == "rejected":
                stop_descendants(
                    session, process_id, f"not run: parent process {process_id} was rejected"
                )
            session.flush()
            return _model(session, process)

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
            if old.status not in TERMINAL_STATUSES and old.status != "waiting_validation":
                raise ConflictError(f"process {process_id} is {old.status}: wait for its end")
            if old.reprocessed_by_id is not None:
                raise ConflictError(
                    f"process {process_id} was already reprocessed by {old.reprocessed_by_id}"
                )
            old_recipe = session.get_one(Recipe, old.recipe_id)
            recipe_id, spec = self._recipes.get(old_recipe.name, version or old_recipe.version)
            try:
                merged = spec.resolve_params({**old.params, **(params or {})})
            except RecipeValidationError as exc:
                raise InvalidInputError(str(exc)) from exc
            inputs = session.scalars(
                select(ProcessInput).where(ProcessInput.process_id == process_id)
            ).all()
            rows = _data_files(session, [i.data_file_id for i in inputs])
            plan = Plan(
                tuple(
                    PlannedInput(
                        rows[i.data_file_id],
                        i.sof_tag,
                        i.association_level,
                        i.association_reason,
                        i.overridden_by is not None,
                    )
                    for i in inputs
                )
            )
            request = LaunchRequest(
                recipe=spec.name,
                reference=old.reference,
                priority=quotas.fit_priority(session, user_id, old.priority, self._quotas),
                force=True,
            )
            new = self._create(
                session,
                spec,
                recipe_id,
                plan,
                params=merged,
                batch_id=old.batch_id or 0,
                user_id=user_id,
                workspace_id=old.workspace_id,
                request=request,
                launcher_type=old.launcher_type,
                workflow=(old.workflow_id, old.workflow_step or "") if old.workflow_id else None,
            )
            new.reprocess_of_id = old.id
            new.recipe_preset = old.recipe_preset
            old.reprocessed_by_id = new.id
            repoint_children(session, old.id, new.id)
            session.flush()
            quotas.check_queued(session, user_id, self._quotas)
            return _model(session, new)

    def check_quotas(self, session: Session, *, user_id: int, priority: int) -> None:
        """Apply the launch quotas to processes just written in ``session`` (workflows)."""
        quotas.check_priority(session, user_id, priority, self._quotas)
        quotas.check_queued(session, user_id, self._quotas)

    def cancel(self, process_id: int, *, user_id: int) -> ProcessModel:
        """Cancel a queued or running process (the worker stops a running job)."""
        with self._sessions.begin() as session:
            process = _process(session, process_id, lock=True)
            if process.status not in ("queued", "running"):
                raise ConflictError(f"process {process_id} is {process.status}: nothing to cancel")
            login = session.scalar(select(User.login).where(User.id == user_id))
            process.status = "cancelled"
            process.error = f"cancelled by {login or user_id}"
            process.ended_at = utcnow()
            stop_descendants(
                session, process_id, f"not run: parent process {process_id} was cancelled"
            )
            session.flush()
            return _model(session, process)

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
        re-ingest from running anything twice.
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


def _check_plan(spec: RecipeSpec, plan: Plan) -> None:
    counts: dict[str, int] = {}
    refused: dict[str, str] = {}
    slots = {slot.tag: slot for slot in spec.inputs}
    for item in plan.inputs:
        counts[item.tag] = counts.get(item.tag, 0) + 1
        slot = slots.get(item.tag)
        if slot is not None and not accepts(slot, item.data_file.frame_type):
            refused.setdefault(item.tag, item.data_file.frame_type)
    for tag in plan.deferred_tags:
        counts[tag] = max(counts.get(tag, 0), slots[tag].min_count)
    try:
        spec.check_inputs(counts, frame_types=refused)
    except RecipeValidationError as exc:
        raise InvalidInputError(str(exc)) from exc


def _slot_for(spec: RecipeSpec, row: DataFile) -> str:
    for slot in spec.inputs:
        if accepts(slot, row.frame_type):
            return slot.tag
    raise InvalidInputError(
        f"{spec.name}: input data file {row.id} ({row.frame_type}) fits no input slot "
        f"({', '.join(s.tag for s in spec.inputs) or 'none'})"
    )


def _data_files(session: Session, ids: Sequence[int]) -> dict[int, DataFile]:
    if not ids:
        return {}
    rows = {r.id: r for r in session.scalars(select(DataFile).where(DataFile.id.in_(set(ids))))}
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise NotFoundError(f"no data file with id {', '.join(map(str, missing))}")
    return rows


def _candidates(
    session: Session, frame_types: Sequence[str], instrument: str | None, workspace_id: int | None
) -> list[Frame]:
    query = select(DataFile).where(DataFile.frame_type.in_(frame_types), DataFile.status == "ok")
    if instrument is not None:
        query = query.where(DataFile.instrument == instrument)
    visible = DataFile.is_public.is_(True)
    if workspace_id is not None:
        visible = or_(
            visible,
            DataFile.id.in_(
                select(WorkspaceData.data_file_id).where(WorkspaceData.workspace_id == workspace_id)
            ),
        )
    return [frame_of(r) for r in session.scalars(query.where(visible))]


def _cached(
    session: Session, key: str, *, user_id: int, workspace_id: int | None
) -> Process | None:
    """The newest finished run with ``key`` that this launch may reuse (:mod:`permissions`)."""
    runs = session.scalars(
        select(Process)
        .where(
            Process.cache_key == key,
            Process.status == "done",
            Process.cache_of_id.is_(None),
            or_(Process.validation_status.is_(None), Process.validation_status == "valid"),
        )
        .order_by(Process.id.desc())
        .limit(_CACHE_CANDIDATES)
    ).all()
    if not runs:
        return None
    viewer = load_viewer(session, user_id)
    for run in runs:
        ref = permissions.ProcessRef(
            id=run.id, user_id=run.user_id, workspace_id=run.workspace_id, workspace=None
        )
        if permissions.may_reuse(viewer, ref, workspace_id):
            return run
    return None


def _workspace_id(session: Session, name: str | None) -> int | None:
    if name is None:
        return None
    workspace_id = session.scalar(select(Workspace.id).where(Workspace.name == name))
    if workspace_id is None:
        raise NotFoundError(f"no workspace {name!r}")
    return workspace_id


def _process(session: Session, process_id: int, *, lock: bool = False) -> Process:
    query = select(Process).where(Process.id == process_id)
    if lock:
        query = query.with_for_update()
    process = session.scalars(query).first()
    if process is None:
        raise NotFoundError(f"no process {process_id}")
    return process


def _model(session: Session, process: Process) -> ProcessModel:
    recipe = session.get_one(Recipe, process.recipe_id)
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
        recipe_name=recipe.name,
        recipe_version=recipe.version,
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
