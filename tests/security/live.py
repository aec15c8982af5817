"""A live uvicorn server (in a thread) over the API seed catalog, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from hcdc_server.app import create_app
from hcdc_server.factory import Factory
from tests.api.seed import Catalog, seeded_factory
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema


@dataclass(frozen=True)
class Served:
    url: str
    factory: Factory
    catalog: Catalog

    def headers(self, login: str = "root") -> dict[str, str]:
        return {"X-Auth-Ident": login, "X-Auth-Token": self.catalog.tokens[login]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'hcdc.sqlite'}"
        return
    assert POSTGRES_URL, "PostgreSQL not configured"
    with postgres_schema(POSTGRES_URL, prefix="t") as url:
        yield url


@contextmanager
def uvicorn_thread(factory: Factory) -> Iterator[str]:
    """Serve ``create_app(factory)`` with uvicorn in a daemon thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(factory), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def seeded_server(backend: str, folder: Path) -> Iterator[Served]:
    """The API seed catalog in a fresh database of ``backend``, served live."""
    with database(backend, folder) as url:
        factory, catalog = seeded_factory(url, folder)
        try:
            with uvicorn_thread(factory) as base:
                yield Served(base, factory, catalog)
        finally:
            factory.close()
