"""The seed's browse API: process_list and data_list, with URL or header authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from hcdc_server.api.deps import FactoryDep, HeaderCaller, PathCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.api import BrowseRequest, BrowseResponse

router = APIRouter(prefix="/api", tags=["browse"])

BrowseBody = Annotated[
    BrowseRequest | None,
    Body(
        openapi_examples={
            "page": {"summary": "First page", "value": {"limit": 10, "sort": "id DESC"}},
            "night": {
                "summary": "A workspace's nights, counted",
                "value": {
                    "browse_filters": {
                        "WORKSPACE": "demo",
                        "OBS_NIGHT_DATE": {"min": "2020-03-01", "max": "2020-03-31"},
                    },
                    "count": True,
                },
            },
            "group": {
                "summary": "Processes per recipe",
                "value": {"group": "recipe_name", "extract": "count()", "limit": -1},
            },
        }
    ),
]
_PROCESS_DOC = "Browse processes (the seed's process_list): filters, switches and settings."
_DATA_DOC = "Browse data files (the seed's data_list): filters and settings."


@router.post("/process_list", summary="Browse processes", responses=ERROR_RESPONSES)
def process_list(
    caller: HeaderCaller, factory: FactoryDep, body: BrowseBody = None
) -> BrowseResponse:
    """Browse processes (the seed's process_list): filters, switches and settings."""
    return factory.browse().browse(caller.viewer, "process", body or BrowseRequest())


@router.post(
    "/process_list/{login}/{token}",
    summary="Browse processes (credentials in the URL)",
    responses=ERROR_RESPONSES,
)
def process_list_url(
    caller: PathCaller, factory: FactoryDep, body: BrowseBody = None
) -> BrowseResponse:
    """As ``POST /api/process_list``, authenticated by ``/<login>/<token>`` (the seed's form)."""
    return factory.browse().browse(caller.viewer, "process", body or BrowseRequest())


@router.post("/data_list", summary="Browse data files", responses=ERROR_RESPONSES)
def data_list(caller: HeaderCaller, factory: FactoryDep, body: BrowseBody = None) -> BrowseResponse:
    """Browse data files (the seed's data_list): filters and settings."""
    return factory.browse().browse(caller.viewer, "data", body or BrowseRequest())


@router.post(
    "/data_list/{login}/{token}",
    summary="Browse data files (credentials in the URL)",
    responses=ERROR_RESPONSES,
)
def data_list_url(
    caller: PathCaller, factory: FactoryDep, body: BrowseBody = None
) -> BrowseResponse:
    """As ``POST /api/data_list``, authenticated by ``/<login>/<token>``."""
    return factory.browse().browse(caller.viewer, "data", body or BrowseRequest())
