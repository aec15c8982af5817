"""A synchronous HTTP client over the ASGI app in-process (httpx + an anyio portal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI


class ApiClient:
    """``client.post(url, json=...)`` like requests, running the app in a background loop."""

    def __init__(self, portal: Any, app: FastAPI, headers: dict[str, str] | None = None) -> None:
        self._portal = portal
        self.app = app
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://hcdc.test",
            headers=headers or {},
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@contextmanager
def api_client(app: FastAPI) -> Iterator[ApiClient]:
    with start_blocking_portal() as portal:
        client = ApiClient(portal, app)
        try:
            yield client
        finally:
            client.close()
