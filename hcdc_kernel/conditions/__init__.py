"""Observing conditions: AO telemetry (SPARTA) and the site monitor, as time series, and their
statistics over each frame's exposure (see :mod:`.windows` for the window rule)."""

from hcdc_kernel.conditions.exposure import (
    FrameCondition,
    conditions_over,
    exposure_window,
    index_series,
    values_per_frame,
)
from hcdc_kernel.conditions.parameters import (
    PREFERRED_SOURCES,
    UNITS,
    ConditionParameter,
    ConditionSource,
)
from hcdc_kernel.conditions.series import (
    ConditionSeries,
    ReadResult,
    datetime_to_unix,
    unix_to_datetime,
)
from hcdc_kernel.conditions.site_monitor import parse_site_monitor, read_site_monitor
from hcdc_kernel.conditions.sparta import SPARTA_EXTENSIONS, read_sparta
from hcdc_kernel.conditions.table_file import (
    CONDITIONS_CATEGORY,
    CONDITIONS_FILE,
    CONDITIONS_TAG,
    read_conditions_file,
    write_conditions_file,
)
from hcdc_kernel.conditions.windows import DEFAULT_MAX_GAP_S, WindowStats, combine, window_stats

__all__ = [
    "CONDITIONS_CATEGORY",
    "CONDITIONS_FILE",
    "CONDITIONS_TAG",
    "DEFAULT_MAX_GAP_S",
    "PREFERRED_SOURCES",
    "SPARTA_EXTENSIONS",
    "UNITS",
    "ConditionParameter",
    "ConditionSeries",
    "ConditionSource",
    "FrameCondition",
    "ReadResult",
    "WindowStats",
    "combine",
    "conditions_over",
    "datetime_to_unix",
    "exposure_window",
    "index_series",
    "parse_site_monitor",
    "read_conditions_file",
    "read_site_monitor",
    "read_sparta",
    "unix_to_datetime",
    "values_per_frame",
    "window_stats",
    "write_conditions_file",
]
