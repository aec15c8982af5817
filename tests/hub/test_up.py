"""`hcdc up` parts that need no hub: data preparation and the no-orphan shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psutil
import pytest

from hcdc_server.exceptions import AuthenticationError
from hcdc_server.schema.tables import DataFile
from hcdc_server.up import UP_TOKEN_NAME, prepare_data


def _count_files(factory) -> int:
    with factory.sessions() as session:
        return session.query(DataFile).count()


def test_prepare_data_installs_the_demo_once_and_rotates_the_login(factory):
    first = prepare_data(factory, demo=True, quick=True)
    assert first is not None
    users = factory.users()
    assert users.authenticate(first.login, first.password).login == first.login
    files = _count_files(factory)
    assert files > 0
    second = prepare_data(factory, demo=True, quick=True)
    assert second is not None
    assert _count_files(factory) == files
    assert users.authenticate(second.login, second.password).login == second.login
    with pytest.raises(AuthenticationError, match="revoked"):
        users.authenticate(first.login, first.password)
    live = [
        t for t in users.list_tokens(first.login) if t.name == UP_TOKEN_NAME and not t.revoked_at
    ]
    assert len(live) == 1


def test_prepare_data_without_demo_only_creates_the_database(factory):
    assert prepare_data(factory, demo=False, quick=True) is None
    assert _count_files(factory) == 0
    assert factory.users().list_users() == []


# A stand-in for the hub: one child in its own session ignoring SIGTERM (like a user server
# whose hub forgot it) and one double-forked orphan ignoring SIGTERM too.
FAKE_HUB = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    child = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    if os.fork() == 0:
        orphan = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
        print(orphan.pid, flush=True)
        os._exit(0)
    print(child.pid, flush=True)
    time.sleep(300)
    """
)

DRIVER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import psutil
    from hcdc_server.config import Settings
    from hcdc_server.up import HubProcess, become_subreaper

    become_subreaper()
    settings = Settings(data_dir=Path(sys.argv[1]))
    hub = HubProcess(settings, env={}, log_file=Path(sys.argv[1]) / "hub.log",
                     command=[sys.executable, "-c", sys.argv[2]])
    hub.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = (Path(sys.argv[1]) / "hub.log").read_text().split()
        if len(lines) == 2:
            break
        time.sleep(0.1)
    started = [hub.pid, *map(int, lines)]
    before = [p.pid for p in hub.descendants()]
    killed = hub.stop(grace_s=2)
    alive = [pid for pid in started if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    print(json.dumps({"started": started, "before": before, "killed": killed, "alive": alive}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreaper is Linux-only")
def test_stop_leaves_no_process_behind_even_orphans_and_stubborn_ones(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path), FAKE_HUB],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["started"]) == 3
    assert set(report["started"]) <= set(report["before"])  # orphans stayed descendants
    assert report["alive"] == []
    assert not any(psutil.pid_exists(pid) for pid in report["started"][1:])
