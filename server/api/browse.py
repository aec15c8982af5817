"""The seed's browse API: process_list and data_list, with URL or header authentication, and
their streamed exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import StreamingResponse

from hcdc_server.api.deps import FactoryDep, HeaderCaller, PathCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.api import BrowseRequest, BrowseResponse, ExportRequest
from hcdc_server.services.browse import Export

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


ExportBody = Annotated[ExportRequest | None, Body()]
_EXPORT_RESPONSES = {
    **ERROR_RESPONSES,
    200: {
        "content": {"application/x-ndjson": {}, "text/csv": {}},
        "description": "Every matching item, streamed (NDJSON or CSV)",
    },
}


def _streamed(export: Export) -> StreamingResponse:
    return StreamingResponse(
        export.lines,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.post(
    "/process_list/export",
    summary="Export processes (every match, streamed)",
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSES,
)
def process_list_export(
    caller: HeaderCaller, factory: FactoryDep, body: ExportBody = None
) -> StreamingResponse:
    """Every process matching ``browse_filters`` (as ``process_list`` sees them), in id order."""
    return _streamed(factory.browse().export(caller.viewer, "process", body or ExportRequest()))


@router.post(
    "/data_list/export",
    summary="Export data files (every match, streamed)",
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSES,
)
def data_list_export(
    caller: HeaderCaller, factory: FactoryDep, body: ExportBody = None
) -> StreamingResponse:
    """Every data file matching ``browse_filters`` (as ``data_list`` sees them), in id order."""
    return _streamed(factory.browse().export(caller.viewer, "data", body or ExportRequest()))
