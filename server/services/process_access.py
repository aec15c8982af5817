"""Launches and process actions on behalf of an API caller, checked by :mod:`permissions`.

:class:`ProcessService` and :class:`WorkflowService` trust their callers (the CLI, the worker,
automatic calibration); this service is what the API calls: it applies the rules, then
delegates. A process's launcher and workspace never change, so checking before acting is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.jobs.spec import LOG_FILE
from hcdc_server.exceptions import NotFoundError
from hcdc_server.models.catalog import ProcessAttributes
from hcdc_server.models.processes import (
    AssociationPreview,
    LaunchRequest,
    LaunchResult,
    ProcessModel,
    RecipeModel,
    ValidationEventModel,
    ValidationVerdict,
    WorkflowLaunchRequest,
)
from hcdc_server.schema.tables import Process, ProcessAttribute
from hcdc_server.services import permissions
from hcdc_server.services.processes import ProcessService
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.visibility import Viewer
from hcdc_server.services.workflows import WorkflowService


class ProcessAccessService:
    """The process routes' operations for one caller."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        processes: ProcessService,
        workflows: WorkflowService,
        recipes: RecipeService,
    ) -> None:
        self._sessions = sessions
        self._processes = processes
        self._workflows = workflows
        self._recipes = recipes

    # -- recipes ---------------------------------------------------------------------------

    def recipes(self, viewer: Viewer, *, include_hidden: bool = False) -> list[RecipeModel]:
        """The recipes the caller may run (hidden ones only for administrators)."""
        shown = include_hidden and permissions.may_see_hidden_recipes(viewer)
        return self._recipes.list_recipes(include_hidden=shown)

    def recipe(self, viewer: Viewer, name: str, version: str | None = None) -> RecipeModel:
        """One recipe version; 404 when unknown or hidden from the caller."""
        model = self._recipes.model(name, version)
        if model.is_hidden and not permissions.may_see_hidden_recipes(viewer):
            raise NotFoundError(f"no recipe {name}")
        return model

    def _check_recipe(self, viewer: Viewer, name: str, version: str | None = None) -> None:
        model = self._recipes.model(name, version)
        permissions.check_recipe_launch(viewer, model.name, hidden=model.is_hidden)

    # -- launching -------------------------------------------------------------------------

    def preview(self, viewer: Viewer, request: LaunchRequest) -> list[AssociationPreview]:
        self._check_recipe(viewer, request.recipe, request.version)
        self._check_launch(viewer, request.workspace, _data_ids(request))
        return self._processes.preview(request)

    def launch(self, viewer: Viewer, request: LaunchRequest) -> LaunchResult:
        self._check_recipe(viewer, request.recipe, request.version)
        self._check_launch(viewer, request.workspace, _data_ids(request))
        return self._processes.launch(request, user_id=viewer.user_id)

    def launch_workflow(
        self, viewer: Viewer, name: str, request: WorkflowLaunchRequest
    ) -> LaunchResult:
        _, workflow = self._workflows.get(name, request.version)
        for step in workflow.steps:
            self._check_recipe(viewer, step.recipe)
        self._check_launch(viewer, request.workspace, request.selection)
        return self._workflows.launch(name, request, user_id=viewer.user_id)

    def _check_launch(self, viewer: Viewer, workspace: str | None, ids: list[int]) -> None:
        permissions.check_launch_scope(viewer, workspace)
        with self._sessions() as session:
            if workspace is not None:
                found = permissions.workspace_id(session, workspace)
                permissions.check_workspace_write(viewer, found, workspace, "launching into")
            permissions.check_data_visible(session, viewer, ids)

    # -- reading ---------------------------------------------------------------------------

    def sof(self, viewer: Viewer, process_id: int) -> str:
        self._check_read(viewer, process_id)
        return self._processes.sof(process_id, viewer=viewer)

    def validation_events(self, viewer: Viewer, process_id: int) -> list[ValidationEventModel]:
        self._check_read(viewer, process_id)
        return self._processes.validation_events(process_id)

    def log(self, viewer: Viewer, process_id: int) -> str:
        """The job log of a process (of the run it reused, for a cached result)."""
        with self._sessions() as session:
            permissions.check_read_process(viewer, permissions.process_ref(session, process_id))
            row = session.execute(
                select(Process.job_dir, Process.cache_of_id).where(Process.id == process_id)
            ).one()
            job_dir = row.job_dir
            if job_dir is None and row.cache_of_id is not None:
                job_dir = session.scalar(
                    select(Process.job_dir).where(Process.id == row.cache_of_id)
                )
        # job_dir is written by the worker, never by a client: no path from the request here.
        path = Path(job_dir) / LOG_FILE if job_dir else None
        try:
            if path is None:
                raise FileNotFoundError
            return path.read_text(errors="replace")
        except FileNotFoundError as exc:
            raise NotFoundError(f"process {process_id} has no log yet") from exc

    def _check_read(self, viewer: Viewer, process_id: int) -> None:
        with self._sessions() as session:
            permissions.check_read_process(viewer, permissions.process_ref(session, process_id))

    # -- acting ----------------------------------------------------------------------------

    def set_validation(
        self,
        viewer: Viewer,
        process_id: int,
        verdict: ValidationVerdict,
        *,
        comment: str | None = None,
    ) -> ProcessModel:
        self._check_act(viewer, process_id, "validating")
        return self._processes.set_validation(
            process_id, verdict, user_id=viewer.user_id, comment=comment
        )

    def reprocess(
        self,
        viewer: Viewer,
        process_id: int,
        *,
        params: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> ProcessModel:
        self._check_act(viewer, process_id, "reprocessing")
        self._check_recipe(viewer, self._processes.get(process_id).recipe_name, version)
        return self._processes.reprocess(
            process_id, user_id=viewer.user_id, params=params, version=version
        )

    def cancel(self, viewer: Viewer, process_id: int) -> ProcessModel:
        self._check_act(viewer, process_id, "cancelling")
        return self._processes.cancel(process_id, user_id=viewer.user_id)

    # -- extended attributes ---------------------------------------------------------------

    def set_attribute(
        self, viewer: Viewer, process_id: int, key: str, value: str | None
    ) -> ProcessAttributes:
        """Set (add or replace) the extended attribute ``key`` of a process."""
        self._check_act(viewer, process_id, "setting attributes of")
        try:
            return self._set_attribute(process_id, key, value)
        except IntegrityError:
            # Another request added the same key meanwhile: now it is there, replace it.
            return self._set_attribute(process_id, key, value)

    def _set_attribute(self, process_id: int, key: str, value: str | None) -> ProcessAttributes:
        with self._sessions.begin() as session:
            row = session.get(ProcessAttribute, (process_id, key))
            if row is None:
                session.add(ProcessAttribute(process_id=process_id, key=key, value=value))
            else:
                row.value = value
            session.flush()
            return _attributes(session, process_id)

    def delete_attribute(self, viewer: Viewer, process_id: int, key: str) -> None:
        """Remove the extended attribute ``key`` of a process; 404 when it has none."""
        self._check_act(viewer, process_id, "removing attributes of")
        with self._sessions.begin() as session:
            removed = session.scalars(
                delete(ProcessAttribute)
                .where(ProcessAttribute.process_id == process_id, ProcessAttribute.key == key)
                .returning(ProcessAttribute.key)
            ).all()
            if not removed:
                raise NotFoundError(f"process {process_id} has no attribute {key!r}")

    def _check_act(self, viewer: Viewer, process_id: int, action: str) -> None:
        with self._sessions() as session:
            ref = permissions.process_ref(session, process_id)
        permissions.check_act_on_process(viewer, ref, action)


def _attributes(session: Session, process_id: int) -> ProcessAttributes:
    rows = session.execute(
        select(ProcessAttribute.key, ProcessAttribute.value)
        .where(ProcessAttribute.process_id == process_id)
        .order_by(ProcessAttribute.key)
    )
    return ProcessAttributes(process_id=process_id, attributes={str(k): v for k, v in rows})


def _data_ids(request: LaunchRequest) -> list[int]:
    """Every data file id a launch request names."""
    ids = list(request.selection or [])
    ids += [i.data_file_id for i in request.inputs or []]
    for chosen in request.overrides.values():
        ids += chosen
    return ids
