"""The conditions of a process as the API gives them (a panel's worth of data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ConditionValue(BaseModel):
    """One parameter over a window or a set of frames."""

    model_config = ConfigDict(frozen=True)

    mean: float
    std: float | None = Field(description="Spread (standard deviation); null for one value.")
    n: int = Field(description="Samples the value is made of (0: interpolated).")
    minimum: float
    maximum: float
    interpolated: bool = False
    source: str = Field(description="sparta, site (MASS-DIMM, meteo) or header.")


class ExposureConditions(BaseModel):
    """One science exposure among the process's inputs (or their provenance)."""

    model_config = ConfigDict(frozen=True)

    window_start: datetime | None
    window_end: datetime | None
    values: dict[str, ConditionValue]
    airmass: float | None = None


class ConditionSeriesOut(BaseModel):
    """A stored time series over the process's time span."""

    model_config = ConfigDict(frozen=True)

    parameter: str
    source: str
    unit: str
    times: list[datetime]
    values: list[float]


class ProcessConditions(BaseModel):
    """``GET /api/processes/{id}/conditions``."""

    model_config = ConfigDict(frozen=True)

    process_id: int
    aggregate: dict[str, ConditionValue] = Field(
        description="Mean of the inputs' values with the pooled spread, per parameter."
    )
    airmass: float | None = None
    exposures: list[ExposureConditions] = Field(
        description="The science exposures the process comes from, in time order."
    )
    series: list[ConditionSeriesOut]
