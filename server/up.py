"""`hcdc up`: the whole platform in one command, stopped cleanly by Ctrl-C.

It prepares the data directory (database, demo data and a demo log-in when asked), then runs
JupyterHub with ``hub_config/jupyterhub_config.py``; the hub runs the proxy, the hcdc service
(``/services/hcdc/``), the idle culler, the recipe worker and the user servers. On Ctrl-C or
SIGTERM the hub is asked to stop (it stops what it started); whatever is still alive after a
grace period, including processes orphaned by a crash, is killed: this process registers as the
child subreaper, so orphans of its descendants stay its descendants.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
import psutil

from hcdc_server.config import Settings
from hcdc_server.exceptions import NotFoundError
from hcdc_server.factory import Factory
from hcdc_server.services.hub import HubAccountService

#: Name of the demo log-in token that each ``hcdc up`` replaces.
UP_TOKEN_NAME = "hcdc-up"  # noqa: S105 (a label, not a secret)
_PR_SET_CHILD_SUBREAPER = 36
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class DemoLogin:
    """A log-in to print: the hub's password is an hcdc token."""

    login: str
    password: str


@dataclass(frozen=True)
class UpInfo:
    """What ``hcdc up`` prints once the hub is usable."""

    url: str
    login: DemoLogin | None
    log_file: Path
    pid: int
    with_worker: bool

    def dashboards(self) -> dict[str, str]:
        """Voila URLs of the dashboards of the demo user."""
        if self.login is None:
            return {}
        base = f"{self.url}/user/{self.login.login}/voila/render/dashboards"
        return {name: f"{base}/{name}.ipynb" for name in ("validation", "contrast_review")}

    def as_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "login": self.login.login if self.login else None,
                "password": self.login.password if self.login else None,
                "log": str(self.log_file),
                "pid": self.pid,
                "worker": self.with_worker,
                "dashboards": self.dashboards(),
            }
        )

    def as_text(self) -> str:
        lines = [f"hcdc is up: {self.url}/"]
        if self.login is not None:
            lines += [
                f"  login:     {self.login.login}",
                f"  password:  {self.login.password}   (an hcdc token)",
            ]
            lines += [f"  {name + ':':<11}{url}" for name, url in self.dashboards().items()]
        lines += [f"  logs:      {self.log_file}", "Press Ctrl-C to stop."]
        return "\n".join(lines)


def prepare_data(factory: Factory, *, demo: bool, quick: bool) -> DemoLogin | None:
    """Create the database; with ``demo``, install the demo once and issue a fresh log-in token.

    The demo's reductions are launched for ``hcdc up``'s worker to run: the hub opens at once,
    the processes run behind it and the pre-processed IRDIS cubes wait for validation.

    A new data directory gets its database as `hcdc init` makes it; a database of an older
    hcdc is refused (:class:`SchemaOutOfDateError` naming `hcdc db upgrade`), never migrated
    here. Server tokens left by a previous run are revoked (no user server runs yet), and so is
    the previous ``hcdc up`` log-in token of the demo user, so that one stays valid.
    """
    factory.create_or_check_database()
    HubAccountService.from_factory(factory).release_all()
    if not demo:
        return None
    from hcdc_server.services.demo import DEMO_LOGIN, install_demo

    users = factory.users()
    try:
        users.get_user(DEMO_LOGIN)
    except NotFoundError:
        install_demo(factory, quick=quick, wait=False)
    for token in users.list_tokens(DEMO_LOGIN):
        if token.name == UP_TOKEN_NAME and token.revoked_at is None:
            users.revoke_token(token.key)
    new = users.create_token(DEMO_LOGIN, name=UP_TOKEN_NAME)
    return DemoLogin(login=DEMO_LOGIN, password=new.token)


def hub_config_file() -> Path:
    """``jupyterhub_config.py`` of the installed ``hcdc_hub`` package."""
    import hcdc_hub

    return Path(hcdc_hub.__file__).with_name("jupyterhub_config.py")


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so that none escapes the final clean-up."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


class HubProcess:
    """JupyterHub in its own session, its output in a log file.

    Parameters
    ----------
    settings
        hcdc settings of the deployment (ports, data directory).
    env
        Environment of the hub (``HCDC_*`` included).
    log_file
        Where the hub and everything it starts write their output.
    command
        The hub's command line (default: JupyterHub with ``hcdc_hub``'s configuration).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str],
        log_file: Path,
        command: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(env)
        self.log_file = log_file
        config = settings.hub_config or hub_config_file()
        self.command = list(command or [sys.executable, "-m", "jupyterhub", "-f", str(config)])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        from hcdc_hub.deployment import secure_state

        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(mode=0o600)
        secure_state(self.settings)  # the hub folder and its files: this account's only
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.settings.hub_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches hcdc up only, which stops in order
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, *, timeout_s: float, stop: threading.Event) -> bool:
        """Wait until the hub and the hcdc service answer through the proxy."""
        base = self.settings.resolved_hub_public_url
        probes = [f"{base}/hub/health", f"{base}/services/hcdc/api/hub/health"]
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline and not stop.is_set() and self.alive():
                with contextlib.suppress(httpx.HTTPError):
                    if all(client.get(url).status_code == 200 for url in probes):
                        return True
                stop.wait(0.2)
        return False

    def descendants(self) -> list[psutil.Process]:
        """Every live process below ``hcdc up`` (the hub, its children and adopted orphans)."""
        with contextlib.suppress(psutil.Error):
            return psutil.Process().children(recursive=True)
        return []

    def stop(self, *, grace_s: float = 20.0) -> list[int]:
        """Stop the hub (it stops what it started), then kill what is left; returns those pids."""
        survivors = self.descendants()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        survivors = [p for p in {*survivors, *self.descendants()} if _running(p)]
        for process in survivors:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(survivors, timeout=3)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=3)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        _reap_adopted()
        return [p.pid for p in survivors]

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_adopted() -> None:
    """Collect exit statuses of adopted orphans, so none stays a zombie."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error, ChildProcessError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn Ctrl-C, SIGTERM and SIGHUP into ``stop`` for the duration."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def start_vo(factory: Factory, *, echo: Callable[[str], None]) -> subprocess.Popen[bytes]:
    """Publish, then start hcdc's DaCHS beside the hub (its output in ``<vo dir>/logs``)."""
    service = factory.vo()
    summary = service.publish()
    dachs = service.dachs
    log_file = dachs.config.root / "logs" / "serve.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            dachs.serve_command(),
            env=dachs.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    echo(
        f"hcdc up: VO server {dachs.config.server_url}/tap ({summary.files} files published; "
        f"log {log_file})"
    )
    return proc


def _stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def hub_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The hub's environment: ``base`` with the settings ``hcdc up`` was given, made explicit."""
    env = dict(base)
    env.update(
        HCDC_DATA_DIR=str(settings.data_dir.resolve()),
        HCDC_DATABASE_URL=settings.resolved_database_url,
        HCDC_HUB_IP=settings.hub_ip,
        HCDC_HUB_PORT=str(settings.hub_port),
        HCDC_RESOLVE_TARGETS=str(settings.resolve_targets).lower(),
        # The service publishes on validation: the same URLs as `hcdc up --vo` published.
        HCDC_VO_PUBLIC_URL=settings.vo_public_url,
        HCDC_VO_PORT=str(settings.vo_port),
    )
    return env


def run_up(
    factory: Factory,
    *,
    demo: bool = True,
    quick: bool = False,
    ready_timeout_s: float = 180.0,
    echo: Callable[[str], None] = print,
    as_json: bool = False,
    with_worker: bool = True,
    vo: bool = False,
) -> int:
    """Run the platform until a stop signal; returns the exit status.

    Parameters
    ----------
    factory
        The factory of the settings to deploy (data directory, ports).
    demo, quick
        Install the demo data (the minimal night with ``quick``) and print a demo log-in.
    ready_timeout_s
        How long the hub may take to answer before ``hcdc up`` gives up.
    echo
        Where messages go.
    as_json
        Print the ready message as one JSON line (for scripts).
    with_worker
        Whether the hub runs ``hcdc worker`` (only told here: the hub configuration decides).
    vo
        Also publish the public data and run hcdc's DaCHS on 127.0.0.1:``vo_port`` (needs
        PostgreSQL and DaCHS; refused, before anything starts, otherwise).
    """
    from hcdc_hub.deployment import check_exposure, trust_statement

    settings = factory.settings
    check_exposure(settings)  # the single-account default stays on the loopback
    echo(f"hcdc up: {trust_statement(settings)}")
    stop = threading.Event()
    with _stop_on_signals(stop):
        login = prepare_data(factory, demo=demo, quick=quick)
        vo_server = start_vo(factory, echo=echo) if vo else None
        become_subreaper()
        hub = HubProcess(
            settings,
            env=hub_environment(settings, os.environ),
            log_file=settings.hub_dir / "jupyterhub.log",
        )
        try:
            hub.start()
            if not hub.wait_ready(timeout_s=ready_timeout_s, stop=stop):
                if stop.is_set():
                    return 0
                echo(f"hcdc up: the hub did not start; last lines of {hub.log_file}:")
                echo(hub.log_tail())
                return 1
            info = UpInfo(
                url=settings.resolved_hub_public_url,
                login=login,
                log_file=hub.log_file,
                pid=os.getpid(),
                with_worker=with_worker,
            )
            echo(info.as_json() if as_json else info.as_text())
            while not stop.is_set() and hub.alive():
                stop.wait(0.5)
            if not stop.is_set():
                echo(f"hcdc up: the hub exited; last lines of {hub.log_file}:")
                echo(hub.log_tail())
                return 1
            return 0
        finally:
            if not as_json:
                echo("stopping hcdc ...")
            hub.stop()
            if vo_server is not None:
                _stop_process(vo_server)
