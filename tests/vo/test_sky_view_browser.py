"""The published positions in the sky view: a TAP query on the VO site, drawn by Aladin Lite in
headless Chromium with nothing but the local servers reachable."""

from __future__ import annotations

import pytest
import pyvo

from tests.vo.site import VoSite
from tests.widgets.test_voila import ARTIFACTS, _serve_voila, browser
from tests.widgets.voila import route_only_local, wait_for_markers

__all__ = ["browser"]

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_published_positions_are_drawn_in_the_sky_view(vo_site: VoSite, browser, tmp_path) -> None:
    adql = "SELECT COUNT(*) AS n FROM ivoa.obscore WHERE s_ra IS NOT NULL AND calib_level = 1"
    published = int(pyvo.dal.TAPService(vo_site.tap_url).run_sync(adql)["n"][0])
    assert published > 0
    source = (
        "from hcdc_widgets import SkyView\n"
        "sky = SkyView(fov=2.0)\n"
        f"shown = sky.show_vo({vo_site.tap_url!r})\n"
        "print(f'shown={shown}')\n"
        "sky\n"
    )
    server, url, log = _serve_voila(tmp_path, source, {})
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        route_only_local(page)
        page.goto(url, timeout=120_000)
        page.get_by_text(f"shown={published}").wait_for(timeout=120_000)
        view = page.locator(".aladin-widget").first
        view.wait_for(timeout=120_000)
        drawn = wait_for_markers(page, view)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-skyview-vo.png"))
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert drawn > 20, "no published position drawn"
