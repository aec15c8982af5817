"""Process detail: the seed's Info panel as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.catalog import (
    AttributeKey,
    AttributeValue,
    ProcessAttributes,
    ProcessDetail,
)
from hcdc_server.models.conditions import ProcessConditions
from hcdc_server.models.fields import Id

router = APIRouter(prefix="/api", tags=["processes"])


@router.get("/processes/{process_id}", summary="One process", responses=ERROR_RESPONSES)
def get_process(process_id: Id, caller: HeaderCaller, factory: FactoryDep) -> ProcessDetail:
    """Status, validation, times, observation, recipe, user, and the inputs and outputs."""
    return factory.catalog().process(caller.viewer, process_id)


@router.get(
    "/processes/{process_id}/conditions",
    summary="Observing conditions of a process",
    responses=ERROR_RESPONSES,
)
def get_conditions(process_id: Id, caller: HeaderCaller, factory: FactoryDep) -> ProcessConditions:
    """The AO telemetry and site-monitor conditions of the process's inputs: their aggregate,
    each science exposure it comes from, and the seeing, tau0 and Strehl series over them."""
    return factory.conditions().process_panel(caller.viewer, process_id)


@router.put(
    "/processes/{process_id}/attributes/{key}",
    summary="Set an extended attribute of a process",
    responses=ERROR_RESPONSES,
)
def set_attribute(
    process_id: Id,
    key: AttributeKey,
    body: AttributeValue,
    caller: HeaderCaller,
    factory: FactoryDep,
) -> ProcessAttributes:
    """Add or replace the free attribute ``key`` (what the EXTENDED_ATTRIBUTE filter matches);
    for those who may act on the process (its launcher, editors and owners of its workspace)."""
    return factory.process_access().set_attribute(caller.viewer, process_id, key, body.value)


@router.delete(
    "/processes/{process_id}/attributes/{key}",
    status_code=204,
    summary="Remove an extended attribute of a process",
    responses=ERROR_RESPONSES,
)
def delete_attribute(
    process_id: Id, key: AttributeKey, caller: HeaderCaller, factory: FactoryDep
) -> Response:
    """Remove the attribute ``key``; 404 when the process has none of that name."""
    factory.process_access().delete_attribute(caller.viewer, process_id, key)
    return Response(status_code=204)
