"""Exceptions of the hcdc client, each carrying the server's error code and message.

The service answers every error as ``{"error": code, "message": text}`` with an HTTP status
(see the API description); the client turns that into one exception class per status family, so
that notebooks can ``except HcdcAuthError`` without looking at numbers.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = [
    "HcdcAuthError",
    "HcdcConflictError",
    "HcdcConnectionError",
    "HcdcError",
    "HcdcNotFoundError",
    "HcdcPermissionError",
    "HcdcProcessError",
    "HcdcRequestError",
    "HcdcServerError",
    "HcdcTimeoutError",
    "HcdcUnsupportedError",
    "error_from_response",
]


class HcdcError(Exception):
    """Any failure of an hcdc call.

    Attributes
    ----------
    message : str
        The server's message (or the client's, for failures before a response).
    code : str or None
        The server's stable error code (``invalid_input``, ``not_found``, ...).
    status : int or None
        The HTTP status, when the server answered.
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        prefix = f"[{self.status} {self.code}] " if self.status is not None else ""
        return f"{prefix}{self.message}"


class HcdcRequestError(HcdcError):
    """The request was refused as malformed (400): an unknown filter, a bad value..."""


class HcdcConflictError(HcdcRequestError):
    """The resource is not in a state that allows this action (409)."""


class HcdcAuthError(HcdcError):
    """Missing, wrong, expired or revoked login or token (401)."""


class HcdcPermissionError(HcdcError):
    """Authenticated, but not allowed (403): e.g. a restricted user without a workspace."""


class HcdcNotFoundError(HcdcError):
    """No such resource, or not visible to this user (404)."""


class HcdcServerError(HcdcError):
    """The server failed (5xx)."""


class HcdcConnectionError(HcdcError):
    """The server could not be reached."""


class HcdcTimeoutError(HcdcError):
    """Waiting for a process ended before it did."""


class HcdcUnsupportedError(HcdcError):
    """The server does not offer the route this call needs (an older or partial service)."""


_BY_STATUS: dict[int, type[HcdcError]] = {
    400: HcdcRequestError,
    401: HcdcAuthError,
    403: HcdcPermissionError,
    404: HcdcNotFoundError,
    409: HcdcConflictError,
}


def error_from_response(response: httpx.Response) -> HcdcError:
    """The exception for an error response, with the server's code and message."""
    code: str | None = None
    message = response.text.strip() or response.reason_phrase
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body["error"]) if "error" in body else None
        if "message" in body:
            message = str(body["message"])
        elif "detail" in body:
            message = str(body["detail"])
    status = response.status_code
    if status >= 500:
        cls: type[HcdcError] = HcdcServerError
    else:
        cls = _BY_STATUS.get(status, HcdcRequestError)
    where = f"{response.request.method} {response.request.url.path}"
    return cls(f"{message} ({where})", code=code, status=status)


class HcdcProcessError(HcdcError):
    """A process ended in ``error`` or ``cancelled`` while the caller waited for it."""

    def __init__(self, message: str, *, process_id: int, status: str) -> None:
        super().__init__(message, code=status)
        self.process_id = process_id
