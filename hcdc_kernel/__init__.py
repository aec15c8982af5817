"""hcdc_kernel: the domain and science core of the High Contrast Data Center (hcdc).

``hcdc_kernel.connect()`` opens the notebook client (:mod:`hcdc_kernel.client`); it and the
client's exceptions are imported on first use, so that jobs importing the science core do not
pay for the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hcdc_kernel.client import (
        HcdcAuthError,
        HcdcClient,
        HcdcConflictError,
        HcdcConnectionError,
        HcdcError,
        HcdcNotFoundError,
        HcdcPermissionError,
        HcdcProcessError,
        HcdcRequestError,
        HcdcServerError,
        HcdcTimeoutError,
        HcdcUnsupportedError,
        connect,
    )

_CLIENT_NAMES = frozenset(
    {
        "HcdcAuthError",
        "HcdcClient",
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
        "connect",
    }
)

__all__ = [
    "HcdcAuthError",
    "HcdcClient",
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
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from hcdc_kernel import client

        return getattr(client, name)
    raise AttributeError(f"module 'hcdc_kernel' has no attribute {name!r}")
