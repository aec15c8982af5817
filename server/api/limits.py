"""The seed's lenient JSON bodies: an ASGI middleware in front of the API.

A POST/PUT to ``/api`` without a JSON content type (``curl -d`` sends form encoding) is read as
JSON: the seed documents JSON bodies and its users script with curl. Body size is limited by
Starlette's ``RequestBodyLimitMiddleware`` (413).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

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
