"""The hcdc web application: the JSON API (OpenAPI at ``/docs``) served by uvicorn."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import uvicorn
from fastapi import FastAPI

from hcdc_server.api import browse, data, launch, processes, public, recipes, workspaces
from hcdc_server.api.docs import install_docs
from hcdc_server.api.errors import install_error_handlers
from hcdc_server.api.hub import install_hub
from hcdc_server.api.limits import (
    MAX_BODY_BYTES,
    UPLOAD_OVERHEAD_BYTES,
    BodyLimitMiddleware,
    JsonBodyMiddleware,
)
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.logconfig import server_log_config

#: Most API worker processes ``api_workers = 0`` (one per core) starts.
MAX_AUTO_WORKERS = 8
#: Set by ``hcdc serve`` for its worker processes: the supervisor they must not outlive.
_SUPERVISOR_ENV = "HCDC_API_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1
#: Seconds a worker may take to answer the supervisor's health check, start-up included
#: (imports alone take several seconds on a busy machine; uvicorn's 5 s restarts it forever).
_HEALTHCHECK_S = 30
_log = logging.getLogger(__name__)

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
        lifespan=_lifespan,
    )
    app.state.factory = factory
    install_error_handlers(app)
    for module in (browse, processes, data, workspaces, recipes, launch, public):
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


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    factory: Factory = app.state.factory
    # Handlers are synchronous: each holds a thread and a database connection while it runs.
    # Bounding the threads below the pool makes extra requests queue here, not in the pool.
    limiter = anyio.to_thread.current_default_thread_limiter()
    limiter.total_tokens = factory.settings.api_threads
    _log.debug(
        "API worker %d: %d request threads, %d+%d database connections, cache %g s",
        os.getpid(),
        factory.settings.api_threads,
        factory.settings.db_pool_size,
        factory.settings.db_max_overflow,
        factory.settings.cache_s,
    )
    yield


def worker_count(setting: int) -> int:
    """API worker processes for the ``api_workers`` setting (0: one per core, capped)."""
    if setting > 0:
        return setting
    return max(1, min(MAX_AUTO_WORKERS, len(os.sched_getaffinity(0))))


def worker_app() -> FastAPI:
    """The application of one worker process of ``hcdc serve --workers N``.

    Its settings come from the environment, which ``run_server`` completed for it.
    """
    _die_with_supervisor()
    return create_app(Factory(Settings()))


def _die_with_supervisor() -> None:
    """End this worker when the supervising ``hcdc serve`` ends, even by kill -9 (Linux).

    Otherwise orphans would keep the port and answer requests after the server was stopped.
    """
    supervisor = os.environ.get(_SUPERVISOR_ENV)
    if supervisor is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(supervisor):
        os._exit(1)  # the supervisor died before the signal was armed


def run_server(
    factory: Factory,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_level: str = "info",
    workers: int | None = None,
) -> None:
    """Serve the API with uvicorn until interrupted; tokens never reach the logs.

    With several ``workers`` (default: the ``api_workers`` setting), uvicorn runs that many
    processes on one socket and replaces any that dies; each builds its own factory from the
    environment, which gets this process's data directory and database URL.
    """
    count = worker_count(factory.settings.api_workers if workers is None else workers)
    options = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": server_log_config(log_level),
    }
    if count == 1:
        uvicorn.run(create_app(factory), **options)
        return
    os.environ.update(
        {
            "HCDC_DATA_DIR": str(factory.settings.data_dir.resolve()),
            "HCDC_DATABASE_URL": factory.settings.resolved_database_url,
            _SUPERVISOR_ENV: str(os.getpid()),
        }
    )
    uvicorn.run(
        "hcdc_server.app:worker_app",
        factory=True,
        workers=count,
        timeout_worker_healthcheck=_HEALTHCHECK_S,
        **options,
    )
