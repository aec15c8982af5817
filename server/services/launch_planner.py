"""Launch planning: which inputs new processes get, the checks, and their creation.

One planner serves every way a process is made: single launches and association previews
(:class:`~hcdc_server.services.processes.ProcessService`), workflow steps
(:class:`~hcdc_server.services.workflows.WorkflowService`), reprocessing and automatic
calibration. A plan is complete before anything is written: unknown or badly typed parameters
and unfilled input slots are refused with an :class:`InvalidInputError` naming each one.

Functions here work inside the caller's transaction (they take a Session and never commit).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hcdc_kernel.association import (
    AssociationResult,
    Frame,
    SlotMatch,
    associate,
    association_for,
    group_primary,
)
from hcdc_kernel.enums import COMPLETED_STATUSES, ProcessStatus
from hcdc_kernel.recipes.registry import accepts
from hcdc_kernel.recipes.spec import InputSlot, RecipeSpec, RecipeValidationError
from hcdc_server.exceptions import InvalidInputError, NotFoundError
from hcdc_server.models.processes import InputRef, LaunchRequest
from hcdc_server.schema.tables import (
    Batch,
    DataFile,
    Process,
    ProcessInput,
    ProcessOutput,
    Recipe,
    Workspace,
    WorkspaceData,
)
from hcdc_server.services import permissions, provenance, transitions
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.users import utcnow
from hcdc_server.services.visibility import load_viewer

#: Runs of a recipe used to estimate the duration of a new one.
_HISTORY = 50
#: Newest runs with the same cache key considered for reuse (older ones are run afresh).
_CACHE_CANDIDATES = 50


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
    """The inputs of one process to be created; ``deferred_tags`` come from workflow parents."""

    inputs: tuple[PlannedInput, ...]
    deferred_tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def primary(self) -> DataFile | None:
        return self.inputs[0].data_file if self.inputs else None


@dataclass(frozen=True)
class ResolvedRecipe:
    """A runnable recipe version with its parameters checked (defaults and preset applied)."""

    recipe_id: int
    spec: RecipeSpec
    params: Mapping[str, Any]
    preset: str | None = None


@dataclass(frozen=True)
class LaunchContext:
    """What the processes of one launch share: batch, launcher, workspace and options."""

    batch_id: int | None
    user_id: int
    workspace_id: int | None
    launcher_type: str = "user"
    reference: str | None = None
    priority: int = 0
    force: bool = False
    workflow_id: int | None = None
    #: Past runs of a recipe by name (:func:`duration_history`; a service may cache it).
    durations: Callable[[Session, str], DurationHistory] = field(
        default_factory=lambda: duration_history
    )


# -- recipes and references ------------------------------------------------------------------


def resolve_recipe(
    recipes: RecipeService,
    name: str,
    version: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    preset: str | None = None,
    workflow_preset: str | None = None,
    where: str = "",
) -> ResolvedRecipe:
    """The recipe version to run and its checked parameters; ``where`` prefixes each error.

    A ``workflow_preset`` applies where no ``preset`` is named and the recipe has one of that
    name.
    """
    recipe_id, spec = recipes.get(name, version)
    if not spec.available:
        raise InvalidInputError(
            f"{where}recipe {spec.name} {spec.version} is unavailable here: {spec.unavailable}"
        )
    if preset is None and workflow_preset is not None and workflow_preset in spec.presets:
        preset = workflow_preset
    try:
        resolved = spec.resolve_params(params, preset=preset)
    except RecipeValidationError as exc:
        raise InvalidInputError(f"{where}{exc}") from exc
    return ResolvedRecipe(recipe_id, spec, resolved, preset)


def workspace_id(session: Session, name: str | None) -> int | None:
    """The id of workspace ``name`` (None for none); 404 when unknown."""
    if name is None:
        return None
    found = session.scalar(select(Workspace.id).where(Workspace.name == name))
    if found is None:
        raise NotFoundError(f"no workspace {name!r}")
    return found


def data_files(session: Session, ids: Sequence[int]) -> dict[int, DataFile]:
    """Data files by id; 404 naming the ids that do not exist."""
    if not ids:
        return {}
    rows = {r.id: r for r in session.scalars(select(DataFile).where(DataFile.id.in_(set(ids))))}
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise NotFoundError(f"no data file with id {', '.join(map(str, missing))}")
    return rows


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


# -- association -----------------------------------------------------------------------------


def associate_selection(
    session: Session,
    spec: RecipeSpec,
    selection: Sequence[int],
    *,
    overrides: Mapping[str, Sequence[int]],
    workspace_id: int | None,
) -> list[AssociationResult]:
    """One association per group of selected primary frames (the recipe's grouping rules)."""
    rows = data_files(session, selection)
    primary_slot = spec.primary_slot
    if primary_slot is None:
        raise InvalidInputError(f"{spec.name}: has no primary input to select")
    primary = [r for r in rows.values() if accepts(primary_slot, r.frame_type)]
    if not primary:
        raise _no_primary(primary_slot)
    rest = [frame_of(r) for r in rows.values() if r not in primary]
    chosen = {
        tag: [frame_of(r) for r in data_files(session, ids).values()]
        for tag, ids in overrides.items()
    }
    groups = group_primary([frame_of(r) for r in primary], association_for(spec.name).group_by)
    return [
        match_slots(
            session,
            spec,
            group,
            rest,
            instrument=primary[0].instrument,
            workspace_id=workspace_id,
            overrides=chosen,
        )
        for group in groups
    ]


def match_slots(
    session: Session,
    spec: RecipeSpec,
    primary: Sequence[Frame],
    rest: Sequence[Frame],
    *,
    instrument: str | None,
    workspace_id: int | None,
    overrides: Mapping[str, Sequence[Frame]] | None = None,
    deferred: frozenset[str] = frozenset(),
) -> AssociationResult:
    """Fill each other input slot of one run on ``primary``.

    A slot is filled by the frames the user chose for it (``overrides``), else by the
    recipe's association rule for it (calibrations the launch may see), else by the other
    selected frames (``rest``) it accepts. ``deferred`` slots are left to workflow parents.
    """
    overrides = overrides or {}
    rules = {rule.tag: rule for rule in association_for(spec.name).calibrations}
    matches: list[SlotMatch] = []
    for slot in spec.inputs:
        if slot.primary or slot.tag in deferred:
            continue
        required = slot.min_count > 0
        if slot.tag in overrides:
            frames = tuple(overrides[slot.tag])
            reason = f"{len(frames)} frame(s) chosen by the user"
            matches.append(SlotMatch(slot.tag, frames, None, reason, required, overridden=True))
            continue
        rule = rules.get(slot.tag)
        if rule is None:
            frames = tuple(f for f in rest if accepts(slot, f.frame_type))
            reason = f"{len(frames)} frame(s) from the selection"
            matches.append(SlotMatch(slot.tag, frames, None, reason, required))
            continue
        candidates = _candidates(session, rule.frame_types, instrument, workspace_id)
        matches.append(associate(spec.name, primary, candidates, [rule]).slots[0])
    primary_slot = spec.primary_slot
    return AssociationResult(
        recipe=spec.name,
        primary_tag=primary_slot.tag if primary_slot is not None else None,
        primary=tuple(primary),
        slots=tuple(matches),
    )


# -- plans -----------------------------------------------------------------------------------


def plans_for(
    session: Session, spec: RecipeSpec, request: LaunchRequest, workspace_id: int | None
) -> list[Plan]:
    """The plans of a single launch: its given inputs, or one per associated group."""
    if request.inputs is not None:
        return [_given(session, spec, request.inputs)]
    if request.selection:
        results = associate_selection(
            session,
            spec,
            request.selection,
            overrides=request.overrides,
            workspace_id=workspace_id,
        )
        return [plan_of(session, result) for result in results]
    return [Plan(())]


def plan_step(
    session: Session,
    spec: RecipeSpec,
    selection: Sequence[DataFile],
    *,
    deferred: frozenset[str],
    may_lack_primary: bool,
    workspace_id: int | None,
    where: str,
) -> Plan:
    """The plan of a workflow step on the workflow's selection (one run on all of it).

    Slots in ``deferred`` are filled later by parents' products; a step that only follows
    others (``may_lack_primary``) may find no primary frame in the selection.
    """
    primary_slot = spec.primary_slot
    primary: list[DataFile] = []
    if primary_slot is not None and primary_slot.tag not in deferred:
        primary = [r for r in selection if accepts(primary_slot, r.frame_type)]
        if not primary and primary_slot.min_count > 0 and not may_lack_primary:
            raise _no_primary(primary_slot, where)
    result = match_slots(
        session,
        spec,
        [frame_of(r) for r in primary],
        [frame_of(r) for r in selection if r not in primary],
        instrument=primary[0].instrument if primary else None,
        workspace_id=workspace_id,
        deferred=deferred,
    )
    return plan_of(session, result, deferred=deferred, where=where)


def plan_of(
    session: Session,
    result: AssociationResult,
    *,
    deferred: frozenset[str] = frozenset(),
    where: str = "",
) -> Plan:
    """The inputs an association gives; refused naming each required slot left empty."""
    if result.missing:
        reasons = "; ".join(
            f"input {s.tag}: {s.reason}" for s in result.slots if s.tag in result.missing
        )
        raise InvalidInputError(f"{where}{result.recipe}: {reasons}")
    rows = data_files(
        session, [f.id for f in result.primary] + [f.id for s in result.slots for f in s.frames]
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
    return Plan(tuple(planned), deferred_tags=deferred)


def plan_again(session: Session, process_id: int) -> Plan:
    """The inputs of an earlier process, as they were given to it (a reprocess)."""
    inputs = session.scalars(
        select(ProcessInput).where(ProcessInput.process_id == process_id)
    ).all()
    rows = data_files(session, [i.data_file_id for i in inputs])
    return Plan(
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


def check_plan(spec: RecipeSpec, plan: Plan, *, where: str = "") -> None:
    """Refuse a plan whose inputs do not fit the recipe's slots, naming each problem."""
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
        raise InvalidInputError(f"{where}{exc}") from exc


def inputs_workspace(session: Session, spec: RecipeSpec, plan: Plan) -> int | None:
    """The workspace holding every primary input of a plan (the oldest of several), if any."""
    primary = spec.primary_slot
    ids = {i.data_file.id for i in plan.inputs if primary is None or i.tag == primary.tag}
    if not ids:
        return None
    return session.scalars(
        select(WorkspaceData.workspace_id)
        .where(WorkspaceData.data_file_id.in_(ids))
        .group_by(WorkspaceData.workspace_id)
        .having(func.count(WorkspaceData.data_file_id) == len(ids))
        .order_by(WorkspaceData.workspace_id)
    ).first()


# -- creating --------------------------------------------------------------------------------


def open_batch(
    session: Session,
    *,
    name: str | None,
    user_id: int,
    workflow_id: int | None = None,
    workflow_preset: str | None = None,
) -> Batch:
    """A new batch for the processes of one launch."""
    batch = Batch(
        name=name,
        user_id=user_id,
        workflow_id=workflow_id,
        workflow_preset=workflow_preset,
        created_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    return batch


def create_process(
    session: Session,
    recipe: ResolvedRecipe,
    plan: Plan,
    launch: LaunchContext,
    *,
    step: str | None = None,
) -> Process:
    """Write one queued process and its inputs, answered at once from the cache if it can be.

    A plan with every input known gets a cache key; unless the launch forces a new run, the
    newest run with that key that the launcher may reuse (:mod:`permissions`) makes the new
    process done at once, with that run's outputs and label.
    """
    spec = recipe.spec
    primary = plan.primary
    key = None
    if not plan.deferred_tags:
        key = cache_key(spec, [(i.tag, i.data_file.checksum) for i in plan.inputs], recipe.params)
    now = utcnow()
    observed = provenance.process_observation([i.data_file for i in plan.inputs], primary)
    # Decided before the insert, so that the process row is written once, complete.
    cached = (
        None
        if launch.force or key is None
        else _cached(session, key, user_id=launch.user_id, workspace_id=launch.workspace_id)
    )
    estimate = None
    if cached is None:
        size = sum(i.data_file.size for i in plan.inputs)
        estimate = launch.durations(session, spec.name).estimate(size)
    process = Process(
        batch_id=launch.batch_id,
        recipe_id=recipe.recipe_id,
        recipe_preset=recipe.preset,
        user_id=launch.user_id,
        workspace_id=launch.workspace_id,
        target_id=observed.target_id,
        reference=launch.reference,
        params=dict(recipe.params),
        status=transitions.INITIAL,
        progress=0.0,
        priority=launch.priority,
        created_at=now,
        instrument=observed.instrument or spec.instrument,
        obs_night=observed.obs_night,
        obs_date=observed.obs_date,
        obs_id=observed.obs_id,
        prog_id=observed.prog_id,
        launcher_type=launch.launcher_type,
        cache_key=key,
        attempt=0,
        workflow_id=launch.workflow_id,
        workflow_step=step,
        estimated_duration_s=estimate,
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
                overridden_by=launch.user_id if item.overridden else None,
            )
        )
    if cached is not None:
        _reuse(session, process, cached, now)
    session.flush()
    return process


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


@dataclass(frozen=True)
class DurationHistory:
    """Medians of a recipe's recent runs: seconds per input byte, and seconds."""

    seconds_per_byte: float | None
    seconds: float | None

    def estimate(self, input_bytes: int) -> float | None:
        """Median rate times ``input_bytes`` (the median run without sizes)."""
        if input_bytes > 0 and self.seconds_per_byte is not None:
            return self.seconds_per_byte * input_bytes
        return self.seconds


def duration_history(session: Session, recipe_name: str) -> DurationHistory:
    """The last runs of a recipe that really ran (cache hits and failures are left out)."""
    rows = session.execute(
        select(Process.id, Process.started_at, Process.ended_at)
        .join(Recipe, Recipe.id == Process.recipe_id)
        .where(
            Recipe.name == recipe_name,
            Process.status.in_(COMPLETED_STATUSES),
            Process.cache_of_id.is_(None),
            Process.started_at.is_not(None),
            Process.ended_at.is_not(None),
        )
        .order_by(Process.id.desc())
        .limit(_HISTORY)
    ).all()
    if not rows:
        return DurationHistory(None, None)
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
    return DurationHistory(
        float(statistics.median(rates)) if rates else None, float(statistics.median(durations))
    )


def estimate_duration(session: Session, recipe_name: str, input_bytes: int) -> float | None:
    """Seconds a run of ``recipe_name`` on ``input_bytes`` should take (None: no history)."""
    return duration_history(session, recipe_name).estimate(input_bytes)


# -- helpers ---------------------------------------------------------------------------------


def _no_primary(slot: InputSlot, where: str = "") -> InvalidInputError:
    return InvalidInputError(
        f"{where}input {slot.tag}: the selection has no frame of type {'/'.join(slot.frame_types)}"
    )


def _given(session: Session, spec: RecipeSpec, inputs: Sequence[InputRef]) -> Plan:
    rows = data_files(session, [i.data_file_id for i in inputs])
    return Plan(
        tuple(
            PlannedInput(
                rows[item.data_file_id],
                item.tag or _slot_for(spec, rows[item.data_file_id]),
                reason="given by the user",
            )
            for item in inputs
        )
    )


def _slot_for(spec: RecipeSpec, row: DataFile) -> str:
    for slot in spec.inputs:
        if accepts(slot, row.frame_type):
            return slot.tag
    raise InvalidInputError(
        f"{spec.name}: input data file {row.id} ({row.frame_type}) fits no input slot "
        f"({', '.join(s.tag for s in spec.inputs) or 'none'})"
    )


def _candidates(
    session: Session, frame_types: Sequence[str], instrument: str | None, workspace_id: int | None
) -> list[Frame]:
    """Frames of ``frame_types`` a launch into ``workspace_id`` may associate (public or its)."""
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
    """The newest accepted run with ``key`` that this launch may reuse (:mod:`permissions`)."""
    runs = session.scalars(
        select(Process)
        .where(
            Process.cache_key == key,
            Process.cache_of_id.is_(None),
            transitions.accepted_sql(Process),
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


def _reuse(session: Session, process: Process, cached: Process, now: datetime) -> None:
    """Make ``process`` the answer of the earlier run ``cached``: done, its outputs and label."""
    transitions.move(process, ProcessStatus.DONE, ended_at=now)
    process.cache_of_id = cached.id
    process.validation_status = cached.validation_status
    process.started_at = now
    process.server = cached.server
    for output in session.scalars(
        select(ProcessOutput).where(ProcessOutput.process_id == cached.id)
    ):
        session.add(
            ProcessOutput(
                process_id=process.id, data_file_id=output.data_file_id, category=output.category
            )
        )
