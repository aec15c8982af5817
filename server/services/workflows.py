"""Workflows: store DAGs of recipe steps and launch them on a selection of frames."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.association import associate, association_for
from hcdc_kernel.recipes.registry import accepts
from hcdc_kernel.recipes.spec import RecipeValidationError
from hcdc_kernel.recipes.workflow import BUILTIN_WORKFLOWS, WorkflowError, WorkflowSpec
from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.processes import (
    LaunchRequest,
    LaunchResult,
    WorkflowLaunchRequest,
    WorkflowModel,
)
from hcdc_server.schema.tables import Batch, Workflow
from hcdc_server.services.dependencies import add_edges
from hcdc_server.services.processes import (
    Plan,
    PlannedInput,
    ProcessService,
    _candidates,
    _check_plan,
    _data_files,
    _model,
    _workspace_id,
    frame_of,
)
from hcdc_server.services.users import utcnow


class WorkflowService:
    """Add, list and launch workflows."""

    def __init__(self, sessions: sessionmaker[Session], *, processes: ProcessService) -> None:
        self._sessions = sessions
        self._processes = processes
        self._recipes = processes._recipes

    def sync_builtin(self) -> None:
        with self._sessions.begin() as session:
            known = {
                (w.name, w.version)
                for w in session.execute(select(Workflow.name, Workflow.version))
            }
            for spec in BUILTIN_WORKFLOWS:
                if (spec.name, spec.version) not in known:
                    session.add(
                        Workflow(
                            name=spec.name,
                            version=spec.version,
                            is_current=True,
                            spec=spec.to_dict(),
                            created_at=utcnow(),
                        )
                    )

    def add(self, spec: WorkflowSpec, *, make_current: bool = True) -> WorkflowModel:
        """Store a workflow version (checked: a DAG of known recipes)."""
        try:
            steps = spec.ordered()
        except WorkflowError as exc:
            raise InvalidInputError(str(exc)) from exc
        for step in steps:
            self._recipes.get(step.recipe)
        with self._sessions.begin() as session:
            if session.scalar(
                select(Workflow.id).where(
                    Workflow.name == spec.name, Workflow.version == spec.version
                )
            ):
                raise ConflictError(f"workflow {spec.name} version {spec.version} already exists")
            if make_current:
                session.execute(
                    update(Workflow).where(Workflow.name == spec.name).values(is_current=False)
                )
            row = Workflow(
                name=spec.name,
                version=spec.version,
                is_current=make_current,
                spec=spec.to_dict(),
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return WorkflowModel(
                id=row.id,
                name=row.name,
                version=row.version,
                is_current=row.is_current,
                spec=row.spec,
            )

    def list_workflows(self) -> list[WorkflowModel]:
        self.sync_builtin()
        with self._sessions() as session:
            return [
                WorkflowModel(
                    id=w.id, name=w.name, version=w.version, is_current=w.is_current, spec=w.spec
                )
                for w in session.scalars(select(Workflow).order_by(Workflow.name, Workflow.id))
            ]

    def get(self, name: str, version: str | None = None) -> tuple[int, WorkflowSpec]:
        self.sync_builtin()
        with self._sessions() as session:
            query = select(Workflow).where(Workflow.name == name)
            if version:
                query = query.where(Workflow.version == version)
            else:
                query = query.order_by(Workflow.is_current.desc(), Workflow.id.desc())
            row = session.scalars(query.limit(1)).first()
            if row is None:
                raise NotFoundError(
                    f"no workflow {name}" + (f" version {version}" if version else "")
                )
            return row.id, WorkflowSpec.from_dict(row.spec)

    def launch(self, name: str, request: WorkflowLaunchRequest, *, user_id: int) -> LaunchResult:
        """Create one queued process per step, linked by the DAG's edges, in one batch.

        Raises
        ------
        InvalidInputError
            Naming the step and the parameter or input slot that is wrong.
        """
        workflow_id, workflow = self.get(name, request.version)
        try:
            steps = workflow.ordered()
        except WorkflowError as exc:
            raise InvalidInputError(str(exc)) from exc
        resolved = []
        for step in steps:
            recipe_id, spec = self._recipes.get(step.recipe)
            if not spec.available:
                raise InvalidInputError(
                    f"step {step.name}: recipe {spec.name} is unavailable here: {spec.unavailable}"
                )
            try:
                params = spec.resolve_params(step.params, preset=step.preset)
            except RecipeValidationError as exc:
                raise InvalidInputError(f"step {step.name}: {exc}") from exc
            resolved.append((step, recipe_id, spec, params))
        with self._sessions.begin() as session:
            workspace_id = _workspace_id(session, request.workspace)
            rows = _data_files(session, request.selection)
            plans = []
            for step, _, spec, _ in resolved:
                deferred = frozenset(step.from_steps)
                primary_slot = spec.primary_slot
                planned: list[PlannedInput] = []
                primary_rows = []
                if primary_slot is not None and primary_slot.tag not in deferred:
                    primary_rows = [r for r in rows.values() if accepts(primary_slot, r.frame_type)]
                    if not primary_rows and primary_slot.min_count > 0 and not step.after:
                        raise InvalidInputError(
                            f"step {step.name}: input {primary_slot.tag}: the selection has no "
                            f"frame of type {'/'.join(primary_slot.frame_types)}"
                        )
                    planned += [
                        PlannedInput(r, primary_slot.tag, reason="selected") for r in primary_rows
                    ]
                rules = {r.tag: r for r in association_for(spec.name).calibrations}
                instrument = primary_rows[0].instrument if primary_rows else None
                for slot in spec.inputs:
                    if slot.primary or slot.tag in deferred:
                        continue
                    rule = rules.get(slot.tag)
                    if rule is None:
                        planned += [
                            PlannedInput(r, slot.tag, reason="from the selection")
                            for r in rows.values()
                            if accepts(slot, r.frame_type) and r not in primary_rows
                        ]
                        continue
                    match = associate(
                        spec.name,
                        [frame_of(r) for r in primary_rows],
                        _candidates(session, rule.frame_types, instrument, workspace_id),
                        [rule],
                    ).slots[0]
                    if not match.found and match.required:
                        raise InvalidInputError(
                            f"step {step.name}: input {slot.tag}: {match.reason}"
                        )
                    found = _data_files(session, [f.id for f in match.frames])
                    planned += [
                        PlannedInput(found[f.id], slot.tag, match.level, match.reason)
                        for f in match.frames
                    ]
                plan = Plan(tuple(planned), deferred_tags=deferred)
                try:
                    _check_plan(spec, plan)
                except InvalidInputError as exc:
                    raise InvalidInputError(f"step {step.name}: {exc.message}") from exc
                plans.append(plan)
            batch = Batch(
                name=request.reference or f"workflow {workflow.name}",
                user_id=user_id,
                workflow_id=workflow_id,
                created_at=utcnow(),
            )
            session.add(batch)
            session.flush()
            created = {}
            processes = []
            for (step, recipe_id, spec, params), plan in zip(resolved, plans, strict=True):
                process = self._processes._create(
                    session,
                    spec,
                    recipe_id,
                    plan,
                    params=params,
                    batch_id=batch.id,
                    user_id=user_id,
                    workspace_id=workspace_id,
                    request=LaunchRequest(
                        recipe=spec.name,
                        preset=step.preset,
                        reference=request.reference,
                        force=request.force,
                    ),
                    launcher_type="workflow",
                    workflow=(workflow_id, step.name),
                )
                created[step.name] = process.id
                edges: dict[int, list[str]] = {}
                for parent in step.parents:
                    edges.setdefault(created[parent], [])
                for tag, parent in step.from_steps.items():
                    edges[created[parent]].append(tag)
                add_edges(session, process.id, edges.items())
                processes.append(process)
            session.flush()
            self._processes.check_quotas(session, user_id=user_id, priority=0)
            return LaunchResult(
                batch_id=batch.id, processes=[_model(session, p) for p in processes]
            )
