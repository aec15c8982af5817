"""hcdc settings: environment variables ``HCDC_*`` and an optional TOML file."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hcdc_server.dispatch.settings import SlurmSettings, WorkerSettings
from hcdc_server.exceptions import SettingsError


class QuotaSettings(BaseModel):
    """What one user may queue and run, and at which priority (``HCDC_QUOTAS__<NAME>``).

    Administrators are not limited by the per-user limits or the priority range; the run-time
    limits bind every job.
    """

    model_config = ConfigDict(extra="forbid")

    max_queued_per_user: int = Field(
        default=200,
        ge=0,
        title="Queued processes per user",
        description="Most processes one user may have queued; a launch beyond it gets HTTP 429.",
    )
    max_running_per_user: int = Field(
        default=50,
        ge=1,
        title="Running processes per user",
        description="Most processes of one user that the workers run at once; the rest wait.",
    )
    min_priority: int = Field(
        default=0,
        title="Lowest priority",
        description="Lowest launch priority a user who is not an administrator may ask for.",
    )
    max_priority: int = Field(
        default=10,
        title="Highest priority",
        description="Highest launch priority a user who is not an administrator may ask for "
        "(HTTP 400 naming the range beyond it).",
    )
    max_run_time_s: float = Field(
        default=86400.0,
        gt=0,
        title="Longest run (s)",
        description="Ceiling on every job's time limit, whatever its recipe asks; a job that "
        "runs longer ends as a timeout.",
    )
    run_time_s: dict[str, float] = Field(
        default_factory=dict,
        title="Run time per recipe (s)",
        description="Time limit by recipe name, instead of the recipe's own "
        "(`default_timeout_s`); still capped by the longest run.",
    )


class Settings(BaseSettings):
    """Every setting of the hcdc service, worker and CLI."""

    model_config = SettingsConfigDict(env_prefix="HCDC_", extra="ignore", env_nested_delimiter="__")

    data_dir: Path = Field(
        default=Path("./hcdc-data"),
        title="Data directory",
        description="Root of hcdc's files: SQLite database, copied raw data, job directories.",
    )
    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description="SQLAlchemy URL; default is a SQLite file `hcdc.sqlite` in the data directory.",
    )
    executor: Literal["local", "slurm"] = Field(
        default="local", title="Executor", description="Where recipes run: `local` or `slurm`."
    )
    data_roots: list[Path] = Field(
        default_factory=list,
        title="Extra data roots",
        description="Folders besides the data directory from which files may be referenced.",
    )
    ingest_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        title="Ingest workers",
        description="Processes that read headers and checksums in parallel during large ingests.",
    )
    ingest_batch_size: int = Field(
        default=1000,
        ge=1,
        title="Ingest batch size",
        description="Files stored per transaction; an interrupted ingest redoes at most one batch.",
    )
    token_days: int = Field(
        default=365, title="Token lifetime (days)", description="Default lifetime of new tokens."
    )
    max_upload_bytes: int = Field(
        default=1 << 30,
        ge=1,
        title="Largest upload (bytes)",
        description="Largest FITS file accepted by `POST /api/data` (larger ones get HTTP 413).",
    )
    max_extensions: int = Field(
        default=1000,
        ge=0,
        title="Extensions per file",
        description="Most extensions (HDUs after the primary) a FITS file may have; ingest "
        "rejects a file with more, the upload route answers 413.",
    )
    max_decompressed_bytes: int = Field(
        default=4 << 30,
        ge=1,
        title="Data per file, decompressed (bytes)",
        description="Most data a FITS file may hold once its tile-compressed images are "
        "decompressed (from the headers: ZNAXISn/ZBITPIX, NAXISn/BITPIX); ingest rejects a file "
        "with more, the upload route answers 413.",
    )
    max_page_rows: int = Field(
        default=1000,
        ge=1,
        title="Rows per browse answer",
        description="Most items, values or groups one `process_list`/`data_list` answer holds "
        "(`limit: -1` included); more is refused with HTTP 400 pointing to the `/export` routes, "
        "which stream every row.",
    )
    browse_max_values: int = Field(
        default=100,
        ge=1,
        title="Values per browse filter",
        description="Most values one browse filter may hold (a list's items, range bounds, "
        "attribute values); more is refused with HTTP 400 naming the filter.",
    )
    browse_max_patterns: int = Field(
        default=20,
        ge=0,
        title="Wildcard patterns per browse filter",
        description="Most wildcard (`*`) values one browse filter may hold (each is a LIKE "
        "scan); more is refused with HTTP 400 naming the filter.",
    )
    browse_max_value_length: int = Field(
        default=1024,
        ge=1,
        title="Length of a browse filter value",
        description="Most characters in one browse filter value; longer is refused with HTTP "
        "400 naming the filter.",
    )
    statement_timeout_s: float = Field(
        default=30.0,
        ge=0,
        title="Statement timeout (s)",
        description="Longest a single database statement may run (PostgreSQL `statement_timeout`,"
        " a progress handler on SQLite); the API answers HTTP 503 past it. 0: no limit.",
    )
    api_workers: int = Field(
        default=0,
        ge=0,
        title="API worker processes",
        description="Processes `hcdc serve` (and the service of `hcdc up`) runs, all on one "
        "port; 0: one per CPU core, at most 8. Each has its own bounded connection pool.",
    )
    api_threads: int = Field(
        default=16,
        ge=1,
        title="Request threads per API worker",
        description="Requests one API worker process runs at once against the database; the "
        "others wait their turn. Each holds a connection: keep it at most `db_pool_size` + "
        "`db_max_overflow`.",
    )
    db_pool_size: int = Field(
        default=12,
        ge=1,
        title="Database connections kept per process",
        description="Connections each process keeps open to PostgreSQL (with `db_max_overflow` "
        "more while busy): size `api_workers` x (both) below the server's `max_connections`.",
    )
    db_max_overflow: int = Field(
        default=4,
        ge=0,
        title="Extra database connections per process",
        description="Connections a busy process may open beyond `db_pool_size`, closed again "
        "when idle.",
    )
    cache_s: float = Field(
        default=5.0,
        ge=0,
        title="In-process cache (s)",
        description="Seconds an API worker reuses a checked token with its user's workspaces, "
        "a recipe's spec and a recipe's run-time history without asking the database. A "
        "revocation, a change of role, membership or recipe takes effect on the next request "
        "anyway (change stamps in the data directory). 0: off.",
    )
    shared_dir: Path | None = Field(
        default=None,
        title="Shared data directory",
        description="Folder holding `data/naco_betapic` for the demo; default: `../shared` "
        "beside the hcdc checkout or the working directory, when present.",
    )
    simbad_tap_url: str = Field(
        default="https://simbad.cds.unistra.fr/simbad/sim-tap",
        title="SIMBAD TAP URL",
        description="TAP service used to resolve target names.",
    )
    simbad_timeout_s: float = Field(
        default=5.0, title="SIMBAD timeout (s)", description="Network timeout of SIMBAD queries."
    )
    eso_ambient_url: str = Field(
        default="https://archive.eso.org/wdb/wdb/asm/mass_paranal/query",
        title="ESO ambient archive",
        description="Site-monitor query form `hcdc conditions fetch` asks (CSV answers).",
    )
    eso_ambient_timeout_s: float = Field(
        default=10.0,
        title="ESO ambient timeout (s)",
        description="Network timeout of the ambient archive's queries.",
    )
    resolve_targets: bool = Field(
        default=True,
        title="Resolve targets",
        description="Query SIMBAD for new targets during ingest (offline degrades to headers).",
    )
    root_path: str = Field(
        default="",
        title="URL prefix",
        description="Path prefix the service is reached under behind a proxy, e.g. "
        "`/services/hcdc/` behind JupyterHub; requests without it are served too.",
    )
    hub_ip: str = Field(
        default="127.0.0.1",
        title="Hub address",
        description="Address the JupyterHub proxy listens on (`0.0.0.0`: every interface).",
    )
    hub_port: int = Field(
        default=8000, title="Hub port", description="Public port of the JupyterHub proxy."
    )
    hub_api_port: int = Field(
        default=8081, title="Hub API port", description="Internal port of the JupyterHub process."
    )
    proxy_api_port: int = Field(
        default=8001, title="Proxy API port", description="REST port of configurable-http-proxy."
    )
    hub_service_port: int = Field(
        default=8082,
        title="Service port under the hub",
        description="Loopback port of the hcdc service that JupyterHub runs as `/services/hcdc/`.",
    )
    hub_public_url: str | None = Field(
        default=None,
        title="Hub public URL",
        description="URL users reach the hub at, e.g. `https://hcdc.example.org` behind TLS; "
        "default `http://<hub address>:<hub port>`.",
    )
    hub_api_token: SecretStr | None = Field(
        default=None,
        title="Hub service token",
        description="Secret shared by JupyterHub and the hcdc service (the service's hub API "
        "token); default: generated once into `<data dir>/hub/service-token`.",
    )
    hub_create_users: bool = Field(
        default=False,
        title="Create users at spawn",
        description="Create an hcdc user for a hub user who has none when their server starts "
        "(for sites whose authenticator is not hcdc's, e.g. OAuth or LDAP).",
    )
    hub_idle_timeout_s: int = Field(
        default=3600,
        title="Idle timeout (s)",
        description="The idle culler stops user servers inactive for this long.",
    )
    hub_system_users: bool = Field(
        default=False,
        title="One OS account per user",
        description="Run each user's server under its own OS account `<prefix><login>`, created "
        "by hcdc (JupyterHub's LocalProcessSpawner; the hub runs as root). Off: every user's "
        "server runs under the service's account, which trusts every user, and the hub then "
        "listens on 127.0.0.1 only.",
    )
    hub_account_prefix: str = Field(
        default="hcdc-",
        pattern=r"^[a-z_][a-z0-9_-]{0,15}$",
        title="OS account prefix",
        description="Prefix of the OS accounts of users (with `HCDC_HUB_SYSTEM_USERS`), so that "
        "no hcdc login maps to an existing system account such as `root`.",
    )
    hub_isolated_spawner: bool = Field(
        default=False,
        title="Site spawner isolates users",
        description="The site's hub configuration sets a spawner that runs each user's server "
        "under their own account (e.g. `batchspawner.SlurmSpawner`, `kubespawner.KubeSpawner`), "
        "so the hub may listen beyond 127.0.0.1 without `HCDC_HUB_SYSTEM_USERS`.",
    )
    home_dir: Path | None = Field(
        default=None,
        title="Home directories",
        description="Root of per-user homes (one folder per login); default `<data dir>/home`.",
    )
    hub_config: Path | None = Field(
        default=None,
        title="JupyterHub configuration file",
        description="The file `hcdc up` runs JupyterHub with; default hcdc's "
        "`hub_config/jupyterhub_config.py` (a site's file can `load_subconfig` it, then override).",
    )
    quotas: QuotaSettings = Field(
        default_factory=QuotaSettings,
        title="Quotas",
        description="Per-user limits on queued and running processes and on priority, and run "
        "time limits (`HCDC_QUOTAS__MAX_QUEUED_PER_USER=500`, ...).",
    )
    worker: WorkerSettings = Field(
        default_factory=WorkerSettings,
        title="Worker",
        description="How `hcdc worker` runs: capacity, poll interval, attempts, job command "
        "(`HCDC_WORKER__CAPACITY=4`, ...; `[worker]` in the settings file).",
    )
    slurm: SlurmSettings = Field(
        default_factory=SlurmSettings,
        title="Slurm",
        description="Slurm commands, partition, directives and the job script template "
        "(`HCDC_SLURM__PARTITION=short`, ...; `[slurm]` in the settings file).",
    )
    job_sandbox: Literal["auto", "required", "off"] = Field(
        default="auto",
        title="Job sandbox",
        description="Confine each job's writes to its own job directory with Linux Landlock: "
        "`auto` where the kernel has it (a job without it logs a warning and says so in its "
        "manifest), `required` (a job fails rather than run unconfined), `off`.",
    )
    notebooks_dir: Path | None = Field(
        default=None,
        title="Notebooks folder",
        description="Example notebooks copied into `notebooks/` of every home at server start "
        "(a notebook already there, edited or not, is never overwritten); default: "
        "`notebooks/` of the hcdc checkout, when present.",
    )
    dashboards_dir: Path | None = Field(
        default=None,
        title="Dashboards folder",
        description="Voila dashboards linked into every home; default: `dashboards/` of the "
        "hcdc checkout, when present.",
    )

    vo_port: int = Field(
        default=8090,
        title="VO server port",
        description="Port of hcdc's DaCHS (`hcdc vo serve`, `hcdc up --vo`) on 127.0.0.1; "
        "not 8080, which is the API's.",
    )
    vo_dir: Path | None = Field(
        default=None,
        title="VO server folder",
        description="DaCHS's root folder (its settings, resource descriptor, logs); "
        "default `<data dir>/vo`.",
    )
    vo_database_url: str | None = Field(
        default=None,
        title="VO database URL",
        description="PostgreSQL database DaCHS serves (its schemas `dc`, `ivoa`, `tap_schema` "
        "and the published `hcdc_vo`); default: hcdc's own database.",
    )
    vo_public_url: str = Field(
        default="http://127.0.0.1:8080",
        title="Public API URL",
        description="Base URL of hcdc's API as VO clients reach it: published files download "
        "from `<url>/api/public/data/<id>/file`.",
    )
    vo_authority: str = Field(
        default="hcdc.example.org",
        title="IVOA authority",
        description="Authority of the published identifiers (`ivo://<authority>/hcdc?...`).",
    )
    vo_auto_publish: bool = Field(
        default=True,
        title="Publish on validation",
        description="A process validated as `valid` publishes its public products at once "
        "(PostgreSQL with an initialised VO database only).",
    )
    vo_max_rows: int = Field(
        default=100_000,
        ge=1,
        title="Most rows per VO query",
        description="Hard row limit of TAP, SIA and DataLink answers (MAXREC above it: error).",
    )
    proprietary_days: int | None = Field(
        default=None,
        ge=0,
        title="Proprietary period (days)",
        description="Raw files become public this many days after their observation (ESO: "
        "365) at each `hcdc vo publish`; unset: only the ingest's public flag decides.",
    )
    doi_prefix: str = Field(
        default="10.80000",
        title="DOI prefix",
        description="DataCite prefix of dataset DOIs (`<prefix>/hcdc.<process id>`); "
        "10.80000 is a test prefix.",
    )
    doi_publisher: str = Field(
        default="High Contrast Data Center",
        title="DOI publisher",
        description="Publisher named in DataCite records and citations.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then the TOML file named by ``HCDC_CONFIG``.

        The file must exist and name only settings hcdc has (tables ``[quotas]``, ``[worker]``
        and ``[slurm]`` for the nested ones): anything else is a :class:`SettingsError` naming
        the file and the key, never silently ignored.
        """
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("HCDC_CONFIG")
        if toml_path:
            sources.append(_settings_file(settings_cls, Path(toml_path)))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hcdc.sqlite').resolve()}"

    @property
    def resolved_shared_dir(self) -> Path | None:
        """The shared data folder, if one is configured or found beside the checkout."""
        if self.shared_dir is not None:
            return self.shared_dir
        checkout = Path(__file__).resolve().parents[1]
        for candidate in (checkout.parent / "shared", Path.cwd().parent / "shared"):
            if (candidate / "data").is_dir():
                return candidate
        return None

    @property
    def raw_dir(self) -> Path:
        """Where copied raw files live."""
        return self.data_dir / "raw"

    @property
    def jobs_dir(self) -> Path:
        """Where job directories live."""
        return self.data_dir / "jobs"

    @property
    def resolved_home_dir(self) -> Path:
        """Root of the per-user home directories."""
        return self.home_dir if self.home_dir is not None else self.data_dir / "home"

    @property
    def uploads_dir(self) -> Path:
        """Where files uploaded through the API are kept (one folder per content)."""
        return self.data_dir / "uploads"

    @property
    def workspaces_dir(self) -> Path:
        """Shared folders of workspaces, one per workspace name."""
        return self.data_dir / "workspaces"

    @property
    def hub_dir(self) -> Path:
        """JupyterHub's state: its database, cookie secret and the service token."""
        return self.data_dir / "hub"

    @property
    def resolved_hub_public_url(self) -> str:
        """The URL users reach the hub at."""
        if self.hub_public_url:
            return self.hub_public_url.rstrip("/")
        host = "127.0.0.1" if self.hub_ip in ("", "0.0.0.0") else self.hub_ip  # noqa: S104
        return f"http://{host}:{self.hub_port}"

    @property
    def resolved_vo_dir(self) -> Path:
        """DaCHS's root folder for hcdc's VO server."""
        return self.vo_dir if self.vo_dir is not None else self.data_dir / "vo"

    @property
    def resolved_vo_database_url(self) -> str:
        """The database DaCHS serves (hcdc's own unless set)."""
        return self.vo_database_url or self.resolved_database_url

    @property
    def resolved_notebooks_dir(self) -> Path | None:
        """The example notebooks folder, if configured or found in the checkout."""
        if self.notebooks_dir is not None:
            return self.notebooks_dir
        candidate = Path(__file__).resolve().parents[1] / "notebooks"
        return candidate if candidate.is_dir() else None

    @property
    def resolved_dashboards_dir(self) -> Path | None:
        """The Voila dashboards folder, if configured or found in the checkout."""
        if self.dashboards_dir is not None:
            return self.dashboards_dir
        candidate = Path(__file__).resolve().parents[1] / "dashboards"
        return candidate if candidate.is_dir() else None


def _settings_file(settings_cls: type[BaseSettings], path: Path) -> TomlConfigSettingsSource:
    """The settings file as a source, its keys checked against the settings."""
    if not path.is_file():
        raise SettingsError(f"HCDC_CONFIG names {path}, which is not a file")
    try:
        source = TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from exc
    _check_keys(settings_cls, source.toml_data, where=path)
    return source


def _check_keys(
    model: type[BaseModel], data: Mapping[str, Any], *, where: Path, at: str = ""
) -> None:
    """Refuse a key of ``data`` that names no field of ``model`` (tables of nested models
    checked too), naming the file, the key and the closest known names."""
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=3)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise SettingsError(f"settings file {where}: unknown setting {at + key!r}{hint}")
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            if not isinstance(value, Mapping):
                raise SettingsError(
                    f"settings file {where}: {at}{key} is a table ([{at}{key}]), not {value!r}"
                )
            _check_keys(nested, value, where=where, at=f"{at}{key}.")
