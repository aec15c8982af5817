"""Resource limits: every pathological request is answered quickly with 400, 413 or 503, never 500.

- a file with thousands of extensions: counted once at ingest and served from the catalog;
  refused past ``max_extensions``;
- a tile-compressed bomb (a small file whose image decompresses to far more): refused at ingest
  and upload past ``max_decompressed_bytes``, and by the product readers and widgets before
  they load it;
- browse bodies: too many values or wildcard patterns per filter (400 naming the filter),
  answers past ``max_page_rows`` (400 naming the export route, which streams every row);
- statements past the statement timeout: 503 on SQLite and PostgreSQL;
- download scripts: a hostile Host header never reaches the shell.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import insert, text

from hcdc_kernel.client.products import ImageTooLargeError, load_product
from hcdc_server.app import create_app
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import DataFile
from hcdc_server.services import downloads
from hcdc_server.services.downloads import ScriptEntry
from hcdc_server.storage.database import (
    create_db_engine,
    is_statement_timeout,
    is_unavailable,
    no_statement_timeout,
)
from hcdc_widgets.fits_view import ImageView
from tests.api.client import ApiClient, api_client
from tests.server.fits_factory import write_frame

MiB = 1 << 20


@contextmanager
def served(settings: Settings, **changes: Any) -> Iterator[tuple[Factory, ApiClient]]:
    """A migrated factory with ``changes`` to ``settings``, and a client over its app."""
    factory = Factory(settings.model_copy(update=changes))
    factory.init_database()
    try:
        with api_client(create_app(factory)) as client:
            yield factory, client
    finally:
        factory.close()


def user_headers(factory: Factory, login: str = "alice", role: str = "user") -> dict[str, str]:
    users = factory.users()
    users.add_user(login, role=role)  # type: ignore[arg-type]
    return {"X-Auth-Ident": login, "X-Auth-Token": users.create_token(login).token}


def timed(call: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


# -- extensions ------------------------------------------------------------------------------


def with_empty_extensions(path: Path, count: int) -> Path:
    """A valid frame followed by ``count`` empty image extensions (one header block each)."""
    write_frame(path)
    block = fits.ImageHDU().header.tostring().encode("ascii")
    assert len(block) == 2880
    with path.open("ab") as out:
        for _ in range(count // 1000):
            out.write(block * 1000)
        out.write(block * (count % 1000))
    return path


def test_many_extensions_are_counted_once_at_ingest_and_served_from_the_catalog(
    settings: Settings, tmp_path: Path
) -> None:
    """20 000 empty extensions: GET /api/data/{id} no longer opens the file (4 s before)."""
    path = with_empty_extensions(tmp_path / "many.fits", 20_000)
    with served(settings, max_extensions=20_000) as (factory, client):
        headers = user_headers(factory)
        records: list[Any] = []
        _, ingest_s = timed(lambda: factory.ingest().ingest([path], on_record=records.append))
        assert records[0].status == "ingested", records[0]
        url = f"/api/data/{records[0].id}"
        assert client.get(url, headers=headers).status_code == 200  # first request: warm-up
        times = []
        for _ in range(5):
            response, elapsed = timed(lambda: client.get(url, headers=headers))
            assert response.status_code == 200, response.text
            times.append(elapsed)
        assert response.json()["extension_count"] == 20_001
        median = statistics.median(times)
        print(f"ingest {ingest_s:.2f} s; GET /api/data/{{id}} median {median * 1000:.1f} ms")
        assert median < 0.1, times


def test_a_file_past_the_extension_limit_is_rejected_with_its_reason(
    factory: Factory, tmp_path: Path
) -> None:
    good = write_frame(tmp_path / "in" / "good.fits", value=1)
    many = with_empty_extensions(tmp_path / "in" / "many.fits", 1001)
    fine = with_empty_extensions(tmp_path / "in" / "fine.fits", 1000)
    records: list[Any] = []
    summary, elapsed = timed(
        lambda: factory.ingest().ingest([tmp_path / "in"], on_record=records.append)
    )
    by_name = {Path(r.path).name: r for r in records}
    assert (summary.ingested, summary.rejected) == (2, 1)
    assert by_name[good.name].status == by_name[fine.name].status == "ingested"
    assert by_name[many.name].status == "rejected"
    assert "more than 1000 extensions" in str(by_name[many.name].reason)
    assert "HCDC_MAX_EXTENSIONS" in str(by_name[many.name].reason)
    assert elapsed < 5


# -- tile-compressed bombs -------------------------------------------------------------------

BOMB_SHAPE = (2048, 2048)  # float64: 32 MiB once decompressed


def write_bomb(path: Path) -> Path:
    """A valid frame plus a tile-compressed image of zeros: a few KiB on disk, 32 MiB loaded."""
    write_frame(path)
    image = fits.CompImageHDU(
        np.zeros(BOMB_SHAPE, dtype=np.float64), compression_type="GZIP_1", tile_shape=(256, 2048)
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), image]).writeto(buffer)
    with path.open("ab") as out:
        out.write(buffer.getvalue()[2880:])  # the extension, after the empty primary's block
    with fits.open(path) as hdul:  # a real compressed image, as astropy reads it
        assert isinstance(hdul[1], fits.CompImageHDU)
        assert hdul[1].shape == BOMB_SHAPE
    return path


def test_a_tile_compressed_bomb_is_refused_at_ingest_and_upload(
    settings: Settings, tmp_path: Path
) -> None:
    bomb = write_bomb(tmp_path / "bomb.fits")
    size = bomb.stat().st_size
    assert size < 100 * 1024
    with served(settings, max_decompressed_bytes=16 * MiB) as (factory, client):
        records: list[Any] = []
        factory.ingest().ingest([bomb], on_record=records.append)
        assert records[0].status == "rejected"
        reason = str(records[0].reason)
        assert "once decompressed" in reason and "HCDC_MAX_DECOMPRESSED_BYTES" in reason
        assert str(16 * MiB) in reason

        factory.workspaces().add_workspace("w", owner_login=None)
        headers = user_headers(factory)
        factory.workspaces().set_member("w", "alice", "editor")
        response, elapsed = timed(
            lambda: client.post(
                "/api/data",
                files={"file": ("bomb.fits", bomb.read_bytes(), "application/fits")},
                data={"workspace": "w"},
                headers=headers,
            )
        )
        assert response.status_code == 413, response.text
        assert "once decompressed" in response.json()["message"]
        assert elapsed < 2
        print(f"bomb: {size} bytes on disk, {8 * BOMB_SHAPE[0] * BOMB_SHAPE[1]} decompressed")
        # The same file is accepted where the limit allows it.
    with served(settings) as (factory, _):
        records = []
        factory.ingest().ingest([bomb], on_record=records.append)
        assert records[0].status == "ingested", records[0]


def test_product_readers_and_widgets_check_an_image_size_before_loading_it(
    tmp_path: Path,
) -> None:
    bomb = write_bomb(tmp_path / "bomb.fits")
    with pytest.raises(ImageTooLargeError, match=r"2048 x 2048.*32 MiB.*16 MiB"):
        load_product(bomb, max_image_bytes=16 * MiB)
    assert load_product(bomb)[1].shape == BOMB_SHAPE  # within the default limit

    view = ImageView()
    view.max_image_bytes = 16 * MiB
    with fits.open(bomb) as hdul:
        hdu = hdul[1]
        with pytest.raises(ImageTooLargeError, match="16 MiB limit"):
            view.show_hdu(hdu)
        assert "data" not in hdu.__dict__  # never decompressed
        assert view.png == b""
        view.max_image_bytes = 64 * MiB
        view.show_hdu(hdu, caption="bomb")
        assert view.png.startswith(b"\x89PNG")


# -- browse bodies ---------------------------------------------------------------------------


def insert_files(factory: Factory, count: int, *, start: int = 1) -> None:
    """``count`` public data files (rows only), OBJECT values long enough to make LIKE work."""
    now = datetime(2020, 3, 20, 4, 0)
    rows = [
        {
            "id": i,
            "path": f"/nowhere/f{i}.fits",
            "filename": f"f{i}.fits",
            "checksum": f"{i:064x}",
            "size": 2880,
            "frame_type": "IRD_SCIENCE_DBI_RAW",
            "object": f"HD {i:06d} " + "abcdefghij" * 11,
            "is_public": True,
            "ingested_at": now,
        }
        for i in range(start, start + count)
    ]
    with factory.sessions.begin() as session:
        for first in range(0, len(rows), 5000):
            session.execute(insert(DataFile), rows[first : first + 5000])


@pytest.fixture
def browse(settings: Settings) -> Iterator[tuple[Factory, ApiClient, dict[str, str]]]:
    """120 public data files, answers of at most 50 rows, and a user's headers."""
    with served(settings, max_page_rows=50) as (factory, client):
        insert_files(factory, 120)
        yield factory, client, user_headers(factory)


def test_pathological_filter_bodies_are_refused_quickly_naming_the_filter(browse) -> None:
    """900 and 1000 wildcard OBJECT patterns (43.5 s and a 500 before), long lists, long values."""
    _, client, headers = browse
    cases: list[tuple[Any, str]] = [
        ([f"*{i:03d}*" for i in range(900)], "900 wildcard patterns, at most 20"),
        ([f"*{i:04d}*x*" for i in range(1000)], "1000 wildcard patterns, at most 20"),
        ([f"HD {i:06d}" for i in range(101)], "101 values, at most 100"),
        ("HD *" + "x" * 1100, "a value of 1104 characters, at most 1024"),
    ]
    for value, words in cases:
        body = {"browse_filters": {"OBJECT": value}, "count": True}
        response, elapsed = timed(
            lambda body=body: client.post("/api/data_list", json=body, headers=headers)
        )
        print(
            f"{len(json.dumps(body))} byte body: {response.status_code} in {elapsed * 1000:.0f} ms"
        )
        assert response.status_code == 400, response.text
        assert "filter OBJECT" in response.json()["message"]
        assert words in response.json()["message"]
        assert elapsed < 2
    within = {"browse_filters": {"OBJECT": [f"*{i:03d} *" for i in range(1, 21)]}, "count": True}
    response = client.post("/api/data_list", json=within, headers=headers)
    assert response.status_code == 200 and response.json() == {"count": 20}


def test_answers_past_the_row_cap_are_refused_naming_the_export_route(browse) -> None:
    _, client, headers = browse

    def post(**body: Any) -> Any:
        return client.post("/api/data_list", json=body, headers=headers)

    for body in ({"limit": -1}, {"limit": -1, "extract": "id"}, {"limit": 51}):
        response = post(**body)
        assert response.status_code == 400, (body, response.text)
        assert "/api/data_list/export" in response.json()["message"]
    grouped = post(limit=-1, group="id", extract="count()")
    assert grouped.status_code == 400
    assert "more than 50 groups" in grouped.json()["message"]
    assert len(post(limit=50).json()["items"]) == 50
    assert len(post(limit=-1, browse_filters={"OBJECT": "HD 00000*"}).json()["items"]) == 9
    assert post(limit=-1, page=2).json()["items"] == []
    assert post(count=True).json() == {"count": 120}
    assert post(limit=-1, group="data_frame_type", extract="count()").json() == {
        "groups": {"IRD_SCIENCE_DBI_RAW": 120}
    }


def test_the_export_routes_stream_every_visible_row(browse) -> None:
    factory, client, headers = browse
    insert_files(factory, 5, start=1001)
    with factory.sessions.begin() as session:
        session.execute(
            text("UPDATE data_files SET is_public = :no WHERE id > 1000"), {"no": False}
        )
    response = client.post("/api/data_list/export", json={}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    items = [json.loads(line) for line in response.text.splitlines()]
    assert [item["id"] for item in items] == list(range(1, 121))  # 3 chunks, private ones hidden
    listed = client.post("/api/data_list", json={"limit": 10}, headers=headers).json()["items"]
    assert items[-10:][::-1] == listed  # the same items as the list shows

    body = {"browse_filters": {"OBJECT": "HD 00001*"}, "sort": "id DESC", "format": "csv"}
    response = client.post("/api/data_list/export", json=body, headers=headers)
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].split(",")[0] == "id"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(19, 9, -1))

    admin = user_headers(factory, "ada", "admin")
    everything = client.post("/api/data_list/export", json={}, headers=admin).text.splitlines()
    assert len(everything) == 125
    refused = client.post(
        "/api/data_list/export", json={"browse_filters": {"OBJECT": ["*a*"] * 21}}, headers=admin
    )
    assert refused.status_code == 400 and "filter OBJECT" in refused.json()["message"]
    processes = client.post("/api/process_list/export", json={"format": "csv"}, headers=admin)
    assert processes.status_code == 200 and processes.text.startswith("id,")


def test_a_failed_statement_never_logs_its_sql_or_values_at_error_level(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With the pattern limit lifted, 1000 patterns exceed SQLite's expression depth: a bare 500
    whose error log names the cause, not 110 KB of SQL and values."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'hcdc.sqlite'}",
        resolve_targets=False,
    )
    patterns = [f"*{i:04d}*x*" for i in range(1000)]
    with served(settings, browse_max_patterns=1000, browse_max_values=1000) as (factory, client):
        headers = user_headers(factory)
        with caplog.at_level("DEBUG"):
            response = client.post(
                "/api/data_list",
                json={"browse_filters": {"OBJECT": patterns}, "count": True},
                headers=headers,
            )
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal server error"}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and "Expression tree is too large" in errors[0].getMessage()
    for record in errors:
        assert record.exc_info is None  # no traceback, whose last line would be the SQL
        assert "SELECT" not in record.getMessage() and "0999" not in record.getMessage()
    assert "0999" not in caplog.text  # bound values: not even at debug level


# -- statement timeouts ------------------------------------------------------------------------

SLOW_SQL = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000)"
    " SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(5)",
}
#: Slower than the 0.2 s timeout below, quick enough to wait for.
LONGER = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
    " SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(0.4)",
}


def test_a_statement_past_the_timeout_is_stopped_on_both_databases(database_url: str) -> None:
    engine = create_db_engine(database_url, statement_timeout_s=0.2)
    try:
        with engine.connect() as connection:
            slow = SLOW_SQL[connection.dialect.name]
            start = time.perf_counter()
            with pytest.raises(Exception) as caught:
                connection.execute(text(slow))
            elapsed = time.perf_counter() - start
            connection.rollback()
            assert is_statement_timeout(caught.value), caught.value
            assert not is_unavailable(caught.value)  # never retried as an outage
            assert 0.15 < elapsed < 1.5, elapsed
            assert connection.execute(text("SELECT 1")).scalar_one() == 1  # still usable
        with engine.begin() as connection, no_statement_timeout(connection):  # migrations
            _, lifted = timed(lambda: connection.execute(text(LONGER[connection.dialect.name])))
        assert lifted > 0.2, lifted
    finally:
        engine.dispose()


def test_a_browse_past_the_statement_timeout_answers_503(settings: Settings) -> None:
    """Within every filter limit but slow (20 patterns on 100 000 long values): 503, quickly."""
    with served(settings) as (factory, _):
        insert_files(factory, 100_000)
        headers = user_headers(factory)
    patterns = [f"*{c}*q*{c}*z*" for c in "abcdefghijklmnopqrst"]
    body = {"browse_filters": {"OBJECT": patterns}, "sort": "object ASC", "limit": 10}
    with served(settings) as (_, client):
        response, unlimited = timed(
            lambda: client.post("/api/data_list", json=body, headers=headers)
        )
        assert response.status_code == 200
    with served(settings, statement_timeout_s=0.1) as (_, client):
        response, elapsed = timed(lambda: client.post("/api/data_list", json=body, headers=headers))
    print(
        f"without a timeout {unlimited:.2f} s; with 0.1 s: {response.status_code} in {elapsed:.2f} s"
    )
    assert unlimited > 0.2
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "query_timeout"
    assert "statement timeout" in response.json()["message"]
    assert elapsed < 2


# -- download scripts ------------------------------------------------------------------------


def test_a_hostile_host_header_never_reaches_the_script(factory: Factory, tmp_path: Path) -> None:
    """``$(touch$IFS.ran)`` is a Host header Starlette accepts (RFC 3986 sub-delimiters); the
    script used to embed it where bash ran it."""
    marker = tmp_path / ".ran"
    path = write_frame(tmp_path / "a.fits")
    records: list[Any] = []
    factory.ingest().ingest([path], on_record=records.append)
    body = {"data_ids": [records[0].id]}
    with api_client(create_app(factory)) as client:
        headers = user_headers(factory)
        response = client.post(
            "/api/download_script", json=body, headers={**headers, "Host": "$(touch$IFS.ran)"}
        )
        fine = client.post(
            "/api/download_script", json=body, headers={**headers, "Host": "hcdc.example:8080"}
        )
    if response.status_code == 200:  # what a script would do with it: it must run nothing
        setup = response.text[: response.text.index("headers=")]
        subprocess.run(["bash"], input=setup, text=True, capture_output=True, cwd=tmp_path)
    assert not marker.exists()
    assert response.status_code == 400, response.text
    assert "Host header" in response.json()["message"]
    assert fine.status_code == 200
    assert "hcdc_default_url=http://hcdc.example:8080\n" in fine.text
    check = subprocess.run(["bash", "-n"], input=fine.text, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr


def test_the_script_quotes_its_url_so_the_shell_runs_nothing_in_it(
    factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a URL that escaped the Host check is data to bash, never code."""
    marker = tmp_path / ".ran"
    hostile = "http://$(touch$IFS.ran)`touch$IFS.ran`'\"/"
    monkeypatch.setattr(downloads, "_BASE_URL", downloads.re.compile(".*"))
    script = factory.downloads().script(
        [ScriptEntry(data_id=1, filename="a.fits", size=10)],
        base_url=hostile,
        login="alice",
        token="k.$(touch$IFS.ran)",
        folder="out",
    )
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    setup = script[: script.index("headers=")] + 'printf "%s\\n%s" "$HCDC_URL" "$HCDC_TOKEN"\n'
    ran = subprocess.run(
        ["bash"],
        input=setup,
        text=True,
        capture_output=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [hostile.rstrip("/"), "k.$(touch$IFS.ran)"]
    assert not marker.exists()
