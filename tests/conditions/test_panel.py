"""The conditions panel draws seeing, tau0 and Strehl with the science frames marked, from the
API's process conditions; the process browser shows it in its Conditions tab."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import hcdc_kernel as hk
from hcdc_widgets import ProcessBrowser
from hcdc_widgets.conditions_panel import ConditionsPanel
from tests.client.live import LiveServer, live_server

__all__ = ["live_server"]


def _value(mean: float, source: str = "sparta") -> dict:
    return {
        "mean": mean,
        "std": None,
        "n": 2,
        "minimum": mean,
        "maximum": mean,
        "interpolated": False,
        "source": source,
    }


CONDITIONS = {
    "process_id": 7,
    "aggregate": {"seeing": _value(0.8, "site"), "tau0": _value(0.004), "strehl": _value(0.6)},
    "airmass": 1.1,
    "exposures": [
        {
            "window_start": "2019-05-28T03:00:00",
            "window_end": "2019-05-28T03:01:00",
            "values": {"tau0": _value(0.005), "strehl": _value(0.7)},
        },
        {
            "window_start": "2019-05-28T03:02:00",
            "window_end": "2019-05-28T03:03:00",
            "values": {"tau0": _value(0.003), "strehl": _value(0.5)},
        },
    ],
    "series": [
        {
            "parameter": "tau0",
            "source": "sparta",
            "unit": "s",
            "times": ["2019-05-28T03:00:00", "2019-05-28T03:01:30", "2019-05-28T03:03:00"],
            "values": [0.005, 0.004, 0.003],
        },
        {
            "parameter": "seeing",
            "source": "site",
            "unit": "arcsec",
            "times": ["2019-05-28T03:00:00", "2019-05-28T03:03:00"],
            "values": [0.7, 0.9],
        },
    ],
}


def test_panel_draws_series_and_marks_frames() -> None:
    panel = ConditionsPanel()
    panel.set_conditions(CONDITIONS)
    tau0 = panel.lines["tau0"]["sparta"]
    np.testing.assert_allclose(tau0.y, [5.0, 4.0, 3.0])  # drawn in ms
    assert list(tau0.x) == list(np.array(CONDITIONS["series"][0]["times"], dtype="datetime64[ms]"))
    frames = panel.frames["tau0"]
    np.testing.assert_allclose(frames.y, [5.0, 3.0])
    assert str(frames.x[0]) == "2019-05-28T03:00:30.000"  # the middle of the window
    assert list(panel.lines["seeing"]) == ["site"]
    assert frames in panel.figures["tau0"].marks and tau0 in panel.figures["tau0"].marks
    assert panel.frames["seeing"].y.size == 0  # no exposure value of its own
    assert "tau0</b> 4 ms (sparta)" in panel.summary.value
    assert "2 science exposure(s)" in panel.summary.value
    panel.clear("nothing here")
    assert panel.frames["tau0"].y.size == 0 and "nothing here" in panel.summary.value


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


def test_process_browser_shows_the_conditions_of_a_demo_process(dc: hk.HcdcClient) -> None:
    science = dc.data(data_frame_type="IRD_SCIENCE_DBI_RAW", obs_night_date="2019-05-27")
    ids = sorted(int(i) for i in science["id"])
    assert science["strehl"].tolist() and all(v is not None for v in science["strehl"])
    process = dc.launch("hcdc_echo", ids, reference="conditions-panel", force=True)[0]
    body = dc.conditions(process.id)
    assert len(body["exposures"]) == len(ids)
    assert {s["parameter"] for s in body["series"]} == {"seeing", "tau0", "strehl"}
    strehl = [e["values"]["strehl"]["mean"] for e in body["exposures"]]
    assert body["aggregate"]["strehl"]["mean"] == pytest.approx(np.mean(strehl))
    browser = ProcessBrowser(dc, filters={"PROCESS_ID": process.id}, live=False)
    browser.select(process.id)
    panel = browser.conditions
    assert panel.process_id == process.id
    assert panel.frames["strehl"].y.size == len(ids)
    assert panel.lines["tau0"]["sparta"].y.size > len(ids)
    assert panel.lines["seeing"]["site"].y.size > 0
    with pytest.raises(hk.HcdcNotFoundError):
        dc.conditions(10**9)


def test_data_browser_filters_by_strehl(dc: hk.HcdcClient) -> None:
    from hcdc_widgets import DataBrowser

    browser = DataBrowser(dc)
    browser.set_filter("DATA_FRAME_TYPE", "IRD_SCIENCE_DBI_RAW")
    browser.set_filter("STREHL", (0.7, None))
    browser.search()
    assert browser.filters["STREHL"] == {"min": 0.7}
    expected = dc.data(data_frame_type="IRD_SCIENCE_DBI_RAW", strehl={"min": 0.7})
    assert {row["id"] for row in browser.table.items} == {int(i) for i in expected["id"]}
    everything = dc.data(data_frame_type="IRD_SCIENCE_DBI_RAW")
    assert 0 < len(expected) < len(everything)  # the bad spell's exposures are below 0.7
