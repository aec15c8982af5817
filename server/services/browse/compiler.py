"""The filter compiler: a browse request and a viewer -> SQL statements.

Identifiers come only from the vocabulary (sort, group and extract keys are looked up there);
filter values reach SQL only as bound parameters (built by the rules). The caller's visibility
predicate is always part of the WHERE clause.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, select

from hcdc_server.exceptions import InvalidInputError
from hcdc_server.models.api import BrowseRequest
from hcdc_server.services.browse.rules import Context, SwitchRule
from hcdc_server.services.browse.values import FilterLimits, parse_switch
from hcdc_server.services.browse.vocabulary import Vocabulary
from hcdc_server.services.visibility import Viewer, check_browse_scope, visible

_SORT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\s(ASC|DESC))?\s*$", re.IGNORECASE)
_COUNT = re.compile(r"^\s*count\(\s*([A-Za-z_][A-Za-z0-9_]*)?\s*\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool


@dataclass(frozen=True)
class Extract:
    """``extract``: one key's values, or (``count``) the number of non-null values of ``key``
    (of rows, when ``key`` is None)."""

    key: str | None
    count: bool


@dataclass(frozen=True)
class CompiledBrowse:
    """A browse request checked against the vocabulary and the viewer, ready to build SQL."""

    vocabulary: Vocabulary
    where: tuple[ColumnElement[bool], ...]
    sort: Sort
    limit: int
    page: int
    group: str | None
    extract: Extract | None
    count: bool

    # -- statements ------------------------------------------------------------------------

    def count_statement(self) -> Select[Any]:
        """``SELECT count(*)`` of the filtered items (no joins: filters are subqueries)."""
        return select(func.count()).select_from(self.vocabulary.table).where(*self.where)

    def page_statement(self, keys: Sequence[str]) -> Select[Any]:
        """The sorted page of ``keys`` (labelled by key).

        A page is chosen by id first and its keys computed afterwards (a deferred join), so that
        skipping ``(page - 1) * limit`` rows never computes their keys.
        """
        table = self.vocabulary.table
        if self.limit < 0:
            columns = [self._expression(key).label(key) for key in keys]
            statement = select(*columns).select_from(table).where(*self.where)
            if self.page > 1:
                statement = statement.limit(0)  # -1 gives every item on page 1
            return statement.order_by(*self._order_by())
        chosen = (
            select(self.vocabulary.id_column.label("page_id"))
            .select_from(table)
            .where(*self.where)
            .order_by(*self._order_by())
            .limit(self.limit)
            .offset((self.page - 1) * self.limit)
        )
        return self._keys_of(keys, chosen)

    def chunk_statement(self, keys: Sequence[str], *, after: int | None, size: int) -> Select[Any]:
        """The next ``size`` items in id order after the item ``after`` (keyset paging).

        Exports read every item a chunk at a time, each chunk a short statement of its own: no
        offset grows with the position, and no statement outlives the statement timeout.
        """
        id_column = self.vocabulary.id_column
        where = list(self.where)
        if after is not None:
            where.append(id_column < after if self.sort.descending else id_column > after)
        chosen = (
            select(id_column.label("page_id"))
            .select_from(self.vocabulary.table)
            .where(*where)
            .order_by(*self._order_by())
            .limit(size)
        )
        return self._keys_of(keys, chosen)

    def _keys_of(self, keys: Sequence[str], chosen: Select[Any]) -> Select[Any]:
        """``keys`` of the items whose ids ``chosen`` selects (as ``page_id``), in sort order."""
        table = self.vocabulary.table
        page = chosen.subquery("page")
        columns = [self._expression(key).label(key) for key in keys]
        return (
            select(*columns)
            .select_from(table.join(page, self.vocabulary.id_column == page.c.page_id))
            .order_by(*self._order_by())
        )

    def aggregate_statement(self, key: str | None, group: str | None) -> Select[Any]:
        """``count(key)`` (per ``group`` value if given) over the sorted page.

        When the page is every item the aggregate runs on the table directly, so that no sort is
        needed; otherwise on the page as a subquery (the seed applies limit and sort first).
        """
        keys = [k for k in (key, group) if k is not None]
        if self.limit < 0 and self.page == 1:
            # Every row is aggregated: join related tables once (a hash join) rather than
            # looking up each row's key.
            source: FromClause = self.vocabulary.table
            expressions = {}
            joined: set[str] = set()
            for k in keys:
                expression, join_name = self.vocabulary.keys[k]
                expressions[k] = expression
                if join_name is not None and join_name not in joined:
                    join = self.vocabulary.joins[join_name]
                    source = source.outerjoin(join.table, join.on)
                    joined.add(join_name)
            where: Iterable[ColumnElement[bool]] = self.where
        else:
            page = self.page_statement(keys or ["id"]).subquery("page")
            source = page
            expressions = {k: page.c[k] for k in keys}
            where = ()
        counted = func.count(expressions[key]) if key is not None else func.count()
        if group is None:
            return select(counted).select_from(source).where(*where)
        grouped = expressions[group]
        return (
            select(grouped.label("group_value"), counted.label("n"))
            .select_from(source)
            .where(*where)
            .group_by(grouped)
            .order_by(grouped)
        )

    # -- parts -----------------------------------------------------------------------------

    def _expression(self, key: str) -> ColumnElement[Any]:
        """A key's SQL: a column of the main table, or a correlated lookup in a related one.

        Lookups rather than joins keep PostgreSQL's planning time flat (six LEFT JOINs cost
        about 10 ms of join search per query; per-row primary-key lookups cost microseconds).
        """
        built = self.vocabulary.key_sql.get(key)
        if built is not None:
            return built
        expression, join_name = self.vocabulary.keys[key]
        if join_name is not None:
            join = self.vocabulary.joins[join_name]
            lookup = select(expression).where(join.on).correlate(self.vocabulary.table)
            expression = lookup.scalar_subquery()
        self.vocabulary.key_sql[key] = expression
        return expression

    def _order_by(self) -> list[ColumnElement[Any]]:
        id_column = self.vocabulary.id_column
        direction = "desc" if self.sort.descending else "asc"
        order: list[ColumnElement[Any]] = []
        if self.sort.key != "id":
            expression = self._expression(self.sort.key)
            # NULLs last in both directions, identically on SQLite and PostgreSQL.
            order.append(getattr(expression, direction)().nulls_last())
        order.append(getattr(id_column, direction)())
        return order


def compile_browse(
    vocabulary: Vocabulary, request: BrowseRequest, viewer: Viewer, limits: FilterLimits
) -> CompiledBrowse:
    """Check ``request`` against ``vocabulary``, ``viewer`` and ``limits``; 400/403 naming the
    problem."""
    filters = _upper_names(request.browse_filters)
    for name, raw in filters.items():
        limits.check(name, raw)
    check_browse_scope(viewer, [filters[n] for n in vocabulary.workspace_filters if n in filters])
    switches_on = frozenset(
        name
        for name, value in filters.items()
        if name in vocabulary.switches and parse_switch(value, name=name)
    )
    context = Context(viewer=viewer, switches=switches_on)
    where: list[ColumnElement[bool]] = [visible(viewer, vocabulary.resource)]
    for name, raw in filters.items():
        rule = vocabulary.filters.get(name) or vocabulary.switches.get(name)
        if rule is None:
            choices = [*vocabulary.filters, *vocabulary.switches]
            raise InvalidInputError(_unknown("filter or switch", name, vocabulary, choices))
        modifies = rule.modifies if isinstance(rule, SwitchRule) else None
        if modifies and name in switches_on and modifies not in filters:
            raise InvalidInputError(f"switch {name} needs the filter {rule.modifies}")
        predicate = rule.predicate(name, raw, context)
        if predicate is not None:
            where.append(predicate)
    return CompiledBrowse(
        vocabulary=vocabulary,
        where=tuple(where),
        sort=_parse_sort(request.sort, vocabulary),
        limit=request.limit,
        page=request.page,
        group=_check_key("group", request.group, vocabulary) if request.group else None,
        extract=_parse_extract(request.extract, vocabulary) if request.extract else None,
        count=request.count,
    )


def _unknown(what: str, name: str, vocabulary: Vocabulary, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"unknown {what} {name!r} for {vocabulary.endpoint}{hint}"


def _upper_names(filters: dict[str, Any]) -> dict[str, Any]:
    """Filter and switch names in upper case, as the seed spells them (``process_status`` is
    ``PROCESS_STATUS``); a name given twice in different cases is refused."""
    named: dict[str, Any] = {}
    for name, raw in filters.items():
        upper = name.upper()
        if upper in named:
            raise InvalidInputError(f"filter {upper} given twice (names ignore case)")
        named[upper] = raw
    return named


def _check_key(setting: str, key: str, vocabulary: Vocabulary) -> str:
    """An item key, case-insensitively (``PROCESS_DATE`` is ``process_date``); 400 if unknown."""
    lower = key.strip().lower()
    if lower not in vocabulary.keys:
        raise InvalidInputError(_unknown(f"{setting} key", lower, vocabulary, vocabulary.keys))
    return lower


def _parse_sort(text: str, vocabulary: Vocabulary) -> Sort:
    match = _SORT.match(text)
    if match is None:
        raise InvalidInputError(f"sort {text!r}: expected '<key> ASC' or '<key> DESC'")
    key = _check_key("sort", match.group(1), vocabulary)
    return Sort(key=key, descending=(match.group(2) or "ASC").upper() == "DESC")


def _parse_extract(text: str, vocabulary: Vocabulary) -> Extract:
    match = _COUNT.match(text)
    if match is not None:
        key = match.group(1)
        return Extract(key=_check_key("extract", key, vocabulary) if key else None, count=True)
    return Extract(key=_check_key("extract", text.strip(), vocabulary), count=False)
