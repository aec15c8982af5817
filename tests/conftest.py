"""Shared fixtures: a Factory on SQLite and, where HCDC_TEST_POSTGRES_URL is set, on PostgreSQL.

Tests that take the ``factory`` fixture run once per database backend. The PostgreSQL run is
reported as skipped (with the reason) when no server is configured, never silently passed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from tests.databases import postgres_schema

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
POSTGRES_URL = os.environ.get("HCDC_TEST_POSTGRES_URL")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when the shared data is absent."""
    path = SHARED_DIR.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (CI provides ../shared beside the checkout)")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hcdc.sqlite'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    with postgres_schema(POSTGRES_URL, prefix="t") as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, resolve_targets=False)


@pytest.fixture
def factory(settings: Settings) -> Iterator[Factory]:
    made = Factory(settings)
    made.init_database()
    yield made
    made.close()


REQUIRE_ALL = os.environ.get("HCDC_TEST_REQUIRE_ALL", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Where every part must be present (CI), a skipped test is a failure naming what is missing."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where HCDC_TEST_REQUIRE_ALL is set: {reason}"
