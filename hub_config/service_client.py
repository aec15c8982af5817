"""The hub's calls to the hcdc service (``/api/hub/*``, authorised by the service's hub token)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from hcdc_server.models.hub import HubIdentity, ServerGrant


class HcdcServiceError(RuntimeError):
    """The hcdc service could not be reached or refused a hub call."""


class HcdcServiceClient:
    """Asynchronous client of the hub routes of the hcdc service.

    Parameters
    ----------
    url
        Base URL of the service as the hub reaches it, e.g. ``http://127.0.0.1:8082``.
    token
        The service's hub token (shared secret of hub and service).
    timeout_s
        Network timeout of each call.
    """

    def __init__(self, url: str, token: str, *, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"token {token}"}
        self._timeout_s = timeout_s

    async def identify(self, login: str, token: str) -> HubIdentity | None:
        """The hcdc identity behind a log-in, or ``None`` when the login or token is wrong."""
        reply = await self._call("POST", "/api/hub/identify", json={"login": login, "token": token})
        if reply.status_code in (400, 401, 403, 422):
            return None
        _check(reply)
        return HubIdentity.model_validate(reply.json())

    async def grant_server(self, login: str) -> ServerGrant:
        """A fresh token and the workspaces for the user server of ``login``."""
        reply = await self._call("POST", f"/api/hub/servers/{quote(login, safe='')}")
        _check(reply)
        return ServerGrant.model_validate(reply.json())

    async def release_server(self, login: str) -> None:
        """Revoke the token of the stopped user server of ``login``."""
        _check(await self._call("DELETE", f"/api/hub/servers/{quote(login, safe='')}"))

    async def _call(
        self, method: str, path: str, *, json: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                return await client.request(
                    method, f"{self._url}{path}", headers=self._headers, json=json
                )
        except httpx.HTTPError as exc:
            raise HcdcServiceError(f"hcdc service unreachable at {self._url}: {exc}") from exc


def _check(reply: httpx.Response) -> None:
    if reply.is_success:
        return
    try:
        body = reply.json()
        detail = body.get("message") or body.get("detail") or reply.text
    except ValueError:
        detail = reply.text
    raise HcdcServiceError(f"hcdc service answered {reply.status_code}: {detail}")
