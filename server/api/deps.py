"""Request dependencies: the factory and the authenticated caller.

Credentials come as ``X-Auth-Ident`` + ``X-Auth-Token`` headers, as ``Authorization: Bearer
<token>`` (the login is implied by the token), or, on the seed's browse routes, in the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from hcdc_server.exceptions import AuthenticationError
from hcdc_server.factory import Factory
from hcdc_server.services.visibility import Viewer

ident_header = APIKeyHeader(
    name="X-Auth-Ident", auto_error=False, description="Your login (with X-Auth-Token)."
)
token_header = APIKeyHeader(
    name="X-Auth-Token", auto_error=False, description="Your token (`hcdc token create`)."
)
bearer_header = HTTPBearer(auto_error=False, description="Your token; the login is implied by it.")


def get_factory(request: Request) -> Factory:
    """The application's factory (``app.state.factory``)."""
    factory: Factory = request.app.state.factory
    return factory


FactoryDep = Annotated[Factory, Depends(get_factory)]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and the token they presented (for download scripts)."""

    viewer: Viewer
    token: str


def header_caller(
    factory: FactoryDep,
    ident: Annotated[str | None, Depends(ident_header)],
    token: Annotated[str | None, Depends(token_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_header)],
) -> Caller:
    """The caller from headers; 401 when missing or wrong."""
    auth = factory.auth()
    if token:
        viewer = auth.viewer(ident, token) if ident else auth.bearer_viewer(token)
        return Caller(viewer=viewer, token=token)
    if bearer is not None and bearer.credentials:
        return Caller(viewer=auth.bearer_viewer(bearer.credentials), token=bearer.credentials)
    raise AuthenticationError(
        "missing credentials: send X-Auth-Ident and X-Auth-Token, or Authorization: Bearer"
    )


def path_caller(login: str, token: str, factory: FactoryDep) -> Caller:
    """The caller from the seed's ``/<login>/<token>`` URL form; 401 when wrong."""
    return Caller(viewer=factory.auth().viewer(login, token), token=token)


HeaderCaller = Annotated[Caller, Depends(header_caller)]
PathCaller = Annotated[Caller, Depends(path_caller)]
