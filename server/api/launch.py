"""Launch and process-action routes: associate, launch, SOF, log, validation, reprocess, cancel.

Who may do what is :mod:`hcdc_server.services.permissions`'s; handlers only pass the caller.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.fields import Id
from hcdc_server.models.processes import (
    AssociationPreview,
    LaunchRequest,
    LaunchResult,
    ProcessModel,
    ReprocessRequest,
    ValidationEventModel,
    ValidationRequest,
    WorkflowLaunchRequest,
)

router = APIRouter(prefix="/api", tags=["processes"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"description": "The process is not in a state that allows this action"},
    429: {"description": "A per-user quota (processes queued) would be exceeded"},
}


@router.post("/associate", summary="Preview the inputs of a launch", responses=_ERRORS)
def associate(
    body: LaunchRequest, factory: FactoryDep, caller: HeaderCaller
) -> list[AssociationPreview]:
    """Group the selection into runs and associate calibrations (level and reason per slot)."""
    return factory.process_access().preview(caller.viewer, body)


@router.post(
    "/processes", status_code=201, summary="Launch a recipe (queued processes)", responses=_ERRORS
)
def launch(body: LaunchRequest, factory: FactoryDep, caller: HeaderCaller) -> LaunchResult:
    """One batch of queued processes; cached results are reused unless ``force``."""
    return factory.process_access().launch(caller.viewer, body)


@router.get(
    "/processes/{process_id}/sof",
    summary="The set-of-frames file of a process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **_ERRORS},
)
def get_sof(process_id: Id, factory: FactoryDep, caller: HeaderCaller) -> Response:
    """``<absolute path> <TAG>`` per input, as esorex reads it."""
    return Response(
        factory.process_access().sof(caller.viewer, process_id), media_type="text/plain"
    )


@router.get(
    "/processes/{process_id}/log",
    summary="The log of a process",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **_ERRORS},
)
def get_log(process_id: Id, factory: FactoryDep, caller: HeaderCaller) -> PlainTextResponse:
    """Everything its job printed; 404 until the job has started."""
    return PlainTextResponse(factory.process_access().log(caller.viewer, process_id))


@router.post("/processes/{process_id}/validation", summary="Validate a process", responses=_ERRORS)
def validate(
    process_id: Id, body: ValidationRequest, factory: FactoryDep, caller: HeaderCaller
) -> ProcessModel:
    """Set valid / rejected / to_reprocess with a comment (recorded as an event)."""
    return factory.process_access().set_validation(
        caller.viewer, process_id, body.status, comment=body.comment
    )


@router.get("/processes/{process_id}/validation", summary="Validation history", responses=_ERRORS)
def validation_events(
    process_id: Id, factory: FactoryDep, caller: HeaderCaller
) -> list[ValidationEventModel]:
    return factory.process_access().validation_events(caller.viewer, process_id)


@router.post(
    "/processes/{process_id}/reprocess",
    status_code=201,
    summary="Run a process again",
    responses=_ERRORS,
)
def reprocess(
    process_id: Id,
    factory: FactoryDep,
    caller: HeaderCaller,
    body: ReprocessRequest | None = None,
) -> ProcessModel:
    """A new process on the same inputs, linked to (and superseding) the old one."""
    body = body or ReprocessRequest()
    return factory.process_access().reprocess(
        caller.viewer, process_id, params=body.params, version=body.version
    )


@router.post("/processes/{process_id}/cancel", summary="Cancel a process", responses=_ERRORS)
def cancel(process_id: Id, factory: FactoryDep, caller: HeaderCaller) -> ProcessModel:
    return factory.process_access().cancel(caller.viewer, process_id)


@router.post(
    "/workflows/{name}/launch",
    status_code=201,
    summary="Launch a workflow on a selection",
    responses=_ERRORS,
)
def launch_workflow(
    name: str,
    body: WorkflowLaunchRequest,
    factory: FactoryDep,
    caller: HeaderCaller,
) -> LaunchResult:
    """One queued process per step; steps wait for their parents."""
    return factory.process_access().launch_workflow(caller.viewer, name, body)


__all__ = ["router"]
