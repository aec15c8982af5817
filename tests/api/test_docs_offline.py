"""The API's documentation pages render with no network but hcdc's own server."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from tests.hub.browser import chromium_page, require_browser, screenshot
from tests.security.live import uvicorn_thread


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("docs")
    settings = Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'hcdc.sqlite'}",
        resolve_targets=False,
        root_path="/services/hcdc/",
    )
    factory = Factory(settings)
    factory.init_database()
    with uvicorn_thread(factory) as url:
        yield url
    factory.close()


@pytest.mark.parametrize("prefix", ["", "/services/hcdc"])
def test_root_leads_to_docs_and_assets_are_served_locally(served, prefix):
    home = httpx.get(f"{served}{prefix}/", follow_redirects=False)
    assert home.status_code == 307
    assert home.headers["location"] == f"{prefix}/docs"
    page = httpx.get(f"{served}{prefix}/docs").text
    assert "cdn" not in page.lower()
    assert f"{prefix}/static/docs/swagger-ui-bundle.js" in page
    assert f"{prefix}/openapi.json" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        answer = httpx.get(f"{served}{prefix}/static/docs/{asset}")
        assert answer.status_code == 200, asset
        assert len(answer.content) > 100_000, asset
    redoc = httpx.get(f"{served}{prefix}/redoc").text
    assert "fonts.googleapis" not in redoc
    assert f"{prefix}/static/docs/redoc.standalone.js" in redoc


@pytest.mark.slow
def test_swagger_and_redoc_render_in_chromium_with_the_network_cut_off(served):
    require_browser()
    off_host: list[str] = []
    with chromium_page() as page:

        def only_local(route):
            host = urlsplit(route.request.url).hostname
            if host == "127.0.0.1":
                route.continue_()
            else:
                off_host.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        page.goto(f"{served}/services/hcdc/docs")
        page.wait_for_load_state("networkidle")
        page.wait_for_selector(".opblock", timeout=30_000)
        operations = page.locator(".opblock").count()
        screenshot(page, "api-docs-offline")
        assert operations >= 20
        assert "/api/process_list" in page.inner_text("body")
        assert off_host == []
        page.goto(f"{served}/services/hcdc/redoc")
        page.wait_for_selector("[role=menuitem], .menu-content", timeout=30_000)
        assert "process_list" in page.content()
    # ReDoc's bundle asks for its own "powered by" logo; the page does not need it.
    assert [u for u in off_host if not u.endswith("/logo-mini.svg")] == []
