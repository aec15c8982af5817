"""Values of the JupyterHub deployment, derived from hcdc's settings (``HCDC_*``).

``jupyterhub_config.py`` assigns these to traits; ``hcdc up`` and the tests read the same object,
so ports, paths and secrets agree everywhere.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_server.config import Settings
from hcdc_server.exceptions import HcdcError

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


#: Folders of the data directory that user accounts reach (their homes, the workspaces).
USER_FOLDERS = ("home", "workspaces")


class DeploymentError(HcdcError):
    """The hub's settings would expose hcdc beyond what they protect; the message says how."""

    code = "deployment"
    status = 500


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusts_every_user(settings: Settings) -> bool:
    """Whether every user's server runs under the service's account (the embedded default)."""
    return not (settings.hub_system_users or settings.hub_isolated_spawner)


def trust_statement(settings: Settings) -> str:
    """What ``hcdc up`` and the hub say at start about who is trusted."""
    if settings.hub_system_users:
        return (
            f"hcdc runs each user's server under its own OS account "
            f"({settings.hub_account_prefix}<login>); the service's secrets are readable by "
            f"{getpass.getuser()} only."
        )
    if settings.hub_isolated_spawner:
        return "hcdc relies on the site's spawner to run each user's server under its own account."
    return (
        f"hcdc trusts every user: their servers and kernels run under this OS account "
        f"({getpass.getuser()}), so any user can read the others' files and the service's "
        "secrets and act as any user. It listens on 127.0.0.1 only; for users who must not "
        "reach each other's data, set HCDC_HUB_SYSTEM_USERS=true (one OS account per user)."
    )


def check_exposure(settings: Settings) -> None:
    """Refuse settings that would open the single-account hub beyond this machine.

    Raises
    ------
    DeploymentError
        Naming the setting to change.
    """
    if trusts_every_user(settings) and not is_loopback(settings.hub_ip):
        raise DeploymentError(
            f"HCDC_HUB_IP={settings.hub_ip!r} would open hcdc beyond this machine while every "
            "user's server runs under the service's account (any user could act as any "
            "other). Set HCDC_HUB_SYSTEM_USERS=true (one OS account per user; the hub runs as "
            "root), or HCDC_HUB_ISOLATED_SPAWNER=true when your hub configuration sets a "
            "spawner that isolates users, or keep HCDC_HUB_IP=127.0.0.1."
        )
    if settings.hub_system_users and os.geteuid() != 0:
        raise DeploymentError(
            "HCDC_HUB_SYSTEM_USERS=true needs the hub to run as root: it creates the users' OS "
            "accounts and starts their servers under them"
        )


def secure_state(settings: Settings) -> None:
    """Keep the hub's and the service's secrets to the service's account.

    The hub folder (service token, cookie secret, hub database, log) is 0700 and its files 0600.
    With per-user accounts the data directory is traversable only (0711), every entry but the
    homes and the workspaces' folders is the service's alone, and files made later are private
    (umask 077) unless hcdc shares them.
    """
    hub_dir = settings.hub_dir
    hub_dir.mkdir(parents=True, exist_ok=True)
    hub_dir.chmod(0o700)
    for entry in hub_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)
    if not settings.hub_system_users:
        return
    os.umask(0o077)
    data_dir = settings.data_dir.resolve()
    data_dir.chmod(0o711)
    for entry in data_dir.iterdir():
        if entry.name in USER_FOLDERS or entry.is_symlink():
            continue
        entry.chmod(0o700 if entry.is_dir() else 0o600)
    for name in USER_FOLDERS:
        folder = data_dir / name
        folder.mkdir(exist_ok=True)
        folder.chmod(0o711)


def closed_ancestor(path: Path) -> Path | None:
    """The first folder above ``path`` that other accounts cannot traverse, if any."""
    for parent in reversed(path.resolve().parents):
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def service_token(settings: Settings) -> str:
    """The service's hub token: from the settings, else created once in the hub folder."""
    if settings.hub_api_token is not None:
        return settings.hub_api_token.get_secret_value()
    path = settings.hub_dir / "service-token"
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
            # sites run offline: no "Jupyter news" feed fetched from the internet
            "--LabApp.news_url=None",
        ]
        if os.geteuid() == 0 and not self.settings.hub_system_users:
            # every server runs as the hub's account here; often root in CI
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
