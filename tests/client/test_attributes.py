"""Extended attributes of a process from a notebook: set, browse, remove."""

from __future__ import annotations

import pytest

import hcdc_kernel as hk

pytestmark = pytest.mark.slow


def test_set_browse_and_remove_an_attribute(dc) -> None:
    darks = [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW", sort="id ASC")["id"][:1]]
    process = dc.launch("hcdc_echo", darks, reference="attributes")[0]
    assert dc.set_attribute(process.id, "quality", "good") == {"quality": "good"}
    assert dc.set_attribute(process.id, "seeing", "0.6") == {"quality": "good", "seeing": "0.6"}
    found = dc.processes(extended_attribute={"quality": "good"})
    assert process.id in list(found["id"])
    assert dc.process(process.id).info["attributes"]["seeing"] == "0.6"
    dc.delete_attribute(process.id, "quality")
    assert process.id not in list(dc.processes(extended_attribute={"quality": "*"})["id"])
    with pytest.raises(hk.HcdcNotFoundError):
        dc.delete_attribute(process.id, "quality")
