"""Runs browse requests: compile, execute, shape the seed's response; and exports.

An answer holds at most ``max_rows`` items (or values, or groups): ``limit: -1`` keeps the seed's
meaning ("every item") up to there and is refused beyond with a 400 naming the export route,
which streams every matching item in chunks of ``max_rows``, each chunk its own statement.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.exceptions import InvalidInputError
from hcdc_server.models.api import (
    BrowseCount,
    BrowseGroups,
    BrowsePage,
    BrowseRequest,
    BrowseResponse,
    BrowseValues,
    ExportRequest,
)
from hcdc_server.services.browse.compiler import CompiledBrowse, compile_browse
from hcdc_server.services.browse.values import FilterLimits
from hcdc_server.services.browse.vocabulary import ResourceName, vocabulary_for
from hcdc_server.services.visibility import Viewer

_MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}


def json_value(value: Any) -> Any:
    """A database value as JSON: dates in ISO 8601, exact decimals as numbers."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def group_label(value: Any) -> str:
    """The JSON object key of a group value (``null``, ``true``/``false``, ISO dates, numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(json_value(value))


@dataclass(frozen=True)
class Export:
    """A streamed export: its lines (NDJSON or CSV), media type and file name."""

    lines: Iterator[str]
    media_type: str
    filename: str


class BrowseService:
    """The seed's process_list and data_list, and their exports."""

    def __init__(
        self, sessions: sessionmaker[Session], *, filter_limits: FilterLimits, max_rows: int
    ) -> None:
        self._sessions = sessions
        self._filter_limits = filter_limits
        self._max_rows = max_rows

    def compile(
        self, viewer: Viewer, resource: ResourceName, request: BrowseRequest
    ) -> CompiledBrowse:
        """Check the request (400/403) and build its SQL without running it."""
        return compile_browse(vocabulary_for(resource), request, viewer, self._filter_limits)

    def browse(
        self, viewer: Viewer, resource: ResourceName, request: BrowseRequest
    ) -> BrowseResponse:
        """Run one browse request for ``viewer``."""
        compiled = self.compile(viewer, resource, request)
        if compiled.limit > self._max_rows:
            raise InvalidInputError(
                f"limit {compiled.limit}: at most {self._max_rows} items per page; "
                f"POST /api/{compiled.vocabulary.endpoint}/export streams every item"
            )
        try:
            with self._sessions() as session:
                return _Run(session, compiled, self._max_rows).response()
        except DataError as exc:
            # A value the database cannot hold (out of its range): the client's input.
            raise InvalidInputError(f"a filter value is out of range: {exc.orig}") from exc

    def export(self, viewer: Viewer, resource: ResourceName, request: ExportRequest) -> Export:
        """Every item matching the request's filters, as the lists show them, streamed.

        The request is checked here (400/403 before any line); the lines are read as they are
        sent, ``max_rows`` items per statement.
        """
        compiled = self.compile(
            viewer,
            resource,
            BrowseRequest(browse_filters=request.browse_filters, sort=request.sort, limit=-1),
        )
        keys = list(compiled.vocabulary.keys)
        chunks = self._export_chunks(compiled, keys)
        lines = _ndjson(chunks) if request.format == "ndjson" else _csv(chunks, keys)
        return Export(
            lines=lines,
            media_type=_MEDIA_TYPES[request.format],
            filename=f"hcdc-{compiled.vocabulary.endpoint}.{request.format}",
        )

    def _export_chunks(
        self, compiled: CompiledBrowse, keys: list[str]
    ) -> Iterator[list[dict[str, Any]]]:
        id_index = keys.index("id")
        after: int | None = None
        while True:
            statement = compiled.chunk_statement(keys, after=after, size=self._max_rows)
            with self._sessions() as session:
                rows = session.execute(statement).all()
            yield [{k: json_value(v) for k, v in zip(keys, row, strict=True)} for row in rows]
            if len(rows) < self._max_rows:
                return
            after = rows[-1][id_index]

    def ids(self, viewer: Viewer, resource: ResourceName, filters: dict[str, Any]) -> list[int]:
        """Every visible id matching ``filters`` (for download scripts), in id order."""
        request = BrowseRequest(browse_filters=filters, limit=-1, sort="id ASC")
        compiled = self.compile(viewer, resource, request)
        with self._sessions() as session:
            return list(session.scalars(compiled.page_statement(["id"])))


class _Run:
    """One browse request run in ``session``: the seed's response shapes, ``max_rows`` at most."""

    def __init__(self, session: Session, compiled: CompiledBrowse, max_rows: int) -> None:
        self._session = session
        self._compiled = compiled
        self._max_rows = max_rows

    def response(self) -> BrowseResponse:
        compiled = self._compiled
        if compiled.count:
            return BrowseCount(count=self._session.execute(compiled.count_statement()).scalar_one())
        extract = compiled.extract
        group = compiled.group
        if extract is not None and extract.count:
            statement = compiled.aggregate_statement(extract.key, group)
            if group is None:
                return BrowseCount(count=self._session.execute(statement).scalar_one())
            rows = self._rows(statement, "groups")
            return BrowseGroups(groups={group_label(g): n for g, n in rows})
        if extract is not None:
            assert extract.key is not None
            if group is None:
                values = self._rows(compiled.page_statement([extract.key]), "values")
                return BrowseValues(values=[json_value(v) for (v,) in values])
            grouped: dict[str, list[Any]] = {}
            for g, v in self._rows(compiled.page_statement([group, extract.key]), "values"):
                grouped.setdefault(group_label(g), []).append(json_value(v))
            return BrowseGroups(groups=grouped)
        keys = list(compiled.vocabulary.keys)
        rows = self._rows(compiled.page_statement(keys), "items")
        items = [{k: json_value(v) for k, v in zip(keys, row, strict=True)} for row in rows]
        if group is None:
            return BrowsePage(items=items, page=compiled.page, limit=compiled.limit)
        groups: dict[str, list[Any]] = {}
        for item in items:
            groups.setdefault(group_label(item[group]), []).append(item)
        return BrowseGroups(groups=groups)

    def _rows(self, statement: Select[Any], what: str) -> Sequence[Any]:
        """The rows of ``statement``; with ``limit: -1``, refused past ``max_rows``."""
        compiled = self._compiled
        if compiled.limit >= 0 or compiled.page > 1:
            return self._session.execute(statement).all()
        rows = self._session.execute(statement.limit(self._max_rows + 1)).all()
        if len(rows) > self._max_rows:
            raise InvalidInputError(
                f"limit -1: more than {self._max_rows} {what} match, at most {self._max_rows} "
                f"per answer; page with limit and page, or stream every item from "
                f"POST /api/{compiled.vocabulary.endpoint}/export"
            )
        return rows


def _ndjson(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    """One JSON object per line, a chunk of lines at a time."""
    for chunk in chunks:
        yield "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in chunk)


def _csv(chunks: Iterator[list[dict[str, Any]]], keys: list[str]) -> Iterator[str]:
    """A header line of the keys, then one line per item (null as an empty field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for chunk in chunks:
        writer.writerows([["" if item[k] is None else item[k] for k in keys] for item in chunk])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
