"""Builds hcdc's services from settings: the API, the CLI, the worker and the tests share it."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.recipes.spec import RecipeSpec
from hcdc_kernel.targets import SimbadResolver
from hcdc_server.config import Settings
from hcdc_server.exceptions import SchemaOutOfDateError
from hcdc_server.models.processes import RecipeModel
from hcdc_server.schema.migrate import schema_state, upgrade
from hcdc_server.services.auth import AuthService
from hcdc_server.services.browse import BrowseService, FilterLimits
from hcdc_server.services.catalog import CatalogService
from hcdc_server.services.conditions import ConditionsService
from hcdc_server.services.downloads import DownloadService
from hcdc_server.services.fits_checks import FileLimits
from hcdc_server.services.ingest import IngestService
from hcdc_server.services.launch_planner import DurationHistory
from hcdc_server.services.process_access import ProcessAccessService
from hcdc_server.services.processes import ProcessService
from hcdc_server.services.public_data import PublicDataService
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.stamped_cache import StampedCache
from hcdc_server.services.targets import TargetService
from hcdc_server.services.uploads import UploadService
from hcdc_server.services.users import UserService
from hcdc_server.services.visibility import Viewer
from hcdc_server.services.workflows import WorkflowService
from hcdc_server.services.workspace_access import WorkspaceAccessService
from hcdc_server.services.workspaces import WorkspaceService
from hcdc_server.storage.changes import AUTH, DURATIONS, RECIPES, ChangeStamps, watch
from hcdc_server.storage.database import create_db_engine, session_factory
from hcdc_server.vo.datacite import DatasetService
from hcdc_server.vo.service import VoService


class Factory:
    """One per process: holds the engine and hands out services."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(
            self.settings.resolved_database_url,
            statement_timeout_s=self.settings.statement_timeout_s,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
        )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        sessions = session_factory(self.engine)
        # Commits that change credentials or recipes tell every process's caches.
        watch(sessions, self.stamps)
        return sessions

    @cached_property
    def stamps(self) -> ChangeStamps:
        return ChangeStamps(self.settings.data_dir / "changes")

    @cached_property
    def credential_cache(self) -> StampedCache[Viewer]:
        """Checked tokens and their callers' workspaces, shared by this process's requests."""
        return StampedCache(self.stamps, AUTH, ttl_s=self.settings.cache_s)

    @cached_property
    def recipe_cache(self) -> StampedCache[tuple[int, RecipeSpec] | RecipeModel]:
        """Recipe specs and models by (name, version), shared by this process's launches."""
        return StampedCache(self.stamps, RECIPES, ttl_s=self.settings.cache_s)

    @cached_property
    def duration_cache(self) -> StampedCache[DurationHistory]:
        """Recipes' recent run times (for the estimate of each new process)."""
        return StampedCache(self.stamps, DURATIONS, ttl_s=self.settings.cache_s)

    def init_database(self) -> None:
        """Create the data directory, bring the schema to the latest migration and store the
        built-in recipes and workflows not yet stored (`hcdc init`, `hcdc db upgrade`, `hcdc
        demo`, tests). Nothing else migrates or seeds: reads never write."""
        self.migrate_database()
        self.seed_builtin()

    def create_or_check_database(self) -> None:
        """A database with no hcdc schema yet is created (:meth:`init_database`, a first
        `hcdc up`); any other is checked (:meth:`check_database`), never migrated."""
        state, _, _ = schema_state(self.engine)
        if state == "empty":
            self.init_database()
        else:
            self.check_database()

    def migrate_database(self) -> None:
        """Create the data directory and bring the schema to the latest migration only."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.engine)

    def seed_builtin(self) -> None:
        """Store the built-in recipes and workflows not yet stored (never overwriting)."""
        self.recipes().sync_builtin()
        self.workflows().sync_builtin()

    def check_database(self) -> None:
        """Refuse a database whose schema is not this hcdc's, naming the command to run.

        What `hcdc serve`, `hcdc worker`, `hcdc up` and every command but `init`, `db upgrade`
        and `demo` do at start: they never migrate.
        """
        state, current, head = schema_state(self.engine)
        where = _where(self.settings)
        if state == "empty":
            raise SchemaOutOfDateError(
                f"the database {where} has no hcdc schema yet: run `hcdc init` first"
            )
        if state == "outdated":
            raise SchemaOutOfDateError(
                f"the database {where} has an older schema (revision {current}, this hcdc needs "
                f"{head}): run `hcdc db upgrade` first"
            )
        if state == "newer":
            raise SchemaOutOfDateError(
                f"the database {where} has schema revision {current}, unknown to this hcdc "
                f"(which needs {head}): it was migrated by a newer hcdc; run that one"
            )

    def users(self) -> UserService:
        return UserService(self.sessions, token_days=self.settings.token_days)

    def workspaces(self) -> WorkspaceService:
        return WorkspaceService(self.sessions, folders=self.settings.workspaces_dir)

    def targets(self) -> TargetService:
        resolver = None
        if self.settings.resolve_targets:
            resolver = SimbadResolver(
                tap_url=self.settings.simbad_tap_url, timeout_s=self.settings.simbad_timeout_s
            )
        return TargetService(resolver)

    def ingest(self) -> IngestService:
        return IngestService(
            self.sessions,
            raw_dir=self.settings.raw_dir,
            targets=self.targets(),
            limits=FileLimits(
                max_extensions=self.settings.max_extensions,
                max_decompressed_bytes=self.settings.max_decompressed_bytes,
            ),
            workers=self.settings.ingest_workers,
            batch_size=self.settings.ingest_batch_size,
            conditions=self.conditions(),
        )

    def conditions(self) -> ConditionsService:
        """AO telemetry and site-monitor conditions, linked to frames and processes."""
        return ConditionsService(self.sessions)

    def recipes(self) -> RecipeService:
        """Recipe registry (built-in recipes are stored by :meth:`init_database`)."""
        return RecipeService(self.sessions, cache=self.recipe_cache)

    def processes(self) -> ProcessService:
        return ProcessService(
            self.sessions,
            recipes=self.recipes(),
            quotas=self.settings.quotas,
            on_valid=self.vo().on_valid,
            durations=self.duration_cache,
        )

    def public_data(self) -> PublicDataService:
        """Public files and previews, for anonymous callers."""
        return PublicDataService(self.sessions, previews_dir=self.settings.data_dir / "previews")

    def datasets(self) -> DatasetService:
        """DataCite records and landing pages of validated, public processes."""
        return DatasetService(
            self.sessions,
            prefix=self.settings.doi_prefix,
            publisher=self.settings.doi_publisher,
            api_url=self.settings.vo_public_url,
        )

    def vo(self) -> VoService:
        """Publication in the Virtual Observatory (hcdc's DaCHS)."""
        return VoService(self.settings, self.sessions)

    def workflows(self) -> WorkflowService:
        return WorkflowService(self.sessions, processes=self.processes(), recipes=self.recipes())

    def process_access(self) -> ProcessAccessService:
        """Launches and process actions checked against the caller (what the API uses)."""
        processes = self.processes()
        return ProcessAccessService(
            self.sessions,
            processes=processes,
            workflows=WorkflowService(self.sessions, processes=processes, recipes=self.recipes()),
            recipes=self.recipes(),
        )

    def auth(self) -> AuthService:
        return AuthService(self.sessions, self.users(), self.credential_cache)

    def browse(self) -> BrowseService:
        return BrowseService(
            self.sessions,
            filter_limits=FilterLimits(
                max_values=self.settings.browse_max_values,
                max_patterns=self.settings.browse_max_patterns,
                max_length=self.settings.browse_max_value_length,
            ),
            max_rows=self.settings.max_page_rows,
        )

    def catalog(self) -> CatalogService:
        return CatalogService(self.sessions)

    def downloads(self) -> DownloadService:
        return DownloadService(self.sessions, browse=self.browse())

    def workspace_access(self) -> WorkspaceAccessService:
        return WorkspaceAccessService(self.workspaces(), self.users(), self.sessions)

    def uploads(self) -> UploadService:
        return UploadService(
            self.sessions,
            ingest=self.ingest(),
            workspaces=self.workspaces(),
            uploads_dir=self.settings.uploads_dir,
            max_bytes=self.settings.max_upload_bytes,
        )

    def close(self) -> None:
        """Release database connections."""
        if "engine" in self.__dict__:
            self.engine.dispose()


def _where(settings: Settings) -> str:
    """The database named for a message: its URL without a password."""
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)
