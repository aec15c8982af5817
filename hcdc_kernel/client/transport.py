"""HTTP to the hcdc service: credentials, error mapping and the routes it offers.

Every request carries ``X-Auth-Ident`` and ``X-Auth-Token`` (the service's header form, which
every route accepts). The set of routes comes from the service's OpenAPI document, read once,
so that a call needing a route the service lacks fails with a clear
:class:`~hcdc_kernel.client.errors.HcdcUnsupportedError` rather than a bare 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import httpx

from hcdc_kernel.client.errors import (
    HcdcConnectionError,
    HcdcUnsupportedError,
    error_from_response,
)

__all__ = ["Transport"]

_TEMPLATE_PARAM = re.compile(r"\{[^}/]+\}")


class Transport:
    """One authenticated HTTP session with the service at ``base_url``.

    Parameters
    ----------
    base_url : str
        Root URL of the service (``/api/...`` is appended).
    login, token : str
        Credentials (``hcdc token create``).
    timeout : float
        Seconds to wait for each response.
    """

    def __init__(self, base_url: str, *, login: str, token: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.login = login
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"X-Auth-Ident": login, "X-Auth-Token": token, "Accept": "application/json"},
            timeout=timeout,
            follow_redirects=True,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; raise the matching :class:`HcdcError` on an error status."""
        try:
            response = self._http.request(
                method, path, json=json, params=params, headers=headers, files=files, data=data
            )
        except httpx.TransportError as exc:
            raise HcdcConnectionError(f"cannot reach {self.base_url}: {exc}") from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON body of a successful request."""
        return self.request(method, path, **kwargs).json()

    @contextmanager
    def stream(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed response (for file downloads); errors raised as for :meth:`request`."""
        try:
            with self._http.stream(method, path, headers=headers) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as exc:
            raise HcdcConnectionError(f"cannot reach {self.base_url}: {exc}") from exc

    @cached_property
    def routes(self) -> frozenset[tuple[str, str]]:
        """``(METHOD, path template)`` of every route in the service's OpenAPI document."""
        document = self.json("GET", "/openapi.json")
        return frozenset(
            (method.upper(), path)
            for path, operations in document.get("paths", {}).items()
            for method in operations
        )

    def supports(self, method: str, template: str) -> bool:
        """Whether the service offers ``method template`` (e.g. ``GET /api/recipes``)."""
        wanted = _TEMPLATE_PARAM.sub("{}", template)
        return any(
            m == method.upper() and _TEMPLATE_PARAM.sub("{}", p) == wanted for m, p in self.routes
        )

    def require(self, method: str, template: str, *, purpose: str) -> None:
        """Raise :class:`HcdcUnsupportedError` unless the service offers the route."""
        if not self.supports(method, template):
            raise HcdcUnsupportedError(
                f"the hcdc service at {self.base_url} has no {method.upper()} {template}, "
                f"which {purpose} needs"
            )
