"""Workflows: store DAGs of recipe steps and launch them on a selection of frames."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.recipes.workflow import BUILTIN_WORKFLOWS, WorkflowError, WorkflowSpec
from hcdc_server.exceptions import ConflictError, InvalidInputError, NotFoundError
from hcdc_server.models.processes import (
    LaunchResult,
    WorkflowLaunchRequest,
    WorkflowModel,
)
from hcdc_server.schema.tables import Workflow
from hcdc_server.services import launch_planner as planner
from hcdc_server.services.dependencies import add_edges, release_children
from hcdc_server.services.processes import ProcessService, process_model
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.users import utcnow


class WorkflowService:
    """Add, list and launch workflows."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        processes: ProcessService,
        recipes: RecipeService,
    ) -> None:
        self._sessions = sessions
        self._processes = processes
        self._recipes = recipes

    def sync_builtin(self) -> None:
        """Store the built-in workflows not yet stored (`hcdc init`, `hcdc db upgrade`)."""
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
        with self._sessions() as session:
            return [
                WorkflowModel(
                    id=w.id, name=w.name, version=w.version, is_current=w.is_current, spec=w.spec
                )
                for w in session.scalars(select(Workflow).order_by(Workflow.name, Workflow.id))
            ]

    def get(self, name: str, version: str | None = None) -> tuple[int, WorkflowSpec]:
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
        recipes = [
            planner.resolve_recipe(
                self._recipes,
                step.recipe,
                params=step.params,
                preset=step.preset,
                workflow_preset=request.preset,
                where=f"step {step.name}: ",
            )
            for step in steps
        ]
        if request.preset is not None and not any(r.preset == request.preset for r in recipes):
            raise InvalidInputError(
                f"workflow {workflow.name}: no step's recipe has a preset {request.preset!r}"
            )
        with self._sessions.begin() as session:
            workspace_id = planner.workspace_id(session, request.workspace)
            selection = list(planner.data_files(session, request.selection).values())
            plans = []
            for step, recipe in zip(steps, recipes, strict=True):
                where = f"step {step.name}: "
                plan = planner.plan_step(
                    session,
                    recipe.spec,
                    selection,
                    deferred=frozenset(step.from_steps),
                    may_lack_primary=bool(step.after),
                    workspace_id=workspace_id,
                    where=where,
                )
                planner.check_plan(recipe.spec, plan, where=where)
                plans.append(plan)
            batch = planner.open_batch(
                session,
                name=request.reference or f"workflow {workflow.name}",
                user_id=user_id,
                workflow_id=workflow_id,
                workflow_preset=request.preset,
            )
            launch = planner.LaunchContext(
                batch_id=batch.id,
                user_id=user_id,
                workspace_id=workspace_id,
                launcher_type="workflow",
                reference=request.reference,
                force=request.force,
                workflow_id=workflow_id,
            )
            created: dict[str, int] = {}
            processes = []
            for step, recipe, plan in zip(steps, recipes, plans, strict=True):
                process = planner.create_process(session, recipe, plan, launch, step=step.name)
                created[step.name] = process.id
                edges: dict[int, list[str]] = {}
                for parent in step.parents:
                    edges.setdefault(created[parent], [])
                for tag, parent in step.from_steps.items():
                    edges[created[parent]].append(tag)
                add_edges(session, process.id, edges.items())
                processes.append(process)
            session.flush()
            # A step answered from the processing cache feeds its children at once.
            for process in processes:
                release_children(session, process)
            self._processes.check_quotas(session, user_id=user_id, priority=0)
            return LaunchResult(
                batch_id=batch.id, processes=[process_model(session, p) for p in processes]
            )
