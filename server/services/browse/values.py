"""Filter values of the browse API: scalar, list (any of), ``{"min", "max"}`` (inclusive), null.

A value is parsed into a :class:`Condition` once, with the filter's value type; SQL is then built
from the condition with the values as bound parameters only. A string containing ``*`` is a
wildcard (matched case-insensitively, as astroquery-style services do); every other string is
compared exactly. :class:`FilterLimits` bounds what one filter may ask for before any of that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, literal, or_

from hcdc_server.exceptions import InvalidInputError

ValueType = Literal["int", "float", "str", "bool", "date", "datetime"]

_RANGE_KEYS = frozenset({"min", "max"})
_INT_TEXT = re.compile(r"^[+-]?\d{1,19}$")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class FilterLimits:
    """What one filter value may hold (settings ``browse_max_*``).

    Each wildcard pattern is a LIKE over every candidate row and each value a bound parameter,
    so both are bounded per filter: a body of hundreds of patterns would otherwise run for
    minutes, or build SQL deeper than SQLite parses.
    """

    max_values: int
    max_patterns: int
    max_length: int

    def check(self, name: str, raw: Any) -> None:
        """Count the scalars of ``raw`` (lists and objects walked) against the limits; 400."""
        values = patterns = 0
        stack = [raw]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
                continue
            if isinstance(item, dict):
                stack.extend(item.values())
                texts = [key for key in item if isinstance(key, str)]
            else:
                values += 1
                texts = [item] if isinstance(item, str) else []
                patterns += sum("*" in text for text in texts)
            for text in texts:
                if len(text) > self.max_length:
                    raise InvalidInputError(
                        f"filter {name}: a value of {len(text)} characters, at most "
                        f"{self.max_length}"
                    )
        if patterns > self.max_patterns:
            raise InvalidInputError(
                f"filter {name}: {patterns} wildcard patterns, at most {self.max_patterns} "
                "per filter"
            )
        if values > self.max_values:
            raise InvalidInputError(
                f"filter {name}: {values} values, at most {self.max_values} per filter"
            )


@dataclass(frozen=True)
class Interval:
    """``low <= x`` and ``x <= high`` (or ``x < high`` when ``high_open``); ``None``: unbounded."""

    low: Any = None
    high: Any = None
    high_open: bool = False


@dataclass(frozen=True)
class Condition:
    """A parsed filter value: the item matches if any of its parts matches."""

    equals: tuple[Any, ...] = ()
    patterns: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()
    is_null: bool = False

    def on(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """The SQL predicate of this condition on ``column`` (values bound, never inlined)."""
        parts: list[ColumnElement[bool]] = []
        if len(self.equals) == 1:
            parts.append(column == literal(self.equals[0], column.type))
        elif self.equals:
            parts.append(column.in_(self.equals))
        parts.extend(column.ilike(pattern, escape="\\") for pattern in self.patterns)
        for interval in self.intervals:
            bounds: list[ColumnElement[bool]] = []
            if interval.low is not None:
                bounds.append(column >= literal(interval.low, column.type))
            if interval.high is not None:
                high = literal(interval.high, column.type)
                bounds.append(column < high if interval.high_open else column <= high)
            parts.append(and_(*bounds) if bounds else column.is_not(None))
        if self.is_null:
            parts.append(column.is_(None))
        if not parts:
            return false()
        return parts[0] if len(parts) == 1 else or_(*parts)


def is_int_text(value: Any) -> bool:
    """Whether ``value`` is an integer or a string spelling one (``"12"``)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and bool(_INT_TEXT.match(value.strip()))
    )


def wildcard_to_like(text: str) -> str:
    """``HD 10*`` -> ``HD 10%`` with LIKE's own metacharacters escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def coerce(value: Any, value_type: ValueType, *, name: str) -> Any:
    """One scalar of ``value_type`` from JSON, or a 400 naming the filter."""
    try:
        return _COERCERS[value_type](value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInputError(
            f"filter {name}: {value!r} is not a valid {value_type} ({exc})"
        ) from exc


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and _INT_TEXT.match(value.strip())
    ):
        value = int(value)
    if not isinstance(value, int):
        raise ValueError("expected an integer")
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError("outside the 64-bit integer range")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | float | str):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    raise TypeError("expected a number")


def _str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("expected a string")
    text = str(value)
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    return text


#: What a switch or a boolean filter accepts: JSON booleans, 1/0 and their strings.
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    raise TypeError('expected true or false (also 1/0, "true"/"false")')


def parse_switch(raw: Any, *, name: str) -> bool:
    """A switch's value: ``true``/``false``, ``1``/``0`` or those as strings; 400 otherwise."""
    try:
        return _bool(raw)
    except TypeError as exc:
        raise InvalidInputError(
            f'switch {name}: expected true or false (or 1/0, "true"/"false"), got {raw!r}'
        ) from exc


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise TypeError("expected an ISO date YYYY-MM-DD")
    return date.fromisoformat(value.strip())


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("expected an ISO date or date-time")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        # Stored timestamps are naive UTC.
        parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)  # type: ignore[operator]
    return parsed


_COERCERS: dict[ValueType, Callable[[Any], Any]] = {
    "int": _int,
    "float": _float,
    "str": _str,
    "bool": _bool,
    "date": _date,
    "datetime": _datetime,
}


def _is_date_only(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) == 10


def parse_condition(raw: Any, value_type: ValueType, *, name: str) -> Condition:
    """Parse one filter value (scalar, list, ``{"min", "max"}`` or null) into a Condition.

    On a date-time column a date alone stands for the whole day: ``"2020-03-20"`` matches every
    time of that day, and as ``max`` it includes that day.
    """
    if raw is None:
        return Condition(is_null=True)
    if isinstance(raw, dict):
        return Condition(intervals=(_interval(raw, value_type, name=name),))
    items: Sequence[Any] = raw if isinstance(raw, list) else [raw]
    if isinstance(raw, list) and not raw:
        raise InvalidInputError(f"filter {name}: an empty list matches nothing; omit it")
    equals: list[Any] = []
    patterns: list[str] = []
    intervals: list[Interval] = []
    is_null = False
    for item in items:
        if item is None:
            is_null = True
        elif isinstance(item, dict | list):
            raise InvalidInputError(
                f"filter {name}: a list holds scalars only, not {type(item).__name__}"
            )
        elif value_type == "str" and isinstance(item, str) and "*" in item:
            patterns.append(wildcard_to_like(coerce(item, "str", name=name)))
        elif value_type == "datetime" and _is_date_only(item):
            day = datetime.combine(coerce(item, "date", name=name), time())
            intervals.append(Interval(day, day + timedelta(days=1), high_open=True))
        else:
            equals.append(coerce(item, value_type, name=name))
    return Condition(
        equals=tuple(dict.fromkeys(equals)),
        patterns=tuple(patterns),
        intervals=tuple(intervals),
        is_null=is_null,
    )


def _interval(raw: dict[str, Any], value_type: ValueType, *, name: str) -> Interval:
    unknown = set(raw) - _RANGE_KEYS
    if unknown or not raw:
        raise InvalidInputError(
            f'filter {name}: a range is {{"min": a, "max": b}} (one or both), '
            f"got keys {sorted(raw)}"
        )
    if value_type == "bool":
        raise InvalidInputError(f"filter {name}: a boolean filter takes no range")
    low = raw.get("min")
    high = raw.get("max")
    high_open = False
    if value_type == "datetime" and _is_date_only(high):
        high = datetime.combine(coerce(high, "date", name=name), time()) + timedelta(days=1)
        high_open = True
    elif high is not None:
        high = coerce(high, value_type, name=name)
    if value_type == "datetime" and _is_date_only(low):
        low = datetime.combine(coerce(low, "date", name=name), time())
    elif low is not None:
        low = coerce(low, value_type, name=name)
    if low is not None and high is not None and (high < low or (high_open and high == low)):
        raise InvalidInputError(f"filter {name}: min {raw['min']!r} is above max {raw['max']!r}")
    return Interval(low, high, high_open)
