"""One rendering of every error: ``{"error": code, "message": text}`` with its HTTP status.

The seed's contract answers a malformed request with 400 (not FastAPI's 422) naming the part
at fault; a database that cannot be reached (or stays locked) answers 503 with Retry-After, a
statement stopped by the statement timeout 503 saying so; unexpected failures are logged and
answered with a bare 500, never a traceback. SQL statements stay out of error-level logs.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hcdc_server.exceptions import HcdcError, QueryTimeoutError
from hcdc_server.models.api import ErrorResponse
from hcdc_server.storage.database import (
    STATEMENT_ERRORS,
    UNAVAILABLE_ERRORS,
    describe_unavailable,
    is_statement_error,
    is_statement_timeout,
    is_unavailable,
)

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    416: "range_not_satisfiable",
}

#: Documented on every route that can fail this way.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request; the message names the part"},
    401: {"model": ErrorResponse, "description": "Missing or invalid login or token"},
    403: {"model": ErrorResponse, "description": "Not allowed for this user"},
    404: {"model": ErrorResponse, "description": "Not found, or not visible to this user"},
}


def error_body(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def describe_validation_error(exc: RequestValidationError) -> str:
    """The first few validation errors as ``field: problem``."""
    parts = []
    for error in exc.errors()[:3]:
        location = [str(p) for p in error.get("loc", ()) if p != "body"]
        if error.get("type") == "json_invalid":
            parts.append(f"malformed JSON body ({error.get('ctx', {}).get('error', 'invalid')})")
            continue
        field = ".".join(location) or "body"
        parts.append(f"{field}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _hcdc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HcdcError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        error_body("invalid_input", describe_validation_error(exc)), status_code=400
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_statement_timeout(exc):
        return await _statement_timeout(request, exc)
    if not is_unavailable(exc):
        return await _unexpected(request, exc)
    # The client can retry; the driver's text (host, port) stays in the server log.
    logger.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        describe_unavailable(exc),
    )
    return JSONResponse(
        error_body(
            "database_unavailable",
            "the database is unavailable at the moment; try again in a few seconds",
        ),
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _statement_timeout(request: Request, exc: Exception) -> JSONResponse:
    seconds = request.app.state.factory.settings.statement_timeout_s
    logger.warning("statement timeout (%g s) on %s %s", seconds, request.method, request.url.path)
    error = QueryTimeoutError(
        f"the database stopped this request after {seconds:g} s (the statement timeout); "
        "narrow its filters, or page or export the rows"
    )
    return await _hcdc_error(request, error)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_statement_error(exc):
        # The statement (user input, possibly huge) only at debug level; the cause at error.
        logger.error(
            "unexpected database error on %s %s: %s",
            request.method,
            request.url.path,
            describe_unavailable(exc),
        )
        logger.debug("the failed statement", exc_info=exc)
    else:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


def _errors_as_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Document every 4xx body as JSON, also on routes whose success is a file or text.

    FastAPI files an error model under the route's media type (``text/plain`` on a script
    download), but the error handlers above always answer ``application/json``.
    """
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            content = response.get("content", {})
            if status.startswith("4") and content and "application/json" not in content:
                response["content"] = {"application/json": next(iter(content.values()))}
    return schema


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app`` (and document error bodies as JSON)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _errors_as_json(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(HcdcError, _hcdc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database_error)
    for error in STATEMENT_ERRORS:
        # Handled here rather than by the catch-all, which Starlette re-raises to the server's
        # error log with the statement in its text.
        app.add_exception_handler(error, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
