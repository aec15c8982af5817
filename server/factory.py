"""Builds hcdc's services from settings: the API, the CLI, the worker and the tests share it."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hcdc_kernel.targets import SimbadResolver
from hcdc_server.config import Settings
from hcdc_server.schema.migrate import upgrade
from hcdc_server.services.auth import AuthService
from hcdc_server.services.browse import BrowseService, FilterLimits
from hcdc_server.services.catalog import CatalogService
from hcdc_server.services.downloads import DownloadService
from hcdc_server.services.fits_checks import FileLimits
from hcdc_server.services.ingest import IngestService
from hcdc_server.services.process_access import ProcessAccessService
from hcdc_server.services.processes import ProcessService
from hcdc_server.services.recipes import RecipeService
from hcdc_server.services.targets import TargetService
from hcdc_server.services.uploads import UploadService
from hcdc_server.services.users import UserService
from hcdc_server.services.workflows import WorkflowService
from hcdc_server.services.workspace_access import WorkspaceAccessService
from hcdc_server.services.workspaces import WorkspaceService
from hcdc_server.storage.database import create_db_engine, session_factory


class Factory:
    """One per process: holds the engine and hands out services."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(
            self.settings.resolved_database_url,
            statement_timeout_s=self.settings.statement_timeout_s,
        )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def init_database(self) -> None:
        """Create the data directory and bring the schema to the latest migration."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.engine)

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
        )

    @cached_property
    def _recipe_service(self) -> RecipeService:
        return RecipeService(self.sessions)

    def recipes(self) -> RecipeService:
        """Recipe registry (built-in recipes are stored on first use)."""
        return self._recipe_service

    def processes(self) -> ProcessService:
        return ProcessService(self.sessions, recipes=self.recipes(), quotas=self.settings.quotas)

    def workflows(self) -> WorkflowService:
        return WorkflowService(self.sessions, processes=self.processes())

    def process_access(self) -> ProcessAccessService:
        """Launches and process actions checked against the caller (what the API uses)."""
        processes = self.processes()
        return ProcessAccessService(
            self.sessions,
            processes=processes,
            workflows=WorkflowService(self.sessions, processes=processes),
            recipes=self.recipes(),
        )

    def auth(self) -> AuthService:
        return AuthService(self.sessions, self.users())

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
