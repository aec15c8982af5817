"""Recipe routes: the registry with JSON Schema of each recipe's parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.processes import RecipeModel, WorkflowModel

router = APIRouter(prefix="/api", tags=["recipes"])


@router.get(
    "/recipes",
    summary="List recipes with the JSON Schema of their parameters",
    responses=ERROR_RESPONSES,
)
def list_recipes(
    factory: FactoryDep,
    caller: HeaderCaller,
    include_hidden: Annotated[
        bool, Query(description="Include hidden recipes (administrators only).")
    ] = False,
) -> list[RecipeModel]:
    """Every recipe version; ``available`` is false (with the reason) where it cannot run here."""
    return factory.process_access().recipes(caller.viewer, include_hidden=include_hidden)


@router.get(
    "/recipes/{name}",
    summary="One recipe (current version unless given)",
    responses=ERROR_RESPONSES,
)
def get_recipe(
    name: str, factory: FactoryDep, caller: HeaderCaller, version: str | None = None
) -> RecipeModel:
    """A recipe version; 404 when unknown (or hidden, for all but administrators)."""
    return factory.process_access().recipe(caller.viewer, name, version)


@router.get("/workflows", summary="List workflows (DAGs of recipe steps)")
def list_workflows(factory: FactoryDep, _caller: HeaderCaller) -> list[WorkflowModel]:
    return factory.workflows().list_workflows()
