"""Pydantic models of the detail resources: a process (the seed's Info panel) and a data file."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hcdc_server.models.fields import UtcDatetime
from hcdc_server.models.users import InvitationModel, MemberRole, UserModel


class LinkedFile(BaseModel):
    """A data file used or produced by a process (the Info panel's Raw Inputs columns)."""

    model_config = ConfigDict(frozen=True)

    data_file_id: int
    file_name: str
    frame_type: str
    ra: float | None
    dec: float | None
    size: int
    obs_night: date | None
    sof_tag: str | None = Field(default=None, description="SOF tag (inputs).")
    category: str | None = Field(default=None, description="Product category (outputs).")


class ValidationEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: UtcDatetime
    user: str | None
    from_status: str | None
    to_status: str
    comment: str | None


class ProcessDetail(BaseModel):
    """Every field of the seed's process Info panel, and its inputs and outputs."""

    model_config = ConfigDict(frozen=True)

    id: int
    batch_id: int | None
    batch_name: str | None
    reference: str | None
    status: str
    validation_status: str | None
    created_at: UtcDatetime
    start: UtcDatetime | None
    end: UtcDatetime | None
    duration_s: float | None = Field(description="End minus start, when both are known.")
    estimated_duration_s: float | None
    faster_by_s: float | None = Field(
        description="Estimated minus actual duration (negative: slower than estimated)."
    )
    progress: float
    server: str | None
    obs_night: date | None
    obs_date: UtcDatetime | None
    obs_id: int | None
    prog_id: str | None
    instrument: str | None
    recipe_id: int
    recipe_name: str
    pipeline_version: str
    recipe_preset: str | None
    params: dict[str, Any]
    user: str
    user_email: str | None
    workspace: str | None
    target_name: str | None
    launcher_type: str
    workflow: str | None
    workflow_step: str | None
    reprocess_of_id: int | None
    reprocessed_by_id: int | None
    cache_of_id: int | None = Field(
        default=None, description="A cache hit: the process whose result this one reused."
    )
    error: str | None
    attributes: dict[str, str | None]
    inputs: list[LinkedFile]
    outputs: list[LinkedFile]
    hidden_inputs: int = Field(description="Inputs the caller may not see (not listed).")
    hidden_outputs: int = Field(description="Outputs the caller may not see (not listed).")
    validation_history: list[ValidationEntry]


class DataDetail(BaseModel):
    """A data file: the seed's data detail columns first, then every stored column."""

    model_config = ConfigDict(frozen=True)

    id: int
    file_name: str
    size: int
    frame_type: str
    date_obs: UtcDatetime | None
    ra: float | None
    dec: float | None
    instrument_filter: str | None
    exptime: float | None
    prog_id: str | None
    extension_count: int | None = Field(
        description="HDUs in the file (primary included), counted at ingest; null for files "
        "ingested before hcdc stored the count."
    )
    category: str | None = Field(description="The seed's Type (SCIENCE, CALIB, ...).")
    is_raw: bool
    is_standard: bool
    status: str
    instrument: str | None
    arm: str | None
    dpr_type: str | None
    dpr_tech: str | None
    object: str | None
    target_name: str | None
    target_identifier: str | None
    obs_night: date | None
    mjd_obs: float | None
    dit: float | None
    ndit: int | None
    obs_id: int | None
    readout_mode: str | None
    derotator_mode: str | None
    coronagraph: str | None
    airmass: float | None
    seeing: float | None
    tau0: float | None
    naxis1: int | None
    naxis2: int | None
    naxis3: int | None
    is_public: bool
    pipeline_version: str | None
    checksum: str
    ingested_at: UtcDatetime
    workspaces: list[str] = Field(description="Workspaces holding the file that the caller sees.")
    produced_by: list[int] = Field(description="Visible processes that produced the file.")
    consumed_by: list[int] = Field(description="Visible processes that took the file as input.")


class DataHeader(BaseModel):
    """The primary FITS header of a data file, keyword -> value (astropy keyword names)."""

    model_config = ConfigDict(frozen=True)

    id: int
    file_name: str
    header: dict[str, Any]


class MyWorkspace(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    role: MemberRole


class Me(BaseModel):
    """The caller, the workspaces they belong to and the invitations waiting for them."""

    model_config = ConfigDict(frozen=True)

    user: UserModel
    workspaces: list[MyWorkspace]
    invitations: list[InvitationModel] = Field(default_factory=list)


#: An extended attribute's key: what the EXTENDED_ATTRIBUTE browse filter names.
AttributeKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$"),
]


class AttributeValue(BaseModel):
    """Body of ``PUT /api/processes/{id}/attributes/{key}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Annotated[str, StringConstraints(max_length=4096, pattern=r"^[^\x00]*$")] | None = Field(
        description="The attribute's value, up to 4096 characters (null: set, with no value)."
    )


class ProcessAttributes(BaseModel):
    """A process's extended attributes after a change."""

    model_config = ConfigDict(frozen=True)

    process_id: int
    attributes: dict[str, str | None]
