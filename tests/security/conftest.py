"""Security fixtures: a live server over the seed catalog, per database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_URL
from tests.security.live import Served, seeded_server


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The seed catalog served live by uvicorn, on SQLite and on PostgreSQL."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    with seeded_server(request.param, tmp_path_factory.mktemp(f"served-{request.param}")) as live:
        yield live
