"""The hcdc web application: the JSON API (OpenAPI at ``/docs``) served by uvicorn."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from hcdc_server.api import browse, data, launch, processes, recipes, workspaces
from hcdc_server.api.docs import install_docs
from hcdc_server.api.errors import install_error_handlers
from hcdc_server.api.hub import install_hub
from hcdc_server.api.limits import (
    MAX_BODY_BYTES,
    UPLOAD_OVERHEAD_BYTES,
    BodyLimitMiddleware,
    JsonBodyMiddleware,
)
from hcdc_server.factory import Factory
from hcdc_server.logconfig import server_log_config

DESCRIPTION = """\
The High Contrast Data Center's JSON API.

Authenticate with the headers `X-Auth-Ident` (login) and `X-Auth-Token` (from
`hcdc token create`), with `Authorization: Bearer <token>`, or, on the seed's browse routes,
in the URL (`/api/process_list/<login>/<token>`). Errors are `{"error": code, "message": ...}`.
"""


def create_app(factory: Factory, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The application over ``factory``'s database and settings."""
    app = FastAPI(
        title="hcdc",
        version="0.1.0",
        description=DESCRIPTION,
        strict_content_type=False,
        docs_url=None,
        redoc_url=None,
    )
    app.state.factory = factory
    install_error_handlers(app)
    for module in (browse, processes, data, workspaces, recipes, launch):
        app.include_router(module.router)
    install_docs(app)
    install_hub(app, factory)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_size=max_body_bytes,
        max_upload_size=factory.settings.max_upload_bytes + UPLOAD_OVERHEAD_BYTES,
    )
    return app


def run_server(
    factory: Factory, *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info"
) -> None:
    """Serve the API with uvicorn until interrupted; tokens never reach the logs."""
    uvicorn.run(
        create_app(factory),
        host=host,
        port=port,
        log_level=log_level,
        log_config=server_log_config(log_level),
    )
