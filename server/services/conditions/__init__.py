"""Observing conditions in the database: imports, per-frame linking, process aggregates."""

from hcdc_server.services.conditions.aggregate import HEADER_COLUMNS, InputsConditions, aggregate
from hcdc_server.services.conditions.service import (
    ConditionsService,
    ImportReport,
    conditions_for_process,
    inherit_outputs,
)

__all__ = [
    "HEADER_COLUMNS",
    "ConditionsService",
    "ImportReport",
    "InputsConditions",
    "aggregate",
    "conditions_for_process",
    "inherit_outputs",
]
