"""Logging of the served API: every record (uvicorn's access log, the app's) passes one filter
that removes API tokens.

The seed's URL form (``/api/process_list/<login>/<token>``) puts the token in the request path,
which uvicorn's access log prints; headers are never logged, but a token pasted anywhere else
(a query string, an error message) is caught by its shape.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

import uvicorn.config

REDACTED = "[redacted]"
#: ``/api/<endpoint>/<login>/<token>``: everything after the login, up to the query or the end.
_URL_CREDENTIALS = re.compile(r"(/api/(?:process_list|data_list)/[^/\s?#\"']*/)[^\s?#\"']+")
#: A token anywhere: ``<16 hex key>.<secret>`` (the key, public, stays for the audit trail).
_TOKEN_SHAPE = re.compile(r"\b([0-9a-f]{16}\.)[A-Za-z0-9_-]{16,}")


def redact(text: str) -> str:
    """``text`` with API tokens replaced by ``[redacted]``."""
    text = _URL_CREDENTIALS.sub(rf"\g<1>{REDACTED}", text)
    return _TOKEN_SHAPE.sub(rf"\g<1>{REDACTED}", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value  # keeps the types a formatter expects (uvicorn's status code)
    text = str(value)
    clean = redact(text)
    return value if clean == text else clean


class RedactTokens(logging.Filter):
    """Redact tokens in a record's message and arguments (the arguments keep their places,
    as uvicorn's access formatter unpacks them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _clean(arg) for key, arg in record.args.items()}
        return True


def server_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on every handler, the root logger
    (the app's own records) included."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    config["formatters"]["app"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["app"] = {
        "formatter": "app",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    config["root"] = {"handlers": ["app"], "level": level.upper()}
    return config
