"""Public data without a token: file downloads and previews for the VO, DOI landing pages.

Everything here is what an anonymous caller may see (the visibility rule's ``PUBLIC``): a
proprietary file or dataset answers 404, as one that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from hcdc_server.api.deps import FactoryDep
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.fields import Id
from hcdc_server.vo.datacite import landing_page, to_json, to_xml

router = APIRouter(prefix="/api/public", tags=["public"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    k: v for k, v in ERROR_RESPONSES.items() if k in (400, 404)
}
_MEDIA_TYPES = {".png": "image/png", ".ecsv": "text/plain"}
DoiSuffix = Annotated[
    str, PathParam(description="The DOI's suffix, `hcdc.<process id>`.", max_length=64)
]


@router.get(
    "/data/{data_id}/file",
    summary="Download a public data file (no token)",
    response_class=FileResponse,
    responses={**_RESPONSES, 200: {"content": {"application/fits": {}, "image/png": {}}}},
)
def public_file(data_id: Id, factory: FactoryDep) -> FileResponse:
    """The file of a public data file; HTTP ranges as `/api/data/{id}/file`."""
    found = factory.public_data().file(data_id)
    media_type = _MEDIA_TYPES.get(Path(found.filename).suffix.lower(), "application/fits")
    return FileResponse(found.path, filename=found.filename, media_type=media_type)


@router.get(
    "/data/{data_id}/preview",
    summary="PNG preview of a public data file (no token)",
    response_class=FileResponse,
    responses={
        **_RESPONSES,
        200: {"content": {"image/png": {}}},
        422: ERROR_RESPONSES[400] | {"description": "The file holds no image to preview"},
    },
)
def public_preview(data_id: Id, factory: FactoryDep) -> FileResponse:
    """The first image of the file (a cube: its median frame), percentile-scaled."""
    return FileResponse(factory.public_data().preview(data_id), media_type="image/png")


@router.get(
    "/datasets/{suffix}",
    summary="Landing page of a dataset DOI",
    response_class=HTMLResponse,
    responses=_RESPONSES,
)
def dataset_page(suffix: DoiSuffix, factory: FactoryDep) -> HTMLResponse:
    """Title, citation, products and inputs of a validated, public process."""
    return HTMLResponse(landing_page(factory.datasets().by_suffix(suffix)))


@router.get(
    "/datasets/{suffix}/datacite.json",
    summary="DataCite JSON record of a dataset",
    responses=_RESPONSES,
)
def dataset_json(suffix: DoiSuffix, factory: FactoryDep) -> JSONResponse:
    """The DataCite REST API document (what registering the DOI sends)."""
    return JSONResponse(
        to_json(factory.datasets().by_suffix(suffix)),
        media_type="application/vnd.api+json",
    )


@router.get(
    "/datasets/{suffix}/datacite.xml",
    summary="DataCite XML record of a dataset (kernel 4.5)",
    response_class=Response,
    responses={**_RESPONSES, 200: {"content": {"application/xml": {}}}},
)
def dataset_xml(suffix: DoiSuffix, factory: FactoryDep) -> Response:
    """The DataCite metadata record, valid against the kernel-4.5 schema."""
    return Response(to_xml(factory.datasets().by_suffix(suffix)), media_type="application/xml")
