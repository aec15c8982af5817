"""Pydantic models of the JSON API: the seed's browse request and its four response shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from hcdc_server.models.fields import StrictId
from hcdc_server.models.users import WORKSPACE_NAME_PATTERN, WORKSPACE_NAME_RULE

#: Largest page number and page size: keeps offsets within 64-bit SQL integers.
MAX_PAGE = 10**9


class BrowseRequest(BaseModel):
    """Body of ``process_list`` and ``data_list`` (every setting optional, as in the seed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    browse_filters: dict[str, Any] = Field(
        default_factory=dict,
        description="Filters and switches by their upper-case names. A value is a scalar "
        '(equality; `*` in a string is a wildcard), a list (any of), `{"min": a, "max": b}` '
        "(inclusive) or null; a switch takes `true`.",
    )
    count: StrictBool = Field(
        default=False, description='Return `{"count": n}` of the filtered items (ignores limit).'
    )
    group: str | None = Field(default=None, description="Group the page's items by this key.")
    limit: StrictInt = Field(
        default=10,
        ge=-1,
        le=MAX_PAGE,
        description="Items per page; -1 for all items at once. An answer holds at most "
        "`HCDC_MAX_PAGE_ROWS` items (default 1000; 400 beyond): the `/export` routes stream more.",
    )
    extract: str | None = Field(
        default=None,
        description="Return only this key's values, or `count(<key>)` / `count()` for how many "
        "(applied after sort, limit and page).",
    )
    page: StrictInt = Field(default=1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    sort: str = Field(default="id DESC", description="`<key> ASC|DESC`.")

    @field_validator("browse_filters", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class ExportRequest(BaseModel):
    """Body of the ``/export`` routes: every item matching the filters, streamed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    browse_filters: dict[str, Any] = Field(
        default_factory=dict,
        description="As in `process_list` / `data_list` (same names, values and visibility).",
    )
    sort: Literal["id ASC", "id DESC"] = Field(
        default="id ASC", description="Items stream in id order, ascending or descending."
    )
    format: Literal["ndjson", "csv"] = Field(
        default="ndjson",
        description="`ndjson`: one JSON item per line; `csv`: a header line of the item keys, "
        "then one line per item (null as an empty field).",
    )

    @field_validator("browse_filters", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class BrowsePage(BaseModel):
    """A page of items (JSON objects keyed by the lower-case filter names, and ``id``)."""

    items: list[dict[str, Any]]
    page: int
    limit: int


class BrowseCount(BaseModel):
    """``count`` set, or ``extract`` as ``count(<key>)``."""

    count: int


class BrowseValues(BaseModel):
    """``extract`` of one key: its values in sort order."""

    values: list[Any]


class BrowseGroups(BaseModel):
    """``group`` set: the page's items (or extracted values, or counts) per key value."""

    groups: dict[str, Any]


BrowseResponse = BrowsePage | BrowseCount | BrowseValues | BrowseGroups


class ErrorResponse(BaseModel):
    """Every error: a stable code and a message naming the offending part."""

    error: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["unknown filter 'RECIPE_NAM' (did you mean RECIPE_NAME?)"])


class DownloadScriptRequest(BaseModel):
    """A selection of data files: ids, or data_list filters (all matching files)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_ids: list[StrictId] | None = Field(default=None, max_length=100_000)
    browse_filters: dict[str, Any] | None = None
    folder: str = Field(
        default="hcdc-download",
        # Starts with a letter or digit: never "..", a hidden folder or an option ("-rf").
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Folder the script downloads into (a name, not a path).",
    )


class WorkspaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Checked by the workspace service, whose 400 names the rule; the schema shows the pattern.
    name: str = Field(
        description=f"Workspace name: {WORKSPACE_NAME_RULE}.",
        json_schema_extra={"pattern": WORKSPACE_NAME_PATTERN},
    )
    description: str | None = None
    group_name: str | None = None


class DataShare(BaseModel):
    """Data files to share with a workspace, or to remove from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_ids: list[StrictId] = Field(min_length=1, max_length=10_000)


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(pattern=r"^(owner|editor|viewer)$")
