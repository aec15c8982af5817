"""Values of the JupyterHub deployment, derived from hcdc's settings (``HCDC_*``).

``jupyterhub_config.py`` assigns these to traits; ``hcdc up`` and the tests read the same object,
so ports, paths and secrets agree everywhere.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_server.config import Settings

#: Name of the hcdc service in the hub (its URL prefix is ``/services/hcdc/``).
SERVICE_NAME = "hcdc"
IDLE_CULLER_NAME = "idle-culler"
WORKER_NAME = "hcdc-worker"


def executable(name: str) -> str:
    """A console script installed beside this Python (not a shim), else the name on ``PATH``."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def hcdc_command(*args: str) -> list[str]:
    """A command line running ``hcdc`` with ``args`` under this Python."""
    script = Path(sys.executable).parent / "hcdc"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from hcdc_server.cli import main; main()", *args]


def worker_available() -> bool:
    """Whether this hcdc has the ``hcdc worker`` command (the recipe dispatcher)."""
    from hcdc_server.cli import main

    return "worker" in getattr(main, "commands", {})


def service_token(settings: Settings) -> str:
    """The service's hub token: from the settings, else created once in the hub folder."""
    if settings.hub_api_token is not None:
        return settings.hub_api_token.get_secret_value()
    path = settings.hub_dir / "service-token"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(token)
    return token


@dataclass(frozen=True)
class HubDeployment:
    """Everything the hub configuration needs, computed from one :class:`Settings`."""

    settings: Settings
    service_token: str
    with_worker: bool

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> HubDeployment:
        """The deployment for ``settings`` (default: from the environment)."""
        settings = settings or Settings()
        settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
        return cls(
            settings=settings,
            service_token=service_token(settings),
            with_worker=worker_available(),
        )

    @property
    def public_url(self) -> str:
        return self.settings.resolved_hub_public_url

    @property
    def service_url(self) -> str:
        """The hcdc service as the hub reaches it (loopback)."""
        return f"http://127.0.0.1:{self.settings.hub_service_port}"

    @property
    def service_prefix(self) -> str:
        return f"/services/{SERVICE_NAME}/"

    @property
    def hcdc_url_for_servers(self) -> str:
        """``HCDC_URL`` of user servers: the service through the hub's proxy."""
        return f"{self.public_url}{self.service_prefix}".rstrip("/")

    @property
    def hub_db_url(self) -> str:
        return f"sqlite:///{self.settings.hub_dir / 'jupyterhub.sqlite'}"

    @property
    def cookie_secret_file(self) -> Path:
        return self.settings.hub_dir / "jupyterhub_cookie_secret"

    @property
    def home_root(self) -> Path:
        return self.settings.resolved_home_dir.resolve()

    def server_args(self) -> list[str]:
        """Options of user servers: the workspace-aware contents manager, root if need be."""
        args = [
            "--ServerApp.contents_manager_class=hcdc_hub.contents.WorkspaceContentsManager",
            # a dashboard that fails says why to its user, rather than "there was an error"
            "--VoilaConfiguration.show_tracebacks=True",
        ]
        if os.geteuid() == 0:  # every server runs as the hub's account here; often root in CI
            args.append("--ServerApp.allow_root=True")
        return args

    def hcdc_environment(self) -> dict[str, str]:
        """Environment of the hcdc processes the hub starts: this process's ``HCDC_*``."""
        env = {key: value for key, value in os.environ.items() if key.startswith("HCDC_")}
        env["HCDC_DATA_DIR"] = str(self.settings.data_dir)
        env["HCDC_DATABASE_URL"] = self.settings.resolved_database_url
        env.pop("HCDC_HUB_API_TOKEN", None)
        return env

    def services(self) -> list[dict[str, Any]]:
        """``c.JupyterHub.services``: the hcdc service, the idle culler and the worker."""
        service_env = {
            **self.hcdc_environment(),
            "HCDC_HUB_API_TOKEN": self.service_token,
            "HCDC_ROOT_PATH": self.service_prefix,
        }
        port = str(self.settings.hub_service_port)
        timeout = self.settings.hub_idle_timeout_s
        services: list[dict[str, Any]] = [
            {
                "name": SERVICE_NAME,
                "url": self.service_url,
                "api_token": self.service_token,
                "command": hcdc_command("serve", "--host", "127.0.0.1", "--port", port),
                "environment": service_env,
                "display": True,
                "oauth_no_confirm": True,
                "info": {"description": "hcdc JSON API (OpenAPI at docs)"},
            },
            {
                "name": IDLE_CULLER_NAME,
                "command": [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--timeout={timeout}",
                    f"--cull-every={max(60, timeout // 10)}",
                ],
            },
        ]
        if self.with_worker:
            services.append(
                {
                    "name": WORKER_NAME,
                    "command": hcdc_command("worker"),
                    "environment": self.hcdc_environment(),
                }
            )
        return services

    def roles(self) -> list[dict[str, Any]]:
        """``c.JupyterHub.load_roles``: users reach the hcdc service; the culler stops servers."""
        return [
            {
                "name": "user",
                "description": "hcdc users: their own servers and the hcdc service",
                "scopes": ["self", f"access:services!service={SERVICE_NAME}"],
            },
            {
                "name": "hcdc-idle-culler",
                "description": "Stop idle user servers",
                "scopes": [
                    "list:users",
                    "read:users:activity",
                    "read:servers",
                    "delete:servers",
                ],
                "services": [IDLE_CULLER_NAME],
            },
        ]
