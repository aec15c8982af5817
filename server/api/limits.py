"""The seed's lenient JSON bodies: an ASGI middleware in front of the API.

A POST/PUT to ``/api`` without a JSON content type (``curl -d`` sends form encoding) is read as
JSON: the seed documents JSON bodies and its users script with curl. Body size is limited by
Starlette's ``RequestBodyLimitMiddleware`` (413).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

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
        await self.app(scope, receive, send)


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
