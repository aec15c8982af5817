"""Runs browse requests: compile, execute, shape the seed's response."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
)
from hcdc_server.services.browse.compiler import CompiledBrowse, compile_browse
from hcdc_server.services.browse.vocabulary import ResourceName, vocabulary_for
from hcdc_server.services.visibility import Viewer


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


class BrowseService:
    """The seed's process_list and data_list."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def compile(
        self, viewer: Viewer, resource: ResourceName, request: BrowseRequest
    ) -> CompiledBrowse:
        """Check the request (400/403) and build its SQL without running it."""
        return compile_browse(vocabulary_for(resource), request, viewer)

    def browse(
        self, viewer: Viewer, resource: ResourceName, request: BrowseRequest
    ) -> BrowseResponse:
        """Run one browse request for ``viewer``."""
        compiled = self.compile(viewer, resource, request)
        try:
            with self._sessions() as session:
                return _run(session, compiled)
        except DataError as exc:
            # A value the database cannot hold (out of its range): the client's input.
            raise InvalidInputError(f"a filter value is out of range: {exc.orig}") from exc

    def ids(self, viewer: Viewer, resource: ResourceName, filters: dict[str, Any]) -> list[int]:
        """Every visible id matching ``filters`` (for download scripts), in id order."""
        request = BrowseRequest(browse_filters=filters, limit=-1, sort="id ASC")
        compiled = self.compile(viewer, resource, request)
        with self._sessions() as session:
            return list(session.scalars(compiled.page_statement(["id"])))


def _run(session: Session, compiled: CompiledBrowse) -> BrowseResponse:
    if compiled.count:
        return BrowseCount(count=session.execute(compiled.count_statement()).scalar_one())
    extract = compiled.extract
    group = compiled.group
    if extract is not None and extract.count:
        statement = compiled.aggregate_statement(extract.key, group)
        if group is None:
            return BrowseCount(count=session.execute(statement).scalar_one())
        rows = session.execute(statement).all()
        return BrowseGroups(groups={group_label(g): n for g, n in rows})
    if extract is not None:
        assert extract.key is not None
        if group is None:
            values = session.scalars(compiled.page_statement([extract.key])).all()
            return BrowseValues(values=[json_value(v) for v in values])
        grouped: dict[str, list[Any]] = {}
        for g, v in session.execute(compiled.page_statement([group, extract.key])).all():
            grouped.setdefault(group_label(g), []).append(json_value(v))
        return BrowseGroups(groups=grouped)
    keys = list(compiled.vocabulary.keys)
    result = session.execute(compiled.page_statement(keys))
    items = [{k: json_value(v) for k, v in zip(keys, row, strict=True)} for row in result]
    if group is None:
        return BrowsePage(items=items, page=compiled.page, limit=compiled.limit)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(group_label(item[group]), []).append(item)
    return BrowseGroups(groups=groups)
