"""Client launches and process actions against a live server and worker."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

import hcdc_kernel as hk

pytestmark = pytest.mark.slow


def _darks(dc, n: int = 2) -> list[int]:
    return [int(i) for i in dc.data(data_frame_type="IRD_DARK_RAW", sort="id ASC")["id"][:n]]


@pytest.fixture
def finished(dc):
    """A finished hcdc_echo process waiting for validation."""
    batch = dc.launch("hcdc_echo", _darks(dc), message="hello", reference="finished")
    batch.wait(timeout_s=120, progress=False)
    return batch[0]


def test_recipes_recipe_and_workflows(dc):
    recipes = {r.name: r for r in dc.recipes()}
    dark = recipes["naco_img_dark"]
    assert dark.parameters["hot_t"]["type"] == "number"
    assert dark.defaults("small_frames")["r"] == "10 10 10 10"
    assert "hcdc_echo" in recipes  # shown by the administrator (tests/client/live.py)
    # Nothing is hidden from a user who is not an administrator, even when asked for.
    assert {r.name for r in dc.recipes(include_hidden=True)} == set(recipes)
    assert dc.recipe("hcdc_echo").version == "1.1"
    assert dc.recipe("hcdc_echo", version="1.0").needs_validation is False
    with pytest.raises(hk.HcdcNotFoundError):
        dc.recipe("no_such_recipe")
    assert "naco_calibration" in {w.name for w in dc.workflows()}


def test_associate_previews_the_inputs(dc):
    ids = _darks(dc, 3)
    previews = dc.associate("hcdc_echo", ids)
    assert sum(len(p.primary_ids) for p in previews) == 3
    assert all(p.complete for p in previews)
    with pytest.raises(hk.HcdcRequestError):
        dc.associate("naco_img_dark", ids)


def test_launch_wait_inputs_outputs_sof_and_products(dc, finished):
    assert finished.status == "waiting_validation"
    assert finished.validation_status == "to_validate"
    assert finished.progress == 100.0
    assert finished.info["params"]["message"] == "hello"
    inputs = finished.inputs
    assert isinstance(inputs, Table)
    assert sorted(inputs["data_file_id"]) == _darks(dc)
    sof = finished.sof()
    assert len(sof.strip().splitlines()) == 2
    for name in inputs["file_name"]:
        assert name in sof
    outputs = finished.outputs
    assert len(outputs) == 1
    products = finished.products()
    (hdu,) = products.values()
    assert isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU)
    assert np.all(hdu.data == 2)  # hcdc_echo writes the number of inputs
    assert finished.product("HCDC_ECHO").header["HIERARCH ESO QC MESSAGE"] == "hello"
    with pytest.raises(KeyError):
        finished.product("HCI_CONTRAST_CURVE")


def test_validation_actions_record_history(dc, finished):
    finished.to_reprocess("centre is off")
    assert finished.validation_status == "to_reprocess"
    finished.reject("bad frames")
    assert finished.validation_status == "rejected"
    finished.accept()
    assert finished.validation_status == "valid"
    assert dc.process(finished.id).validation_status == "valid"
    history = finished.validation_history()
    assert [e["to_status"] for e in history] == ["to_reprocess", "rejected", "valid"]
    assert history[0]["comment"] == "centre is off"


def test_a_process_whose_recipe_needs_no_validation_can_still_be_labelled(dc):
    batch = dc.launch("hcdc_echo", _darks(dc, 1), version="1.0")
    process = batch.wait(timeout_s=120, progress=False)[0]
    assert process.status == "done" and process.validation_status is None
    assert process.labellable
    process.reject("not needed here")
    assert process.status == "done" and process.validation_status == "rejected"
    assert [e["to_status"] for e in process.validation_history()] == ["rejected"]


def test_reprocess_with_new_parameters(dc, finished):
    again = finished.reprocess(params={"message": "second"})
    assert again.id != finished.id
    again.wait(timeout_s=120, progress=False)
    assert again.info["params"]["message"] == "second"
    assert again.info["reprocess_of_id"] == finished.id
    assert dc.process(finished.id).info["reprocessed_by_id"] == again.id


def test_cancel_and_wait_timeout(dc):
    process = dc.launch("hcdc_sleep", [], seconds=60)[0]
    with pytest.raises(hk.HcdcTimeoutError):
        process.wait(timeout_s=0.5, poll_s=0.1, progress=False)
    process.cancel()
    assert process.status == "cancelled"
    with pytest.raises(hk.HcdcProcessError) as error:
        process.wait(timeout_s=30, progress=False)
    assert error.value.process_id == process.id


def test_failed_process_raises_on_wait_unless_asked_not_to(dc):
    batch = dc.launch("hcdc_sleep", [], fail="raise")
    with pytest.raises(hk.HcdcProcessError, match="error"):
        batch.wait(timeout_s=120, poll_s=0.2, progress=False)
    assert batch[0].wait(raise_on_error=False, progress=False).status == "error"


def test_launch_with_association_and_tag_mapping(dc):
    ids = _darks(dc, 2)
    associated = dc.launch("hcdc_echo", ids, associate=True, version="1.0")
    assert sum(len(p.inputs) for p in associated.wait(timeout_s=120, progress=False)) == 2
    tagged = dc.launch("hcdc_echo", {"ANY": ids}, version="1.0").wait(timeout_s=120, progress=False)
    assert set(tagged[0].inputs["sof_tag"]) == {"ANY"}
    with pytest.raises(ValueError):
        dc.launch("hcdc_echo", {"ANY": ids}, associate=True)
    with pytest.raises(hk.HcdcRequestError):
        dc.launch("hcdc_echo", ids, no_such_param=1)


def test_launch_workflow_refuses_a_selection_without_its_inputs(dc):
    with pytest.raises(hk.HcdcRequestError) as error:
        dc.launch_workflow("naco_calibration", _darks(dc, 1))
    assert error.value.message


def test_process_not_found_and_log(dc, finished):
    with pytest.raises(hk.HcdcNotFoundError):
        dc.process(10**8)
    assert isinstance(finished.log(), str)
