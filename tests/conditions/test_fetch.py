"""Site-monitor samples fetched from an ambient archive over HTTP (a stand-in server answering
the ESO form's query in the form's CSV), cached by night, and a clear word when it is out of
reach (SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from hcdc_kernel.conditions import ConditionParameter as P
from hcdc_server.cli import main
from tests.conditions.conftest import Night
from tests.conditions.files import at, site_csv


class _Archive(ThreadingHTTPServer):
    queries: list[dict[str, list[str]]]


class _Form(BaseHTTPRequestHandler):
    server: _Archive

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        self.server.queries.append(query)
        first, last = (datetime.fromisoformat(t) for t in query["start_date"][0].split(".."))
        rows = []
        when = first
        while when <= last:
            seconds = (when - at(0)).total_seconds()
            rows.append((when, 0.5 + seconds / 36000.0, 0.005, 6.0, 20.0))
            when = at(seconds + 60)
        body = site_csv(rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def archive() -> Iterator[tuple[str, _Archive]]:
    server = _Archive(("127.0.0.1", 0), _Form)
    server.queries = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/wdb/wdb/asm/mass_paranal/query", server
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fetch_asks_once_per_night_links_frames_and_caches(night: Night, archive) -> None:
    url, server = archive
    service = night.factory.conditions()
    reports = service.fetch_site(url)
    assert [r.status for r in reports] == ["imported"]
    assert reports[0].frames_linked >= 2
    query = server.queries[0]
    assert query["wdbo"] == ["csv"]
    first, last = (datetime.fromisoformat(t) for t in query["start_date"][0].split(".."))
    assert first <= at(0) and last >= at(90)
    edge = service.file_conditions([night.ids["edge"]]).parameters
    assert edge[P.SEEING].source == "site"
    assert edge[P.TAU0].stats.mean == pytest.approx(0.005)
    # The import is the cache: a night covered is not asked again.
    assert service.fetch_site(url) == []
    assert len(server.queries) == 1


def test_fetch_offline_says_so_keeps_everything_and_exits_3(night: Night, tmp_path) -> None:
    before = night.factory.conditions().file_conditions([night.ids["edge"]]).parameters
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "--data-dir",
            str(tmp_path / "unused"),
            "conditions",
            "fetch",
            "--url",
            f"http://127.0.0.1:{_closed_port()}/query",
        ],
        env={"HCDC_DATABASE_URL": night.factory.settings.database_url},
    )
    assert result.exit_code == 3, result.output
    assert "cannot be reached" in result.output and "hcdc conditions import" in result.output
    after = night.factory.conditions().file_conditions([night.ids["edge"]]).parameters
    assert {p: v.stats.mean for p, v in after.items()} == {
        p: v.stats.mean for p, v in before.items()
    }
