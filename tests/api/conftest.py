"""API fixtures: one seeded catalog per database backend, shared by the read-only tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hcdc_server.app import create_app
from hcdc_server.factory import Factory
from tests.api.client import ApiClient, api_client
from tests.api.seed import Catalog, seeded_factory
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema


@dataclass
class Seeded:
    factory: Factory
    catalog: Catalog
    client: ApiClient
    backend: str

    def headers(self, login: str) -> dict[str, str]:
        return {"X-Auth-Ident": login, "X-Auth-Token": self.catalog.tokens[login]}

    def browse(self, endpoint: str, login: str = "root", **body: object) -> object:
        response = self.client.post(f"/api/{endpoint}", json=body, headers=self.headers(login))
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, endpoint: str, filters: dict, login: str = "root") -> list[int]:
        result = self.browse(endpoint, login, browse_filters=filters, limit=-1, sort="id ASC")
        return [item["id"] for item in result["items"]]  # type: ignore[index]


def _database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'hcdc.sqlite'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    with postgres_schema(POSTGRES_URL, prefix="t") as url:
        yield url


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """The seed catalog in a fresh database of each backend, with an API client."""
    folder = tmp_path_factory.mktemp(f"seed-{request.param}")
    for url in _database(request.param, folder):
        factory, catalog = seeded_factory(url, folder)
        with api_client(create_app(factory)) as client:
            yield Seeded(factory, catalog, client, request.param)
        factory.close()


@pytest.fixture
def app_client(factory: Factory) -> Iterator[ApiClient]:
    """A client over a fresh, empty database (for tests that write)."""
    with api_client(create_app(factory)) as client:
        yield client
