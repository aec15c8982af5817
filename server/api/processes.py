"""Process detail: the seed's Info panel as JSON."""

from __future__ import annotations

from fastapi import APIRouter

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.catalog import ProcessDetail
from hcdc_server.models.fields import Id

router = APIRouter(prefix="/api", tags=["processes"])


@router.get("/processes/{process_id}", summary="One process", responses=ERROR_RESPONSES)
def get_process(process_id: Id, caller: HeaderCaller, factory: FactoryDep) -> ProcessDetail:
    """Status, validation, times, observation, recipe, user, and the inputs and outputs."""
    return factory.catalog().process(caller.viewer, process_id)
