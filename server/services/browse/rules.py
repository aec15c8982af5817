"""Filter rules: each kind of browse filter in one place, turning a JSON value into SQL.

A rule knows the item key it describes (if any, with the join the key needs) and builds the
predicate of a filter value. Predicates on related tables are ``IN (subquery)`` on the main
table, so a filtered query never multiplies rows and counts need no join.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    cast,
    extract,
    func,
    not_,
    or_,
    select,
    union_all,
)

from hcdc_server.exceptions import InvalidInputError
from hcdc_server.services.browse.sqlfuncs import modified_julian_date, year_month
from hcdc_server.services.browse.values import (
    Condition,
    Interval,
    ValueType,
    coerce,
    is_int_text,
    parse_condition,
    parse_switch,
)
from hcdc_server.services.visibility import Resource, Viewer, visible

DatePartName = Literal["year", "month", "day", "year_month"]
#: Tolerance of an MJD equality: half the 1e-5 day precision of the MJD-OBS headers.
MJD_TOLERANCE_DAYS = 5e-6


@dataclass(frozen=True)
class Context:
    """What a rule may consult besides its value: the switches that are on, the caller."""

    viewer: Viewer
    switches: frozenset[str] = frozenset()

    @property
    def user_id(self) -> int:
        return self.viewer.user_id

    def visible(self, resource: Resource) -> ColumnElement[bool] | None:
        """The caller's visibility predicate on ``resource``; ``None`` when it allows all.

        Rules that reach the other resource (a data file's processes, a process's files) apply
        it there too, so that no filter answers from rows the caller cannot see.
        """
        return None if self.viewer.is_admin else visible(self.viewer, resource)


class Rule(ABC):
    """One filter (and usually one item key) of a browse vocabulary."""

    value_type: ValueType = "str"
    #: Name of the join (in the vocabulary) the key expression needs, if any.
    join: str | None = None

    def key_expression(self) -> ColumnElement[Any] | None:
        """The SQL expression of the item key this rule describes; ``None``: filter only."""
        return None

    @abstractmethod
    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool] | None:
        """The WHERE predicate for ``raw``; ``None`` when the value asks for no restriction."""


@dataclass(frozen=True)
class ColumnRule(Rule):
    """A column of the main table: equality, any-of, range, wildcard, null."""

    column: ColumnElement[Any]
    value_type: ValueType = "str"

    def key_expression(self) -> ColumnElement[Any]:
        return self.column

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        return parse_condition(raw, self.value_type, name=name).on(self.column)


@dataclass(frozen=True)
class IdListRule(ColumnRule):
    """Like a column, and also accepts ``"1,2,3"`` (the seed's PROCESS_LIST form)."""

    value_type: ValueType = "int"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        if isinstance(raw, str) and "," in raw:
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        return super().predicate(name, raw, context)


@dataclass(frozen=True)
class EnumRule(ColumnRule):
    """A column holding one of a fixed set of values (a status, a launcher type).

    Values match case-insensitively (``"TO_VALIDATE"`` is ``to_validate``); any other value is
    refused with a 400 naming the allowed ones, never silently matching nothing. Wildcards and
    ranges compare the stored text as for any string column.
    """

    allowed: tuple[str, ...] = ()

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, "str", name=name)
        by_lower = {value.lower(): value for value in self.allowed}
        canonical = []
        for value in condition.equals:
            found = by_lower.get(str(value).strip().lower())
            if found is None:
                raise InvalidInputError(
                    f"filter {name}: unknown value {value!r}; allowed: {', '.join(self.allowed)}"
                )
            canonical.append(found)
        return replace(condition, equals=tuple(dict.fromkeys(canonical))).on(self.column)


@dataclass(frozen=True)
class IdOrNameRule(Rule):
    """A foreign key given by id or by the related row's name (RECIPE: ``12`` or
    ``"naco_img_dark"``, a wildcard too); ranges are on the id. The item key is the id."""

    fk: ColumnElement[Any]
    related_key: ColumnElement[Any]
    name_column: ColumnElement[Any]
    value_type: ValueType = "int"

    def key_expression(self) -> ColumnElement[Any]:
        return self.fk

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        if raw is None or isinstance(raw, dict) or raw == []:
            return parse_condition(raw, "int", name=name).on(self.fk)
        items = raw if isinstance(raw, list) else [raw]
        names = [i for i in items if isinstance(i, str) and not is_int_text(i)]
        ids = [i for i in items if not (isinstance(i, str) and not is_int_text(i))]
        parts: list[ColumnElement[bool]] = []
        if ids:
            parts.append(parse_condition(ids, "int", name=name).on(self.fk))
        if names:
            condition = parse_condition(names, "str", name=name)
            related = select(self.related_key).where(condition.on(self.name_column))
            parts.append(self.fk.in_(related.scalar_subquery()))
        return parts[0] if len(parts) == 1 else or_(*parts)


#: The predicate of a label on the main table, given the caller's context.
LabelPredicate = Callable[[Context], ColumnElement[bool]]


@dataclass(frozen=True)
class LabelledRule(Rule):
    """A rule whose string values may also be labels with a meaning of their own.

    The seed shows pipeline versions as ``production`` (the current version) or ``test``; hcdc
    stores version numbers. A value equal to a label (case-insensitively) matches the label's
    predicate, and the value taken literally too; everything else is the inner rule's.
    """

    inner: Rule
    labels: Mapping[str, LabelPredicate]
    value_type: ValueType = "str"
    join: str | None = None

    def key_expression(self) -> ColumnElement[Any] | None:
        return self.inner.key_expression()

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool] | None:
        literal = self.inner.predicate(name, raw, context)
        if raw is None or isinstance(raw, dict):
            return literal
        items = raw if isinstance(raw, list) else [raw]
        chosen = sorted({i.strip().lower() for i in items if isinstance(i, str)} & set(self.labels))
        if not chosen:
            return literal
        parts = [self.labels[label](context) for label in chosen]
        return or_(*([literal] if literal is not None else []), *parts)


@dataclass(frozen=True)
class LookupRule(Rule):
    """A column of a related table reached by a foreign key of the main table.

    ``fk IN (SELECT key FROM related WHERE condition)``; as an item key, the related column
    through the vocabulary's join of that name.
    """

    fk: ColumnElement[Any]
    related_key: ColumnElement[Any]
    related_column: ColumnElement[Any]
    value_type: ValueType = "str"
    join: str | None = None
    also: ColumnElement[bool] | None = None

    def key_expression(self) -> ColumnElement[Any] | None:
        return self.related_column if self.join else None

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, self.value_type, name=name)
        related = select(self.related_key).where(condition.on(self.related_column))
        result: ColumnElement[bool] = self.fk.in_(related.scalar_subquery())
        if self.also is not None:
            result = and_(self.also, result)
        if condition.is_null:
            # The looked-up value is null where there is no related row (or ``also`` fails).
            missing = (
                self.fk.is_(None) if self.also is None else or_(self.fk.is_(None), not_(self.also))
            )
            result = or_(missing, result)
        return result


@dataclass(frozen=True)
class DatePartRule(Rule):
    """Year, month, day or year-month derived from a stored date or date-time.

    Years and year-months become ranges on the column itself, so the column's index serves
    them; month and day of month (any year) compare the extracted part.
    """

    column: ColumnElement[Any]
    part: DatePartName

    @property
    def value_type(self) -> ValueType:
        return "str" if self.part == "year_month" else "int"

    def key_expression(self) -> ColumnElement[Any]:
        if self.part == "year_month":
            return year_month(self.column)
        # PostgreSQL's EXTRACT is numeric: cast so that keys are integers on both databases.
        return cast(extract(self.part, self.column), Integer)

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        if self.part in ("month", "day"):
            condition = parse_condition(raw, "int", name=name)
            if condition.patterns:
                raise InvalidInputError(f"filter {name}: no wildcard on a number")
            return condition.on(self.key_expression())
        items = raw if isinstance(raw, list) else [raw]
        if self.part == "year_month" and any(isinstance(i, str) and "*" in i for i in items):
            # A wildcard on 'YYYY-MM' compares the derived text (no index on this path).
            return parse_condition(raw, "str", name=name).on(self.key_expression())
        intervals: list[Interval] = []
        is_null = False
        for item in items:
            if item is None:
                is_null = True
            elif isinstance(item, dict):
                unknown = set(item) - {"min", "max"}
                if unknown or not item:
                    raise InvalidInputError(f'filter {name}: a range is {{"min", "max"}}')
                low = self._start(item["min"], name) if item.get("min") is not None else None
                high = self._end(item["max"], name) if item.get("max") is not None else None
                if low is not None and high is not None and high <= low:
                    raise InvalidInputError(f"filter {name}: min is above max")
                intervals.append(Interval(low, high, high_open=True))
            else:
                intervals.append(
                    Interval(self._start(item, name), self._end(item, name), high_open=True)
                )
        return Condition(intervals=tuple(intervals), is_null=is_null).on(self.column)

    def _first_day(self, raw: Any, name: str) -> date:
        if self.part == "year":
            year = coerce(raw, "int", name=name)
            if not 1 <= year <= 9998:
                raise InvalidInputError(f"filter {name}: year {year} out of range")
            return date(year, 1, 1)
        text = coerce(raw, "str", name=name)
        try:
            return date.fromisoformat(f"{text}-01")
        except ValueError as exc:
            raise InvalidInputError(f"filter {name}: {text!r} is not YYYY-MM") from exc

    def _start(self, raw: Any, name: str) -> date | datetime:
        return self._typed(self._first_day(raw, name))

    def _end(self, raw: Any, name: str) -> date | datetime:
        first = self._first_day(raw, name)
        if self.part == "year":
            following = date(first.year + 1, 1, 1)
        else:
            following = (first + timedelta(days=32)).replace(day=1)
        return self._typed(following)

    def _typed(self, day: date) -> date | datetime:
        if isinstance(self.column.type, DateTime):
            return datetime(day.year, day.month, day.day)
        return day


@dataclass(frozen=True)
class MjdRule(Rule):
    """MJD derived from a date-time column; values become date-time ranges on the column."""

    column: ColumnElement[Any]
    value_type: ValueType = "float"

    def key_expression(self) -> ColumnElement[Any]:
        return modified_julian_date(self.column)

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, "float", name=name)
        intervals = [
            Interval(_mjd_datetime(v - MJD_TOLERANCE_DAYS), _mjd_datetime(v + MJD_TOLERANCE_DAYS))
            for v in condition.equals
        ]
        intervals.extend(
            Interval(
                None if i.low is None else _mjd_datetime(i.low),
                None if i.high is None else _mjd_datetime(i.high),
            )
            for i in condition.intervals
        )
        return Condition(intervals=tuple(intervals), is_null=condition.is_null).on(self.column)


def _mjd_datetime(mjd: float) -> datetime:
    try:
        return datetime(1858, 11, 17) + timedelta(days=mjd)
    except OverflowError as exc:
        raise InvalidInputError(f"MJD {mjd} out of range") from exc


@dataclass(frozen=True)
class LinkedFileRule(Rule):
    """A property of the data files linked to a process (its inputs, its outputs, or both).

    ``link_tables`` are ``(process_id, data_file_id)`` column pairs; ``file_column`` is a column
    of the data files table, or ``None`` to match the data file id itself.
    """

    main_id: ColumnElement[Any]
    links: tuple[tuple[ColumnElement[Any], ColumnElement[Any]], ...]
    file_id: ColumnElement[Any]
    file_column: ColumnElement[Any] | None
    value_type: ValueType = "str"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, self.value_type, name=name)
        seen = context.visible("data")
        selects: list[Select[Any]] = []
        for process_id, data_file_id in self.links:
            if self.file_column is None:
                linked = select(process_id).where(condition.on(data_file_id))
                if seen is not None:
                    linked = linked.where(data_file_id == self.file_id, seen)
            else:
                linked = select(process_id).where(
                    data_file_id == self.file_id, condition.on(self.file_column)
                )
                if seen is not None:
                    linked = linked.where(seen)
            selects.append(linked)
        return self.main_id.in_(_one_set(selects))


@dataclass(frozen=True)
class RelatedByRule(Rule):
    """The main table's id is in a set related to the processes the value names.

    ``routes`` maps a direction (``producer`` / ``consumer`` / ``any``) to a builder of that
    set from a subquery of the named process ids; the switches named in ``switch_for`` pick
    directions. Only processes the caller can see count as named.
    """

    main_id: ColumnElement[Any]
    routes: Mapping[str, Callable[[ColumnElement[Any]], Select[Any]]]
    process_id: ColumnElement[Any]
    switch_for: Mapping[str, str] = field(default_factory=dict)
    value_type: ValueType = "int"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        condition = parse_condition(raw, self.value_type, name=name)
        named = select(self.process_id).where(condition.on(self.process_id))
        seen = context.visible("process")
        if seen is not None:
            named = named.where(seen)
        ids = named.correlate(None).scalar_subquery()
        chosen = [d for s, d in self.switch_for.items() if s in context.switches]
        directions = chosen or list(self.routes)
        return self.main_id.in_(_one_set([self.routes[d](ids) for d in directions]))


def _one_set(selects: list[Select[Any]]) -> Any:
    """Several id sets as one ``IN`` operand: ``IN (a UNION ALL b)`` lets PostgreSQL semi-join
    through the indexes, where ``IN a OR IN b`` makes it test every row of the main table."""
    if len(selects) == 1:
        return selects[0].scalar_subquery()
    return union_all(*selects).scalar_subquery()


@dataclass(frozen=True)
class ConeRule(Rule):
    """``{"ra": deg, "dec": deg, "radius": deg}``: within ``radius`` of the centre.

    A bounding box on (ra, dec) lets the coordinate index serve the query; the haversine
    distance then decides exactly (numerically stable at small radii; Sinnott 1984).
    ``via`` optionally reaches the coordinates through a foreign key (processes -> targets).
    """

    ra: ColumnElement[Any]
    dec: ColumnElement[Any]
    via: tuple[ColumnElement[Any], ColumnElement[Any]] | None = None
    value_type: ValueType = "float"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        ra0, dec0, radius = _cone_value(raw, name)
        inside = cone_predicate(self.ra, self.dec, ra0=ra0, dec0=dec0, radius=radius)
        if self.via is None:
            return inside
        fk, related_key = self.via
        return fk.in_(select(related_key).where(inside).scalar_subquery())


def _cone_value(raw: Any, name: str) -> tuple[float, float, float]:
    if not isinstance(raw, dict) or set(raw) != {"ra", "dec", "radius"}:
        raise InvalidInputError(f'filter {name}: expected {{"ra": deg, "dec": deg, "radius": deg}}')
    ra = coerce(raw["ra"], "float", name=name) % 360.0
    dec = coerce(raw["dec"], "float", name=name)
    radius = coerce(raw["radius"], "float", name=name)
    if not -90.0 <= dec <= 90.0:
        raise InvalidInputError(f"filter {name}: dec {dec} outside [-90, 90]")
    if not 0.0 < radius <= 180.0:
        raise InvalidInputError(f"filter {name}: radius {radius} outside (0, 180]")
    return ra, dec, radius


def cone_predicate(
    ra: ColumnElement[Any], dec: ColumnElement[Any], *, ra0: float, dec0: float, radius: float
) -> ColumnElement[bool]:
    """Rows of (ra, dec) within ``radius`` degrees of (ra0, dec0), all in degrees."""
    box: list[ColumnElement[bool]] = [dec >= dec0 - radius, dec <= dec0 + radius]
    if abs(dec0) + radius < 90.0:
        # Half-width in RA of the circle's bounding box (exact, not 1/cos(dec) at the centre).
        half = math.degrees(
            math.asin(min(1.0, math.sin(math.radians(radius)) / math.cos(math.radians(dec0))))
        )
        low, high = ra0 - half, ra0 + half
        if low < 0.0:
            box.append(or_(ra >= low + 360.0, ra <= high))
        elif high >= 360.0:
            box.append(or_(ra >= low, ra <= high - 360.0))
        else:
            box.extend([ra >= low, ra <= high])
    d_dec = func.sin(func.radians(dec - dec0) / 2.0)
    d_ra = func.sin(func.radians(ra - ra0) / 2.0)
    haversine = d_dec * d_dec + func.cos(func.radians(dec)) * math.cos(math.radians(dec0)) * (
        d_ra * d_ra
    )
    limit = math.sin(math.radians(radius) / 2.0) ** 2
    return and_(*box, haversine <= limit)


@dataclass(frozen=True)
class AttributeRule(Rule):
    """``{"key": value, ...}``: processes whose free attribute ``key`` matches each value."""

    main_id: ColumnElement[Any]
    owner_id: ColumnElement[Any]
    attribute_key: ColumnElement[Any]
    attribute_value: ColumnElement[Any]

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        if not isinstance(raw, dict) or not raw:
            raise InvalidInputError(f'filter {name}: expected {{"attribute": value, ...}}')
        parts = []
        for key, value in raw.items():
            condition = parse_condition(value, "str", name=f"{name}.{key}")
            matching = select(self.owner_id).where(
                self.attribute_key == key, condition.on(self.attribute_value)
            )
            parts.append(self.main_id.in_(matching.scalar_subquery()))
        return and_(*parts)


@dataclass(frozen=True)
class SwitchRule(Rule):
    """A switch: ``true`` applies ``when_on``; ``false`` applies nothing.

    A switch with no predicate of its own (``when_on`` ``None``) modifies the filter named by
    ``modifies``, which must then be given.
    """

    when_on: ColumnElement[bool] | None = None
    modifies: str | None = None
    value_type: ValueType = "bool"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool] | None:
        return self.when_on if parse_switch(raw, name=name) else None


@dataclass(frozen=True)
class CallerRule(Rule):
    """A switch restricting a column to the caller's user id (FILTER_RESTRICT_USER)."""

    column: ColumnElement[Any]
    value_type: ValueType = "bool"

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool] | None:
        return self.column == context.user_id if parse_switch(raw, name=name) else None
