"""Browse filters on observing conditions (SEEING, TAU0, STREHL, WIND_SPEED, AIRMASS).

A data file's value is its linked conditions (``frame_conditions``: telemetry or site
monitor over its exposure; the inputs' aggregate for a product), else its header's where the
header has one (:data:`~hcdc_server.services.conditions.HEADER_COLUMNS`; airmass). A
process's value is the mean over its inputs of their values, calibrations' headers left out
(the SQL twin of :func:`hcdc_server.services.conditions.aggregate`, whose mean it equals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, case, func, not_, or_, select

from hcdc_kernel.conditions import ConditionParameter
from hcdc_server.schema import tables as t
from hcdc_server.services.browse.rules import Context, Rule
from hcdc_server.services.browse.values import ValueType, parse_condition
from hcdc_server.services.conditions import HEADER_COLUMNS
from hcdc_server.services.conditions.aggregate import HEADER_FALLBACK_CATEGORY

__all__ = ["data_condition_rules", "process_condition_rules"]

D = t.DataFile.__table__.c
FC = t.FrameConditions.__table__.c
PI = t.ProcessInput.__table__.c
P = t.Process.__table__.c

#: Filter name -> (linked column, header column or None).
_FILTERS: Mapping[str, tuple[ColumnElement[Any], ColumnElement[Any] | None]] = {
    "SEEING": (FC.seeing, D[HEADER_COLUMNS[ConditionParameter.SEEING]]),
    "TAU0": (FC.tau0, D[HEADER_COLUMNS[ConditionParameter.TAU0]]),
    "STREHL": (FC.strehl, None),
    "WIND_SPEED": (FC.wind_speed, None),
    "AIRMASS": (FC.airmass, D.airmass),
}


@dataclass(frozen=True)
class ExpressionRule(Rule):
    """A float key computed per item (no join): equality, any-of, ranges, null."""

    expression: ColumnElement[Any]
    value_type: ValueType = "float"

    def key_expression(self) -> ColumnElement[Any]:
        return self.expression

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        return parse_condition(raw, self.value_type, name=name).on(self.expression)


@dataclass(frozen=True)
class InputsMeanRule(ExpressionRule):
    """A process's mean over its inputs; filtered as ``id IN (... GROUP BY ... HAVING)`` so
    that the aggregate is computed once rather than per process."""

    per_input: ColumnElement[Any] | None = None

    def predicate(self, name: str, raw: Any, context: Context) -> ColumnElement[bool]:
        assert self.per_input is not None
        condition = parse_condition(raw, self.value_type, name=name)
        mean = func.avg(self.per_input)
        grouped = _inputs().group_by(PI.process_id)
        parts: list[ColumnElement[bool]] = []
        if condition.equals or condition.intervals or condition.patterns:
            matching = replace(condition, is_null=False).on(mean)
            parts.append(P.id.in_(grouped.having(matching).scalar_subquery()))
        if condition.is_null:
            known = grouped.having(mean.is_not(None))
            parts.append(not_(P.id.in_(known.scalar_subquery())))
        return parts[0] if len(parts) == 1 else or_(*parts)


def _linked(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return (
        select(column)
        .where(FC.data_file_id == D.id)
        .correlate(t.DataFile.__table__)
        .scalar_subquery()
    )


def _inputs() -> Any:
    return select(PI.process_id).select_from(
        t.ProcessInput.__table__.join(t.DataFile.__table__, D.id == PI.data_file_id).outerjoin(
            t.FrameConditions.__table__, FC.data_file_id == D.id
        )
    )


def data_condition_rules() -> dict[str, Rule]:
    """data_list: the file's linked value, else its header's."""
    rules: dict[str, Rule] = {}
    for name, (linked, header) in _FILTERS.items():
        value = _linked(linked)
        rules[name] = ExpressionRule(func.coalesce(value, header) if header is not None else value)
    return rules


def process_condition_rules() -> dict[str, Rule]:
    """process_list: the mean over the inputs (science headers where nothing is linked)."""
    rules: dict[str, Rule] = {}
    for name, (linked, header) in _FILTERS.items():
        per_input: ColumnElement[Any] = linked
        if header is not None:
            science = case((D.category == HEADER_FALLBACK_CATEGORY, header), else_=None)
            per_input = func.coalesce(linked, science)
        mean = (
            _inputs()
            .with_only_columns(func.avg(per_input))
            .where(PI.process_id == P.id)
            .correlate(t.Process.__table__)
            .scalar_subquery()
        )
        rules[name] = InputsMeanRule(mean, per_input=per_input)
    return rules
