"""The seed's lenient JSON bodies: an ASGI middleware in front of the API.

A POST/PUT to ``/api`` without a JSON content type (``curl -d`` sends form encoding) is read as
JSON: the seed documents JSON bodies and its users script with curl. Body size is limited by
Starlette's ``RequestBodyLimitMiddleware`` (413). A JSON body with a NUL character in any string
is refused here, once for every route (400): PostgreSQL can store NUL neither in text nor in
JSONB, so it would otherwise fail deep inside a service.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hcdc_server.api.errors import error_body

#: Largest request body accepted (browse requests and selections are small).
MAX_BODY_BYTES = 1 << 20
_JSON = b"application/json"
_LENIENT_TYPES = frozenset({b"", b"application/x-www-form-urlencoded", b"text/plain"})


class JsonBodyMiddleware:
    """Treat API request bodies without a JSON content type as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PUT", "PATCH")
            and scope["path"].startswith("/api/")
        ):
            headers = dict(scope["headers"])
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type in _LENIENT_TYPES:
                headers[b"content-type"] = _JSON
                scope = {**scope, "headers": list(headers.items())}
                content_type = _JSON
            if content_type == _JSON:
                body, receive = await _buffered(receive)
                where = _nul_path(body)
                if where is not None:
                    message = f"{where}: text may not contain NUL characters (\\u0000)"
                    await JSONResponse(error_body("invalid_input", message), status_code=400)(
                        scope, receive, send
                    )
                    return
        await self.app(scope, receive, send)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that replays it to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _nul_path(body: bytes) -> str | None:
    """Where a JSON body holds a NUL character (``browse_filters.OBJECT[0]``), or ``None``;
    malformed JSON: ``None`` (the route's own parser names that problem)."""
    if b"\\u0000" not in body and b"\x00" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _find_nul(document, "body")


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, path) or _find_nul(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


#: Room for the multipart envelope (boundaries, the workspace field) around an uploaded file.
UPLOAD_OVERHEAD_BYTES = 1 << 20


class BodyLimitMiddleware:
    """Starlette's body limit (413), with a larger one for the upload route (``POST /api/data``).

    The upload service enforces the exact file limit with a message; this keeps the request
    from being spooled in full before that.
    """

    def __init__(self, app: ASGIApp, *, max_body_size: int, max_upload_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.max_upload_size = max_upload_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/api/data")
        limit = self.max_upload_size if upload else self.max_body_size
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            # Starlette answers this case in plain text; every error of the API is JSON.
            message = f"request body of {declared} bytes: at most {limit} bytes are accepted"
            await JSONResponse(error_body("too_large", message), status_code=413)(
                scope, receive, send
            )
            return
        await RequestBodyLimitResponder(self.app, limit)(scope, receive, send)
