"""hcdc's own GAVO DaCHS instance: its settings, first set-up, resource descriptor, server.

DaCHS reads its settings from the file named by ``GAVOSETTINGS``; hcdc writes one under its VO
folder (:attr:`Settings.resolved_vo_dir`) so that its instance serves hcdc's database on
hcdc's VO port, apart from any site-wide DaCHS (``/etc/gavo.rc``). Every ``dachs`` command
runs with that environment (:meth:`Dachs.command`).
"""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy.engine import make_url

from hcdc_server.exceptions import VoUnavailableError

#: The resource descriptor's id inside DaCHS (``inputs/hcdc_vo/q.rd``).
RD_ID = "hcdc_vo/q"
#: Seconds the first set-up (``dachs init``, the imports) may take.
SETUP_TIMEOUT_S = 600


def dachs_executable() -> str | None:
    """The ``dachs`` command, or ``None`` where DaCHS is not installed."""
    return shutil.which("dachs")


@dataclass(frozen=True)
class DachsConfig:
    """Where and how hcdc's DaCHS runs."""

    root: Path
    port: int
    database_url: str
    authority: str
    max_rows: int
    sitename: str = "hcdc"

    @property
    def settings_file(self) -> Path:
        return self.root / "gavo.rc"

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Dachs:
    """One DaCHS instance driven through its command line."""

    def __init__(self, config: DachsConfig) -> None:
        self.config = config

    # -- files -----------------------------------------------------------------------------

    def write_settings(self) -> None:
        """DaCHS's settings file and database profile (rewritten each time: they follow
        hcdc's settings)."""
        cfg = self.config
        (cfg.root / "etc").mkdir(parents=True, exist_ok=True)
        user = getpass.getuser()
        group = grp.getgrgid(os.getgid()).gr_name
        # DaCHS drops to [web]user when started as root: run it as whoever runs hcdc, so it
        # reads the folder hcdc wrote.
        cfg.settings_file.write_text(
            "# hcdc's DaCHS instance (written by hcdc; edits are overwritten)\n"
            "[general]\n"
            f"rootDir = {cfg.root}\n"
            f"gavoGroup = {group}\n"
            f"group = {group}\n"
            "logLevel = warning\n"
            "[web]\n"
            f"serverPort = {cfg.port}\n"
            f"serverURL = {cfg.server_url}\n"
            "bindAddress = 127.0.0.1\n"
            f"user = {user}\n"
            f"sitename = {cfg.sitename}\n"
            "[ivoa]\n"
            f"authority = {cfg.authority}\n"
            f"dalDefaultLimit = {min(10000, cfg.max_rows)}\n"
            f"dalHardLimit = {cfg.max_rows}\n"
            "[async]\n"
            f"defaultMAXREC = {min(20000, cfg.max_rows)}\n"
            f"hardMAXREC = {cfg.max_rows}\n",
            encoding="utf-8",
        )
        (cfg.root / "etc" / "dsn").write_text(_dsn_profile(cfg.database_url), encoding="utf-8")

    def deploy_rd(self) -> bool:
        """Copy the packaged resource descriptor into DaCHS's inputs; whether it changed."""
        target = self.config.root / "inputs" / "hcdc_vo" / "q.rd"
        target.parent.mkdir(parents=True, exist_ok=True)
        source = resources.files("hcdc_server.vo").joinpath("q.rd").read_text(encoding="utf-8")
        if target.is_file() and target.read_text(encoding="utf-8") == source:
            return False
        target.write_text(source, encoding="utf-8")
        return True

    @property
    def initialised(self) -> bool:
        return (self.config.root / "state" / "hcdc-initialised").exists()

    # -- commands --------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["GAVOSETTINGS"] = str(self.config.settings_file)
        # No personal ~/.gavorc may change the instance.
        env["GAVOCUSTOM"] = str(self.config.root / "gavorc-none")
        return env

    def command(self, *args: str) -> list[str]:
        executable = dachs_executable()
        if executable is None:
            raise VoUnavailableError(
                "GAVO DaCHS is not installed (Debian: apt-get install gavodachs2-server "
                "postgresql-15-pgsphere; see README, Virtual Observatory)"
            )
        return [executable, *args]

    def run(self, *args: str, timeout_s: float = SETUP_TIMEOUT_S) -> str:
        """Run ``dachs args``; a failure raises :class:`VoUnavailableError` with its output."""
        try:
            done = subprocess.run(
                self.command(*args),
                env=self.environment(),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise VoUnavailableError(f"dachs {' '.join(args)} took over {timeout_s} s") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            raise VoUnavailableError(f"dachs {' '.join(args)} failed: " + " | ".join(tail))
        return done.stdout

    def set_up(self, *, tables_missing: bool = False) -> bool:
        """Settings, first ``dachs init`` (database roles, schemas, pgsphere, ObsCore) and
        hcdc's resource descriptor imported: its tables created and declared (TAP_SCHEMA,
        ObsCore, the registry). Idempotent.

        The descriptor is imported again only when it changed (a new hcdc) or its tables are
        missing, since an import empties them; returns whether it was (the caller then
        fills the tables again).
        """
        self.write_settings()
        fresh = not self.initialised
        if fresh:
            self.run("init", "--dsn", _admin_dsn(self.config.database_url))
            self.run("imp", "//obscore")
            (self.config.root / "state" / "hcdc-initialised").touch()
        changed = self.deploy_rd()
        if not (fresh or changed or tables_missing):
            return False
        self.run("imp", RD_ID)
        self.run("pub", RD_ID)
        return True

    def serve_command(self) -> list[str]:
        """The foreground server (``hcdc vo serve``, ``hcdc up --vo``)."""
        return self.command("serve", "start", "--foreground")


def _admin_dsn(database_url: str) -> str:
    """A libpq DSN for ``dachs init``, which needs a superuser (it creates roles, pgsphere)."""
    url = make_url(database_url)
    parts = [f"dbname={url.database}", f"host={url.host or 'localhost'}"]
    parts.append(f"port={url.port or 5432}")
    if url.username:
        parts.append(f"user={url.username}")
    if url.password:
        parts.append(f"password={url.password}")
    return " ".join(parts)


def _dsn_profile(database_url: str) -> str:
    """DaCHS's ``dsn`` profile (database, host, port) for a SQLAlchemy URL."""
    url = make_url(database_url)
    lines = [f"database = {url.database}", f"host = {url.host or 'localhost'}"]
    lines.append(f"port = {url.port or 5432}")
    return "\n".join(lines) + "\n"
