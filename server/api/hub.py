"""The hcdc service behind JupyterHub: hub-only routes, the URL prefix and browser sessions.

JupyterHub runs the service at ``/services/hcdc/`` and forwards whole paths, so the prefix is
declared as the ASGI ``root_path`` (routes match with or without it). The hub itself calls the
``/api/hub/*`` routes with the service's hub token: to check a log-in, and to get a token and the
workspaces of a user whose server starts. Browsers log in once, through the hub's OAuth: the
callback opens a one-day hcdc session kept in an HTTP-only cookie, which stands for the
``X-Auth-*`` headers on reads (writes still need the headers, so that no other page on the hub's
origin can act for the user).
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response, status
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hcdc_server.api.errors import ERROR_RESPONSES, install_error_handlers
from hcdc_server.exceptions import AuthenticationError, HcdcError, PermissionDeniedError
from hcdc_server.factory import Factory
from hcdc_server.models.hub import HubIdentity, HubLogin, ServerGrant
from hcdc_server.services.hub import HubAccountService

SESSION_COOKIE = "hcdc-session"
STATE_COOKIE = "hcdc-oauth-state"
CALLBACK_PATH = "/oauth_callback"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_CREDENTIAL_HEADERS = frozenset({b"x-auth-ident", b"x-auth-token", b"authorization"})


@dataclass(frozen=True)
class HubOAuthConfig:
    """The OAuth client JupyterHub registered for this service (from its environment)."""

    client_id: str
    client_secret: str
    api_url: str
    authorize_url: str
    callback_url: str

    @classmethod
    def from_environ(cls, env: Mapping[str, str] | None = None) -> HubOAuthConfig | None:
        """Read ``JUPYTERHUB_*``; ``None`` when the service does not run under a hub."""
        env = os.environ if env is None else env
        names = ("JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL")
        if not all(env.get(name) for name in names):
            return None
        base_url = env.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
        prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "/services/hcdc/").rstrip("/")
        return cls(
            client_id=env["JUPYTERHUB_CLIENT_ID"],
            client_secret=env["JUPYTERHUB_API_TOKEN"],
            api_url=env["JUPYTERHUB_API_URL"].rstrip("/"),
            authorize_url=f"{base_url}/hub/api/oauth2/authorize",
            callback_url=env.get("JUPYTERHUB_OAUTH_CALLBACK_URL", f"{prefix}{CALLBACK_PATH}"),
        )

    async def user_for_code(self, code: str) -> str:
        """Exchange an authorisation code for the hub user's name."""
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.callback_url,
        }
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                reply = await client.post(f"{self.api_url}/oauth2/token", data=form)
                reply.raise_for_status()
                access = reply.json()["access_token"]
                reply = await client.get(
                    f"{self.api_url}/user", headers={"Authorization": f"Bearer {access}"}
                )
                reply.raise_for_status()
                return str(reply.json()["name"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise AuthenticationError(f"hub OAuth failed: {exc}") from exc


def session_value(login: str, token: str) -> str:
    """The session cookie's value: the login (quoted) and its token."""
    return f"{quote(login, safe='')}:{token}"


def parse_session(value: str) -> tuple[str, str] | None:
    """The ``(login, token)`` of a session cookie, or ``None`` when malformed."""
    login, sep, token = value.rpartition(":")
    return (unquote(login), token) if sep and login and token else None


class HubServiceMiddleware:
    """Declare the hub's URL prefix, turn session cookies into credentials, send browsers to log in.

    Parameters
    ----------
    app
        The application to wrap.
    root_path
        The prefix the proxy forwards with, e.g. ``/services/hcdc``; empty for none.
    oauth
        The hub's OAuth client; without it, no browser is redirected.
    """

    def __init__(self, app: ASGIApp, *, root_path: str, oauth: HubOAuthConfig | None) -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.root_path and (path == self.root_path or path.startswith(f"{self.root_path}/")):
            scope = {**scope, "root_path": self.root_path}
        headers = dict(scope.get("headers", []))
        if not _CREDENTIAL_HEADERS.intersection(headers):
            session = _cookie(headers, SESSION_COOKIE)
            credentials = parse_session(session) if session else None
            if credentials and scope.get("method", "GET") in _SAFE_METHODS:
                login, token = credentials
                extra = [(b"x-auth-ident", login.encode()), (b"x-auth-token", token.encode())]
                scope = {**scope, "headers": [*scope.get("headers", []), *extra]}
            elif credentials is None and self._is_browser_page(scope, headers):
                await self._send_to_login(scope, send)
                return
        await self.app(scope, receive, send)

    def _is_browser_page(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        """A page navigation (not an API call) that the hub's OAuth should authenticate."""
        if self.oauth is None or scope.get("method") != "GET" or scope["type"] != "http":
            return False
        route = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if route.startswith("/api/") or route == CALLBACK_PATH:
            return False
        return b"text/html" in headers.get(b"accept", b"")

    async def _send_to_login(self, scope: Scope, send: Send) -> None:
        assert self.oauth is not None
        query = scope.get("query_string", b"").decode()
        target = scope["path"] + (f"?{query}" if query else "")
        nonce = secrets.token_urlsafe(16)
        state = f"{nonce}.{base64.urlsafe_b64encode(target.encode()).decode()}"
        params = {
            "client_id": self.oauth.client_id,
            "redirect_uri": self.oauth.callback_url,
            "response_type": "code",
            "state": state,
        }
        response = RedirectResponse(f"{self.oauth.authorize_url}?{urlencode(params)}", 302)
        response.set_cookie(
            STATE_COOKIE,
            nonce,
            max_age=600,
            path=self.root_path or "/",
            httponly=True,
            samesite="lax",
        )

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        await response(scope, no_body, send)


def _cookie(headers: dict[bytes, bytes], name: str) -> str | None:
    raw = headers.get(b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is simply no session
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _next_url(state: str, root_path: str) -> str:
    """The local page a login started from, decoded from the OAuth state (never off-site)."""
    try:
        target = base64.urlsafe_b64decode(state.partition(".")[2].encode()).decode()
    except (ValueError, UnicodeDecodeError):
        target = ""
    if not target.startswith("/") or target.startswith("//"):
        return f"{root_path}/docs"
    return target


#: The hub routes answer 401 without the hub token and 403 where there is no hub.
HUB_ERRORS: dict[int | str, dict[str, Any]] = {c: ERROR_RESPONSES[c] for c in (400, 401, 403)}


class HubGuard:
    """Dependency letting through only JupyterHub, which holds the service's hub token."""

    def __init__(self, hub_token: str | None) -> None:
        self._token = hub_token

    def __call__(self, authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, given = (authorization or "").partition(" ")
        if not given:
            raise AuthenticationError("hub token required")
        if self._token is None:
            raise PermissionDeniedError("hcdc is not running behind a hub (no hub token)")
        if scheme.lower() not in ("token", "bearer") or not hmac.compare_digest(
            given.encode(), self._token.encode()
        ):
            raise AuthenticationError("hub token required")


def hub_router(accounts: HubAccountService, *, hub_token: str | None) -> APIRouter:
    """Routes JupyterHub calls (with the service's hub token), and a liveness probe."""
    router = APIRouter(tags=["hub"])
    hub_only = APIRouter(dependencies=[Depends(HubGuard(hub_token))], responses=HUB_ERRORS)

    @router.get("/api/hub/health")
    def health() -> dict[str, str]:
        """Liveness of the service (no credentials needed)."""
        return {"status": "ok"}

    @hub_only.post("/api/hub/identify", responses={401: {"description": "Bad login or token"}})
    def identify(credentials: HubLogin) -> HubIdentity:
        """Check a hub log-in (hcdc login and token); JupyterHub only."""
        return accounts.identify(credentials.login, credentials.token)

    @hub_only.post("/api/hub/servers/{login}", responses={404: {"description": "Unknown user"}})
    def grant_server(login: str) -> ServerGrant:
        """A token and the workspaces for the user server of ``login``; JupyterHub only."""
        return accounts.grant_server(login)

    @hub_only.delete("/api/hub/servers/{login}", status_code=204)
    def release_server(login: str) -> Response:
        """Revoke the token of the stopped user server of ``login``; JupyterHub only."""
        accounts.release_server(login)
        return Response(status_code=204)

    router.include_router(hub_only)
    return router


def oauth_router(accounts: HubAccountService, oauth: HubOAuthConfig) -> APIRouter:
    """The hub's OAuth callback: opens a browser session of the service."""
    router = APIRouter()

    @router.get(CALLBACK_PATH, include_in_schema=False)
    async def oauth_callback(request: Request, code: str, state: str) -> Response:
        nonce = request.cookies.get(STATE_COOKIE, "")
        if not nonce or not hmac.compare_digest(nonce, state.partition(".")[0]):
            raise AuthenticationError("OAuth state mismatch: start again from the page")
        login = await oauth.user_for_code(code)
        root_path = request.scope.get("root_path", "").rstrip("/")
        response = RedirectResponse(_next_url(state, root_path), status.HTTP_302_FOUND)
        secure = request.headers.get("x-forwarded-proto", request.url.scheme) == "https"
        response.set_cookie(
            SESSION_COOKIE,
            session_value(login, accounts.open_session(login)),
            max_age=86400,
            path=root_path or "/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
        response.delete_cookie(STATE_COOKIE, path=root_path or "/")
        return response

    return router


def install_hub(app: FastAPI, factory: Factory) -> None:
    """Add the hub's routes, prefix and browser sessions to the hcdc application."""
    settings = factory.settings
    accounts = HubAccountService.from_factory(factory)
    token = settings.hub_api_token.get_secret_value() if settings.hub_api_token else None
    app.include_router(hub_router(accounts, hub_token=token))
    oauth = HubOAuthConfig.from_environ()
    if oauth is not None:
        app.include_router(oauth_router(accounts, oauth))
    app.add_middleware(HubServiceMiddleware, root_path=settings.root_path, oauth=oauth)
    if HcdcError not in app.exception_handlers:
        # An application of its own hosting these routes renders errors as hcdc's does.
        install_error_handlers(app)
