"""Pydantic models of recipes, launches, processes, association previews and validation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from hcdc_kernel.enums import VERDICTS, ProcessStatus, ValidationStatus
from hcdc_server.models.fields import Id, UtcDatetime


def _verdict(value: ValidationStatus) -> ValidationStatus:
    if value not in VERDICTS:
        allowed = ", ".join(VERDICTS)
        raise ValueError(f"{value} is set by hcdc, not given: use one of {allowed}")
    return value


#: The labels a reviewer may give (:data:`hcdc_kernel.enums.VERDICTS`).
ValidationVerdict = Annotated[
    ValidationStatus,
    AfterValidator(_verdict),
    WithJsonSchema({"type": "string", "enum": [v.value for v in VERDICTS]}),
]


class RecipeModel(BaseModel):
    """A recipe version as ``GET /api/recipes`` lists it; ``params_schema`` is JSON Schema."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    version: str
    kind: str
    instrument: str | None
    description: str | None
    is_hidden: bool
    is_current: bool
    needs_validation: bool
    available: bool
    unavailable_reason: str | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    presets: dict[str, dict[str, Any]]
    params_schema: dict[str, Any]


class InputRef(BaseModel):
    """An input of a launch: a data file and, optionally, its SOF tag (else from its type)."""

    data_file_id: Id
    tag: str | None = Field(default=None, max_length=64)


class LaunchRequest(BaseModel):
    """``POST /api/processes``: explicit ``inputs``, or a ``selection`` to associate."""

    recipe: str = Field(description="Recipe name.")
    version: str | None = Field(default=None, description="Recipe version (default: current).")
    preset: str | None = Field(default=None, description="Named parameter set.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameter values.")
    inputs: list[InputRef] | None = Field(
        default=None, description="Inputs of one process, given by hand."
    )
    selection: list[Id] | None = Field(
        default=None,
        description="Data file ids: primary frames are grouped into runs and calibrations "
        "associated by the recipe's rules (one process per group).",
    )
    overrides: dict[str, list[Id]] = Field(
        default_factory=dict,
        description="Per SOF tag, data files chosen by the user instead of the association.",
    )
    workspace: str | None = None
    reference: str | None = Field(default=None, max_length=512)
    batch_name: str | None = Field(default=None, max_length=256)
    priority: int = Field(
        default=0,
        ge=-1000,
        le=1000,
        description="Higher runs first. Users who are not administrators choose within the "
        "site's range (default 0 to 10; 400 outside it).",
    )
    force: bool = Field(default=False, description="Run even when a cached result exists.")


class ProcessInputModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    data_file_id: int
    sof_tag: str
    association_level: int | None = None
    association_reason: str | None = None
    overridden_by: int | None = None


class ProcessModel(BaseModel):
    """A process as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: int
    batch_id: int | None
    recipe_name: str
    recipe_version: str
    recipe_preset: str | None
    user_id: int
    workspace_id: int | None
    reference: str | None
    params: dict[str, Any]
    status: ProcessStatus
    validation_status: ValidationStatus | None
    progress: float
    server: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    ended_at: UtcDatetime | None
    estimated_duration_s: float | None
    instrument: str | None
    obs_night: date | None
    launcher_type: str
    workflow_id: int | None
    workflow_step: str | None
    reprocess_of_id: int | None
    reprocessed_by_id: int | None
    cache_of_id: int | None
    executor: str | None
    executor_job_id: str | None
    attempt: int
    job_dir: str | None
    error: str | None
    failure_class: str | None
    inputs: list[ProcessInputModel] = Field(default_factory=list)
    outputs: list[int] = Field(default_factory=list)


class LaunchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_id: int
    processes: list[ProcessModel]


class SlotPreview(BaseModel):
    model_config = ConfigDict(frozen=True)

    tag: str
    data_file_ids: list[int]
    level: int | None
    reason: str
    required: bool
    overridden: bool = False


class AssociationPreview(BaseModel):
    """Inputs one process would get: primary frames and each calibration slot's match."""

    model_config = ConfigDict(frozen=True)

    recipe: str
    version: str
    primary_tag: str | None
    primary_ids: list[int]
    slots: list[SlotPreview]
    complete: bool
    missing: list[str]


class ValidationRequest(BaseModel):
    status: ValidationVerdict
    comment: str | None = None


class ValidationEventModel(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    process_id: int
    user_id: int | None
    at: UtcDatetime
    from_status: str | None
    to_status: str
    comment: str | None


class ReprocessRequest(BaseModel):
    params: dict[str, Any] | None = None
    version: str | None = Field(default=None, description="Recipe version (default: the same).")


class WorkflowLaunchRequest(BaseModel):
    """``POST /api/workflows/{name}/launch`` on a selection of data files."""

    selection: list[Id]
    version: str | None = None
    preset: str | None = Field(
        default=None,
        max_length=128,
        description="Workflow preset: every step whose recipe has a preset of this name (and "
        "that names none of its own) runs with it; recorded on the batch (WORKFLOW_PRESET).",
    )
    workspace: str | None = None
    reference: str | None = Field(default=None, max_length=512)
    force: bool = False


class WorkflowModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    version: str
    is_current: bool
    spec: dict[str, Any]
