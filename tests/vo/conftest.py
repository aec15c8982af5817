"""The published site, shared by the VO tests (the reduced demo takes a few minutes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_URL
from tests.vo.site import VoSite, start_site


@pytest.fixture(scope="session")
def vo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VoSite]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    yield from start_site(tmp_path_factory.mktemp("vo"), POSTGRES_URL)
