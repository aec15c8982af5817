"""One error hierarchy for hcdc: each error carries a code and an HTTP status."""

from __future__ import annotations


class HcdcError(Exception):
    """Base of every hcdc error; ``code`` is stable, ``status`` the HTTP status for the API."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(HcdcError):
    code = "invalid_input"
    status = 400


class AuthenticationError(HcdcError):
    code = "unauthenticated"
    status = 401


class PermissionDeniedError(HcdcError):
    code = "forbidden"
    status = 403


class NotFoundError(HcdcError):
    code = "not_found"
    status = 404


class ConflictError(HcdcError):
    code = "conflict"
    status = 409


class QuotaExceededError(HcdcError):
    """A per-user limit (e.g. processes queued) would be exceeded; the message names it."""

    code = "quota_exceeded"
    status = 429


class TooLargeError(HcdcError):
    code = "too_large"
    status = 413


class UnprocessableError(HcdcError):
    """Well-formed request whose content cannot be used (a file that is not valid FITS)."""

    code = "invalid_file"
    status = 422


class StorageError(HcdcError):
    code = "storage_error"
    status = 503


class QueryTimeoutError(HcdcError):
    """A database statement ran past the statement timeout; the request may be narrowed."""

    code = "query_timeout"
    status = 503


class SchemaOutOfDateError(HcdcError):
    """The database's schema is not the one this hcdc needs; the message names the command
    that migrates it (start-up refuses rather than migrating)."""

    code = "schema_out_of_date"
    status = 503


class SettingsError(HcdcError):
    """A settings file names an unknown setting or holds a bad value (the message says which)."""

    code = "bad_settings"
    status = 500


class VoUnavailableError(HcdcError):
    """VO publication cannot run here: SQLite instead of PostgreSQL, DaCHS missing or failing
    (the message says which and what to do)."""

    code = "vo_unavailable"
    status = 503
