"""Workflows: steps wait for parents, take their products; a failure stops the descendants."""

from __future__ import annotations

import pytest

from hcdc_kernel.recipes.workflow import IRDIS_DBI, IRDIS_DBI_ESOREX, WorkflowSpec, WorkflowStep
from hcdc_server.exceptions import InvalidInputError
from hcdc_server.models.processes import WorkflowLaunchRequest
from tests.dispatch.helpers import ingest, run_worker, user_id, write_naco_dark

DAG = WorkflowSpec(
    name="selftest",
    version="1",
    steps=(
        WorkflowStep("a", "hcdc_echo", params={"category": "STEP_A"}),
        WorkflowStep("b", "hcdc_sleep", params={"fail": "raise"}, from_steps={"ANY": "a"}),
        WorkflowStep("c", "hcdc_echo", from_steps={"ANY": "b"}),
        WorkflowStep("e", "hcdc_echo", after=("c",)),
        WorkflowStep("d", "hcdc_echo", params={"message": "from a"}, from_steps={"ANY": "a"}),
    ),
)


def test_failed_step_stops_its_descendants_with_a_clear_reason(factory, tmp_path):
    selection = ingest(factory, [write_naco_dark(tmp_path / "d.fits")])
    factory.workflows().add(DAG)
    result = factory.workflows().launch(
        "selftest", WorkflowLaunchRequest(selection=selection), user_id=user_id(factory)
    )
    steps = {p.workflow_step: p.id for p in result.processes}
    assert set(steps) == {"a", "b", "c", "d", "e"}
    run_worker(factory)
    got = {name: factory.processes().get(pid) for name, pid in steps.items()}
    assert got["a"].status == "done"
    assert got["b"].status == "error" and "failed on purpose" in got["b"].error
    assert got["c"].status == "cancelled"
    assert got["c"].error == f"not run: step 'b' (process {steps['b']}) ended in error"
    assert got["e"].status == "cancelled"
    assert got["d"].status == "done", got["d"].error
    # d took a's product (fed when a finished), b got it too before failing.
    assert [i.data_file_id for i in got["d"].inputs] == got["a"].outputs
    assert [i.data_file_id for i in got["b"].inputs] == got["a"].outputs
    assert "product of step a" in got["d"].inputs[0].association_reason
    # the workflow batch groups every step
    assert {p.batch_id for p in got.values()} == {result.batch_id}


def test_invalid_workflows_are_refused(factory):
    cyclic = WorkflowSpec(
        "loop",
        "1",
        (
            WorkflowStep("x", "hcdc_echo", after=("y",)),
            WorkflowStep("y", "hcdc_echo", after=("x",)),
        ),
    )
    with pytest.raises(InvalidInputError, match="cycle among steps x, y"):
        factory.workflows().add(cyclic)
    bad_param = WorkflowSpec("bad", "1", (WorkflowStep("x", "hcdc_sleep", params={"seconds": -1}),))
    factory.workflows().add(bad_param)
    with pytest.raises(InvalidInputError, match="step x: hcdc_sleep: param seconds"):
        factory.workflows().launch(
            "bad", WorkflowLaunchRequest(selection=[]), user_id=user_id(factory)
        )


def test_irdis_chain_runs_in_python_and_its_esorex_twin_is_refused_without_the_plugin(factory):
    names = [s.name for s in IRDIS_DBI.ordered()]
    assert names[:4] == ["dark", "flat", "star_center", "flux"]
    assert {"preprocess_left", "companions_right", "snr_left"} <= set(names)
    assert {s.recipe for s in IRDIS_DBI.steps} <= {
        "ird_master_dark",
        "ird_flat",
        "ird_star_center",
        "ird_flux",
        "ird_preprocess",
        "hci_adi_pca",
        "hci_snr_map",
        "hci_contrast_curve",
        "hci_companion_characterization",
    }
    esorex = [s.name for s in IRDIS_DBI_ESOREX.ordered()]
    assert esorex == ["dark", "flat", "star_center", "science", "adi", "contrast"]
    with pytest.raises(InvalidInputError, match="unavailable here"):
        factory.workflows().launch(
            "irdis_dbi_esorex", WorkflowLaunchRequest(selection=[]), user_id=user_id(factory)
        )


CHAIN = WorkflowSpec(
    name="chain",
    version="1",
    steps=(
        WorkflowStep("a", "hcdc_echo", params={"category": "STEP_A"}),
        WorkflowStep("b", "hcdc_sleep", from_steps={"ANY": "a"}),
    ),
)


def test_step_after_a_cached_parent_takes_the_cached_outputs(factory, tmp_path):
    selection = ingest(factory, [write_naco_dark(tmp_path / "d.fits")])
    factory.workflows().add(CHAIN)
    uid = user_id(factory)
    first = factory.workflows().launch(
        "chain", WorkflowLaunchRequest(selection=selection), user_id=uid
    )
    run_worker(factory)
    again = factory.workflows().launch(
        "chain", WorkflowLaunchRequest(selection=selection), user_id=uid
    )
    steps = {p.workflow_step: p for p in again.processes}
    original = next(p for p in first.processes if p.workflow_step == "a")
    assert steps["a"].status == "done" and steps["a"].cache_of_id == original.id
    run_worker(factory)
    child = factory.processes().get(steps["b"].id)
    assert child.status == "done", child.error
    outputs = factory.processes().get(original.id).outputs
    assert outputs and [i.data_file_id for i in child.inputs] == outputs


def test_accepting_a_validated_parent_releases_its_children_with_its_outputs(factory, tmp_path):
    factory.recipes().add_version(
        "hcdc_echo", "1.1", changes={"needs_validation": True}, make_current=True
    )
    selection = ingest(factory, [write_naco_dark(tmp_path / "d.fits")])
    factory.workflows().add(CHAIN)
    uid = user_id(factory)
    launched = factory.workflows().launch(
        "chain", WorkflowLaunchRequest(selection=selection), user_id=uid
    )
    steps = {p.workflow_step: p.id for p in launched.processes}
    run_worker(factory)
    parent = factory.processes().get(steps["a"])
    assert parent.status == "waiting_validation" and parent.validation_status == "to_validate"
    assert factory.processes().get(steps["b"]).status == "queued"
    factory.processes().set_validation(steps["a"], "valid", user_id=uid)
    run_worker(factory)
    child = factory.processes().get(steps["b"])
    assert child.status == "done", child.error
    assert parent.outputs and [i.data_file_id for i in child.inputs] == parent.outputs
