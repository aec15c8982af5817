"""SQLAlchemy 2 tables of the hcdc metadata database.

Column names follow the vocabulary of DESIGN.md. Indexes are chosen for the browse API's common
filters (workspace, night, recipe, status, target, coordinates); Alembic migrations under
``alembic/versions`` create exactly this schema (a test runs ``alembic check``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hcdc_kernel.enums import ProcessStatus

# Stable constraint names so that migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT for 10^7+ rows.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(256))
    full_name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="user")  # admin | user | restricted
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Token(Base):
    """An API token: only a salted hash of its secret is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(128))
    # The public part of the token, so lookup needs no scan of hashes.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    salt: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    group_name: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Set by an administrator: the workspace's raw files are released to everyone, those
    #: shared later at the next release (``visibility.release_public_workspaces``).
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    members: Mapped[list[WorkspaceMember]] = relationship(
        back_populates="workspace", cascade="all, delete-orphan"
    )


class WorkspaceMember(Base):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # owner | editor | viewer
    added_at: Mapped[datetime] = mapped_column(DateTime)

    workspace: Mapped[Workspace] = relationship(back_populates="members")


class WorkspaceInvitation(Base):
    """A pending invitation: the invitee becomes a member only when they accept."""

    __tablename__ = "workspace_invitations"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # owner | editor | viewer
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invited_at: Mapped[datetime] = mapped_column(DateTime)


class Target(Base):
    """An astronomical target, resolved through SIMBAD where possible and cached here."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)  # normalised OBJECT name
    main_id: Mapped[str | None] = mapped_column(String(128), index=True)
    ra: Mapped[float | None] = mapped_column(Float)
    dec: Mapped[float | None] = mapped_column(Float)
    sp_type: Mapped[str | None] = mapped_column(String(64))
    simplified_sp_type: Mapped[str | None] = mapped_column(String(8))
    luminosity_class: Mapped[str | None] = mapped_column(String(16))
    mag_g: Mapped[float | None] = mapped_column(Float)
    mag_h: Mapped[float | None] = mapped_column(Float)
    mag_k: Mapped[float | None] = mapped_column(Float)
    parallax_mas: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="header")  # simbad | header
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class Observation(Base):
    """One observation block (OBS ID) of an instrument, with its conditions."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    instrument: Mapped[str | None] = mapped_column(String(32))
    obs_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    obs_name: Mapped[str | None] = mapped_column(String(256))
    prog_id: Mapped[str | None] = mapped_column(String(64), index=True)
    pi_coi: Mapped[str | None] = mapped_column(String(256))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id"), index=True)
    obs_night: Mapped[date | None] = mapped_column(Date, index=True)
    date_start: Mapped[datetime | None] = mapped_column(DateTime)
    derotator_mode: Mapped[str | None] = mapped_column(String(16))
    seeing: Mapped[float | None] = mapped_column(Float)
    tau0: Mapped[float | None] = mapped_column(Float)
    airmass: Mapped[float | None] = mapped_column(Float)


class DataFile(Base):
    """One FITS file with its header-derived columns."""

    __tablename__ = "data_files"
    __table_args__ = (
        Index("ix_data_files_night_type", "obs_night", "frame_type"),
        # Cone searches: the bounding box, the exact distance and the visibility rule are all
        # answered from this index (index-only), sorted by id afterwards.
        Index("ix_data_files_cone", "ra", "dec", "is_public", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    filename: Mapped[str] = mapped_column(String(512), index=True)
    checksum: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    storage: Mapped[str] = mapped_column(String(16), default="reference")  # copy | reference
    frame_type: Mapped[str] = mapped_column(String(64), index=True)
    classification_reason: Mapped[str | None] = mapped_column(Text)
    instrument: Mapped[str | None] = mapped_column(String(32), index=True)
    arm: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32))
    dpr_type: Mapped[str | None] = mapped_column(String(64))
    dpr_tech: Mapped[str | None] = mapped_column(String(64))
    object: Mapped[str | None] = mapped_column(String(128), index=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id"), index=True)
    observation_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"), index=True)
    date_obs: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    mjd_obs: Mapped[float | None] = mapped_column(Float)
    obs_night: Mapped[date | None] = mapped_column(Date)
    ra: Mapped[float | None] = mapped_column(Float)
    dec: Mapped[float | None] = mapped_column(Float)
    instrument_filter: Mapped[str | None] = mapped_column(String(64))
    dit: Mapped[float | None] = mapped_column(Float)
    ndit: Mapped[int | None] = mapped_column(Integer)
    exptime: Mapped[float | None] = mapped_column(Float)
    prog_id: Mapped[str | None] = mapped_column(String(64), index=True)
    obs_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    readout_mode: Mapped[str | None] = mapped_column(String(64))
    derotator_mode: Mapped[str | None] = mapped_column(String(16))
    coronagraph: Mapped[str | None] = mapped_column(String(64))
    airmass: Mapped[float | None] = mapped_column(Float)
    seeing: Mapped[float | None] = mapped_column(Float)
    tau0: Mapped[float | None] = mapped_column(Float)
    naxis1: Mapped[int | None] = mapped_column(Integer)
    naxis2: Mapped[int | None] = mapped_column(Integer)
    naxis3: Mapped[int | None] = mapped_column(Integer)
    # HDUs after the primary, counted once at ingest (never per request: a file can hold many).
    n_extensions: Mapped[int | None] = mapped_column(Integer)
    is_raw: Mapped[bool] = mapped_column(Boolean, default=True)
    is_standard: Mapped[bool] = mapped_column(Boolean, default=False)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    pipeline_version: Mapped[str | None] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)
    ingested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WorkspaceData(Base):
    """A data file belongs to (or is shared with) a workspace."""

    __tablename__ = "workspace_data"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    data_file_id: Mapped[int] = mapped_column(
        ForeignKey("data_files.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Recipe(Base):
    __tablename__ = "recipes"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_recipes_name_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # esorex | python
    instrument: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_validation: Mapped[bool] = mapped_column(Boolean, default=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class RecipePreset(Base):
    __tablename__ = "recipe_presets"
    __table_args__ = (UniqueConstraint("recipe_id", "name", name="uq_recipe_presets_recipe_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipe_id: Mapped[int] = mapped_column(ForeignKey("recipes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_workflows_name_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"))
    workflow_preset: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Process(Base):
    """One run of a recipe on inputs in a workspace."""

    __tablename__ = "processes"
    __table_args__ = (
        Index("ix_processes_workspace_night", "workspace_id", "obs_night"),
        Index("ix_processes_recipe_status", "recipe_id", "status"),
        Index("ix_processes_queue", "status", "priority", "id"),
        Index("ix_processes_user_claimed", "user_id", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    recipe_id: Mapped[int] = mapped_column(ForeignKey("recipes.id"))
    recipe_preset: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(512))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # a ProcessStatus / ValidationStatus (hcdc_kernel.enums), stored as its value
    status: Mapped[str] = mapped_column(String(24), default=ProcessStatus.QUEUED)
    validation_status: Mapped[str | None] = mapped_column(String(24), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    server: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    estimated_duration_s: Mapped[float | None] = mapped_column(Float)
    instrument: Mapped[str | None] = mapped_column(String(32))
    obs_night: Mapped[date | None] = mapped_column(Date, index=True)
    obs_date: Mapped[datetime | None] = mapped_column(DateTime)
    obs_id: Mapped[int | None] = mapped_column(BigInteger)
    prog_id: Mapped[str | None] = mapped_column(String(64), index=True)
    launcher_type: Mapped[str] = mapped_column(String(16), default="user")  # user|workflow|auto
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"))
    workflow_step: Mapped[str | None] = mapped_column(String(128))
    reprocess_of_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"), index=True)
    reprocessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    cache_of_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    executor: Mapped[str | None] = mapped_column(String(16))
    executor_job_id: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    # When a worker last took it from the queue: the queue serves first the users served least
    # recently (fair share).
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    job_dir: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(Text)
    # fatal | transient | timeout | usage: how the last failure was classed (decides retries)
    failure_class: Mapped[str | None] = mapped_column(String(16))


class ProcessDependency(Base):
    """A workflow edge: ``process_id`` waits for ``parent_id``; ``tags`` it takes from it."""

    __tablename__ = "process_dependencies"

    process_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True
    )
    parent_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # SOF tags of the child filled with the parent's products (JSON list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class ProcessInput(Base):
    __tablename__ = "process_inputs"

    process_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True
    )
    data_file_id: Mapped[int] = mapped_column(
        ForeignKey("data_files.id"), primary_key=True, index=True
    )
    sof_tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    association_level: Mapped[int | None] = mapped_column(Integer)
    association_reason: Mapped[str | None] = mapped_column(Text)
    overridden_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ProcessOutput(Base):
    __tablename__ = "process_outputs"

    process_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True
    )
    data_file_id: Mapped[int] = mapped_column(
        ForeignKey("data_files.id"), primary_key=True, index=True
    )
    category: Mapped[str | None] = mapped_column(String(64))


class ProcessAttribute(Base):
    """Free key/value attributes of a process (the seed's EXTENDED_ATTRIBUTE)."""

    __tablename__ = "process_attributes"

    process_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)


class ValidationEvent(Base):
    __tablename__ = "validation_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    process_id: Mapped[int] = mapped_column(
        ForeignKey("processes.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)


class ConditionImport(Base):
    """One file of conditions read into ``condition_samples``: a SPARTA data file or a
    site-monitor table, with what could not be read from it."""

    __tablename__ = "condition_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # a ConditionSource
    name: Mapped[str] = mapped_column(String(512))
    checksum: Mapped[str] = mapped_column(String(64), unique=True)
    data_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_files.id", ondelete="CASCADE"), index=True
    )
    time_start: Mapped[datetime | None] = mapped_column(DateTime)
    time_end: Mapped[datetime | None] = mapped_column(DateTime)
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class ConditionSample(Base):
    """One sample of one condition parameter (long format: sources sample at their own times)."""

    __tablename__ = "condition_samples"
    __table_args__ = (Index("ix_condition_samples_parameter_at", "parameter", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("condition_imports.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))  # a ConditionSource
    parameter: Mapped[str] = mapped_column(String(16))  # a ConditionParameter
    at: Mapped[datetime] = mapped_column(DateTime)
    value: Mapped[float] = mapped_column(Float)


class FrameConditions(Base):
    """The conditions of a data file over its exposure (raw science frames), or the aggregate
    of its producing process's inputs (products): mean and spread per parameter.

    ``details`` holds, per parameter, the source, sample count, extremes and whether the value
    was interpolated (no sample inside the window).
    """

    __tablename__ = "frame_conditions"

    data_file_id: Mapped[int] = mapped_column(
        ForeignKey("data_files.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime | None] = mapped_column(DateTime)
    window_end: Mapped[datetime | None] = mapped_column(DateTime)
    seeing: Mapped[float | None] = mapped_column(Float, index=True)
    seeing_std: Mapped[float | None] = mapped_column(Float)
    tau0: Mapped[float | None] = mapped_column(Float, index=True)
    tau0_std: Mapped[float | None] = mapped_column(Float)
    strehl: Mapped[float | None] = mapped_column(Float, index=True)
    strehl_std: Mapped[float | None] = mapped_column(Float)
    wind_speed: Mapped[float | None] = mapped_column(Float)
    wind_speed_std: Mapped[float | None] = mapped_column(Float)
    r0: Mapped[float | None] = mapped_column(Float)
    r0_std: Mapped[float | None] = mapped_column(Float)
    humidity: Mapped[float | None] = mapped_column(Float)
    humidity_std: Mapped[float | None] = mapped_column(Float)
    wfs_flux: Mapped[float | None] = mapped_column(Float)
    wfs_flux_std: Mapped[float | None] = mapped_column(Float)
    dtts_flux: Mapped[float | None] = mapped_column(Float)
    dtts_flux_std: Mapped[float | None] = mapped_column(Float)
    dtts_x: Mapped[float | None] = mapped_column(Float)
    dtts_x_std: Mapped[float | None] = mapped_column(Float)
    dtts_y: Mapped[float | None] = mapped_column(Float)
    dtts_y_std: Mapped[float | None] = mapped_column(Float)
    # Airmass is not in the telemetry: the header's for raw frames, the inputs' for products.
    airmass: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    linked_at: Mapped[datetime] = mapped_column(DateTime)
