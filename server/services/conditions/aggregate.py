"""The conditions of a set of data files (a process's inputs), and the header fallback.

One rule for every place that reads a frame's conditions: the telemetry or site-monitor value
when linked, else, for seeing and tau0 of science exposures, the header's (``TEL AMBI FWHM``,
``TEL AMBI TAU0``). The browse filters build the same rule in SQL from :data:`HEADER_COLUMNS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hcdc_kernel.conditions import (
    ConditionParameter,
    ConditionSource,
    FrameCondition,
    WindowStats,
    combine,
)
from hcdc_server.schema.tables import DataFile, FrameConditions
from hcdc_server.storage.conditions import stats_of

__all__ = ["HEADER_COLUMNS", "HEADER_FALLBACK_CATEGORY", "InputsConditions", "aggregate"]

#: Parameters a science frame's header gives when nothing was linked (DataFile attribute).
HEADER_COLUMNS: Mapping[ConditionParameter, str] = {
    ConditionParameter.SEEING: "seeing",
    ConditionParameter.TAU0: "tau0",
}
#: Only exposures of the sky take the header's conditions (a dark's are meaningless).
HEADER_FALLBACK_CATEGORY = "SCIENCE"


@dataclass(frozen=True)
class InputsConditions:
    """The aggregate over a set of files: per parameter, airmass and the time span."""

    parameters: dict[ConditionParameter, FrameCondition]
    airmass: WindowStats | None
    window: tuple[datetime, datetime] | None
    n_files: int


def _file_conditions(
    row: DataFile, linked: FrameConditions | None
) -> dict[ConditionParameter, tuple[WindowStats, ConditionSource]]:
    found = {
        parameter: (stats, ConditionSource(source or ConditionSource.HEADER))
        for parameter, (stats, source) in (stats_of(linked).items() if linked else ())
    }
    if row.category == HEADER_FALLBACK_CATEGORY:
        for parameter, column in HEADER_COLUMNS.items():
            value = getattr(row, column)
            if parameter not in found and value is not None:
                found[parameter] = (
                    WindowStats(value, None, 1, value, value),
                    ConditionSource.HEADER,
                )
    return found


def aggregate(files: Sequence[DataFile], linked: Mapping[int, FrameConditions]) -> InputsConditions:
    """Conditions of ``files`` together: :func:`hcdc_kernel.conditions.combine` per parameter
    (mean of the files' means, pooled spread), the source most of them had."""
    per_parameter: dict[ConditionParameter, list[tuple[WindowStats, ConditionSource]]] = {}
    airmasses: list[WindowStats | None] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    counted = 0
    for row in files:
        conditions = linked.get(row.id)
        found = _file_conditions(row, conditions)
        airmass = conditions.airmass if conditions is not None else None
        if airmass is None and row.category == HEADER_FALLBACK_CATEGORY:
            airmass = row.airmass
        if not found and airmass is None:
            continue
        counted += 1
        for parameter, item in found.items():
            per_parameter.setdefault(parameter, []).append(item)
        if airmass is not None:
            airmasses.append(WindowStats(airmass, None, 1, airmass, airmass))
        if conditions is not None and conditions.window_start and conditions.window_end:
            starts.append(conditions.window_start)
            ends.append(conditions.window_end)
    parameters: dict[ConditionParameter, FrameCondition] = {}
    for parameter, items in per_parameter.items():
        stats = combine([s for s, _ in items])
        if stats is None:
            continue
        source = Counter(source for _, source in items).most_common(1)[0][0]
        parameters[parameter] = FrameCondition(parameter, source, stats)
    return InputsConditions(
        parameters=parameters,
        airmass=combine(airmasses),
        window=(min(starts), max(ends)) if starts else None,
        n_files=counted,
    )
