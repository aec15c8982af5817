"""Client fixtures: the live server and a client connected to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import hcdc_kernel as hk
from tests.client.live import LiveServer, live_server

__all__ = ["live_server"]


@pytest.fixture
def dc(live_server: LiveServer) -> Iterator[hk.HcdcClient]:
    client = hk.connect(
        live_server.url,
        live_server.token,
        login=live_server.login,
        cache_dir=live_server.cache_dir,
        progress=False,
    )
    yield client
    client.close()
