"""Data file detail, FITS header, file download (HTTP ranges), upload and download scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse

from hcdc_server.api.deps import FactoryDep, HeaderCaller
from hcdc_server.api.errors import ERROR_RESPONSES
from hcdc_server.models.api import DownloadScriptRequest
from hcdc_server.models.catalog import DataDetail, DataHeader
from hcdc_server.models.fields import Id

router = APIRouter(prefix="/api", tags=["data"])


@router.get("/data/{data_id}", summary="One data file", responses=ERROR_RESPONSES)
def get_data(data_id: Id, caller: HeaderCaller, factory: FactoryDep) -> DataDetail:
    """The seed's data detail columns and every stored column of the file."""
    return factory.catalog().data(caller.viewer, data_id)


@router.post(
    "/data",
    status_code=201,
    summary="Upload a FITS file into a workspace",
    responses={
        **ERROR_RESPONSES,
        413: ERROR_RESPONSES[400]
        | {
            "description": "Larger than the upload limit, or more extensions or decompressed "
            "data than ingest accepts"
        },
        422: ERROR_RESPONSES[400] | {"description": "Not a readable FITS file"},
        409: ERROR_RESPONSES[400]
        | {
            "description": "The same content is already in the archive in a data file not "
            "visible to you (nothing of it is named)"
        },
    },
)
def upload(
    file: Annotated[UploadFile, File(description="The FITS file.")],
    workspace: Annotated[str, Form(description="Workspace (editor or owner) to share it with.")],
    caller: HeaderCaller,
    factory: FactoryDep,
) -> DataDetail:
    """A private data file shared with ``workspace``; known content is shared, not copied."""
    data_id = factory.uploads().upload(
        caller.viewer, file.file, filename=file.filename, workspace=workspace
    )
    return factory.catalog().data(caller.viewer, data_id)


@router.get(
    "/data/{data_id}/header", summary="Full FITS header of a data file", responses=ERROR_RESPONSES
)
def get_header(data_id: Id, caller: HeaderCaller, factory: FactoryDep) -> DataHeader:
    """The primary header, keyword -> value (``HIERARCH ESO X`` as ``ESO X``)."""
    return factory.catalog().header(caller.viewer, data_id)


#: Products that are not FITS: PNG previews and ECSV tables.
_MEDIA_TYPES = {".png": "image/png", ".ecsv": "text/plain"}


@router.get(
    "/data/{data_id}/file",
    summary="Download a data file",
    response_class=FileResponse,
    responses={
        **ERROR_RESPONSES,
        200: {
            "content": {"application/fits": {}, "image/png": {}, "text/plain": {}},
            "description": "The whole file (FITS; a product's PNG preview or ECSV table)",
        },
        206: {"description": "The requested byte range (`Range: bytes=a-b`)"},
        416: {"description": "Range not satisfiable"},
    },
)
def get_file(data_id: Id, caller: HeaderCaller, factory: FactoryDep) -> FileResponse:
    """The registered file; supports ``Range`` (206, ``Content-Range``; 416 when outside)."""
    found = factory.downloads().file(caller.viewer, data_id)
    media_type = _MEDIA_TYPES.get(Path(found.filename).suffix.lower(), "application/fits")
    return FileResponse(found.path, filename=found.filename, media_type=media_type)


@router.post(
    "/download_script",
    summary="A bash script downloading a selection",
    response_class=PlainTextResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {"text/x-shellscript": {}}}},
)
def download_script(
    body: DownloadScriptRequest, request: Request, caller: HeaderCaller, factory: FactoryDep
) -> PlainTextResponse:
    """curl commands for the chosen files; the token travels in a header, never in a URL."""
    downloads = factory.downloads()
    entries = downloads.selection(
        caller.viewer, data_ids=body.data_ids, browse_filters=body.browse_filters
    )
    script = downloads.script(
        entries,
        base_url=str(request.base_url),
        login=caller.viewer.login,
        token=caller.token,
        folder=body.folder,
    )
    return PlainTextResponse(
        script,
        media_type="text/x-shellscript",
        headers={"Content-Disposition": 'attachment; filename="hcdc-download.sh"'},
    )
