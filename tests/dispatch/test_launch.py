"""Launching: validation errors naming the problem, association, SOF, cache, actions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hcdc_server.exceptions import ConflictError, InvalidInputError
from hcdc_server.models.processes import InputRef, LaunchRequest
from hcdc_server.schema.tables import Process
from hcdc_server.services.visibility import load_viewer, visible
from tests.dispatch.helpers import ingest, run_worker, user_id, write_naco_dark
from tests.requirements import needs_naco
from tests.server.fits_factory import write_frame


@pytest.fixture
def darks(factory, tmp_path):
    paths = [
        write_naco_dark(tmp_path / f"raw/dark{i}.fits", seed=i, date_obs=f"2013-02-01T10:0{i}:00")
        for i in range(3)
    ]
    return ingest(factory, paths)


@needs_naco
def test_bad_params_are_refused_naming_them(factory, darks):
    uid = user_id(factory)
    processes = factory.processes()
    cases = {
        "param hot_t": {"hot_t": "hot"},
        "param nsamples": {"nsamples": 0},
        "param colour": {"colour": "red"},
    }
    for named, params in cases.items():
        with pytest.raises(InvalidInputError) as caught:
            processes.launch(
                LaunchRequest(recipe="naco_img_dark", selection=darks, params=params), user_id=uid
            )
        assert named in caught.value.message
        assert caught.value.status == 400


@needs_naco
def test_inputs_that_do_not_fill_a_slot_are_refused_naming_it(factory, darks, tmp_path):
    uid = user_id(factory)
    science = ingest(factory, [write_frame(tmp_path / "sci.fits")])
    with pytest.raises(InvalidInputError) as caught:
        factory.processes().launch(
            LaunchRequest(recipe="naco_img_dark", inputs=[InputRef(data_file_id=science[0])]),
            user_id=uid,
        )
    assert "fits no input slot" in caught.value.message
    with pytest.raises(InvalidInputError) as caught:
        factory.processes().launch(
            LaunchRequest(
                recipe="naco_img_dark", inputs=[InputRef(data_file_id=science[0], tag="CAL_DARK")]
            ),
            user_id=uid,
        )
    assert "input CAL_DARK" in caught.value.message
    assert "IRD_SCIENCE_DBI_RAW not accepted" in caught.value.message
    with pytest.raises(InvalidInputError) as caught:
        factory.processes().launch(LaunchRequest(recipe="naco_img_dark"), user_id=uid)
    assert "input CAL_DARK: needs at least 1" in caught.value.message


def test_unavailable_recipe_is_refused_with_the_reason(factory, tmp_path):
    uid = user_id(factory)
    with pytest.raises(InvalidInputError) as caught:
        factory.processes().launch(LaunchRequest(recipe="sph_ird_master_dark"), user_id=uid)
    assert "unavailable here" in caught.value.message


@needs_naco
def test_selection_groups_darks_by_setting_and_previews_levels(factory, tmp_path):
    paths = [
        write_naco_dark(tmp_path / "a0.fits", seed=1, dit=0.2),
        write_naco_dark(tmp_path / "a1.fits", seed=2, dit=0.2, date_obs="2013-02-01T10:05:00"),
        write_naco_dark(tmp_path / "b0.fits", seed=3, dit=1.0),
    ]
    ids = ingest(factory, paths)
    previews = factory.processes().preview(LaunchRequest(recipe="naco_img_dark", selection=ids))
    assert [p.primary_ids for p in previews] == [ids[:2], ids[2:]]
    result = factory.processes().launch(
        LaunchRequest(recipe="naco_img_dark", selection=ids, preset="small_frames"),
        user_id=user_id(factory),
    )
    assert len(result.processes) == 2
    assert {p.batch_id for p in result.processes} == {result.batch_id}
    assert all(p.status == "queued" for p in result.processes)
    assert result.processes[0].params["r"] == "10 10 10 10"
    sof = factory.processes().sof(result.processes[0].id)
    assert sof.splitlines() == [f"{p.resolve()} CAL_DARK" for p in paths[:2]]


def _irdis(tmp_path, name, dpr, when, *, catg=None, dit=16.0):
    path = write_frame(tmp_path / f"{name}.fits", dpr=dpr, date_obs=when.isoformat(), dit=dit)
    if catg:
        from astropy.io import fits

        with fits.open(path, mode="update") as hdul:
            hdul[0].header["HIERARCH ESO PRO CATG"] = catg
            hdul[0].header["HIERARCH ESO INS COMB IFLT"] = "DB_H23"
    else:
        from astropy.io import fits

        with fits.open(path, mode="update") as hdul:
            hdul[0].header["HIERARCH ESO INS COMB IFLT"] = "DB_H23"
    return path


def test_association_preview_reports_levels_and_user_override(factory, tmp_path):
    science_time = datetime(2019, 5, 28, 3, 10)
    dark_far = _irdis(
        tmp_path,
        "dark_far",
        ("CALIB", "DARK", "IMAGE"),
        science_time + timedelta(days=3),
        catg="IRD_MASTER_DARK",
    )
    dark_near = _irdis(
        tmp_path,
        "dark_near",
        ("CALIB", "DARK", "IMAGE"),
        science_time + timedelta(days=1),
        catg="IRD_MASTER_DARK",
    )
    dark_other_dit = _irdis(
        tmp_path,
        "dark_dit",
        ("CALIB", "DARK", "IMAGE"),
        science_time,
        catg="IRD_MASTER_DARK",
        dit=64.0,
    )
    flat = _irdis(
        tmp_path,
        "flat",
        ("CALIB", "FLAT,LAMP", "IMAGE"),
        science_time + timedelta(hours=7),
        catg="IRD_FLAT_FIELD",
    )
    science = _irdis(tmp_path, "sci", ("SCIENCE", "OBJECT", "IMAGE,DUAL"), science_time)
    ids = dict(
        zip(
            ["far", "near", "dit", "flat", "sci"],
            ingest(factory, [dark_far, dark_near, dark_other_dit, flat, science]),
            strict=True,
        )
    )
    [preview] = factory.processes().preview(
        LaunchRequest(recipe="sph_ird_science_dbi", selection=[ids["sci"]])
    )
    slots = {s.tag: s for s in preview.slots}
    assert slots["IRD_MASTER_DARK_FILE"].data_file_ids == [ids["near"]]
    assert slots["IRD_MASTER_DARK_FILE"].level == 1
    assert slots["IRD_FLAT_FIELD_FILE"].data_file_ids == [ids["flat"]]
    assert slots["IRD_FLAT_FIELD_FILE"].level == 0
    assert preview.complete
    [overridden] = factory.processes().preview(
        LaunchRequest(
            recipe="sph_ird_science_dbi",
            selection=[ids["sci"]],
            overrides={"IRD_MASTER_DARK_FILE": [ids["far"]]},
        )
    )
    dark = next(s for s in overridden.slots if s.tag == "IRD_MASTER_DARK_FILE")
    assert dark.overridden and dark.data_file_ids == [ids["far"]]


def test_cache_reuse_unless_forced_and_actions(factory, darks):
    uid = user_id(factory)
    request = LaunchRequest(recipe="hcdc_echo", inputs=[InputRef(data_file_id=i) for i in darks])
    first = factory.processes().launch(request, user_id=uid).processes[0]
    run_worker(factory)
    done = factory.processes().get(first.id)
    assert done.status == "done", done.error
    assert len(done.outputs) == 1
    again = factory.processes().launch(request, user_id=uid).processes[0]
    assert again.status == "done" and again.cache_of_id == first.id
    assert again.outputs == done.outputs
    other_params = (
        factory.processes()
        .launch(request.model_copy(update={"params": {"message": "x"}}), user_id=uid)
        .processes[0]
    )
    assert other_params.status == "queued" and other_params.cache_of_id is None
    forced = factory.processes().launch(request.model_copy(update={"force": True}), user_id=uid)
    assert forced.processes[0].status == "queued"
    # Estimated duration comes from the history of the recipe.
    assert forced.processes[0].estimated_duration_s is not None
    # cancel: queued -> cancelled; cancelling again is a conflict.
    cancelled = factory.processes().cancel(forced.processes[0].id, user_id=uid)
    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by alice"
    with pytest.raises(ConflictError):
        factory.processes().cancel(forced.processes[0].id, user_id=uid)
    # reprocess: new process linked both ways, same inputs, never from the cache.
    redo = factory.processes().reprocess(first.id, user_id=uid)
    assert redo.reprocess_of_id == first.id and redo.status == "queued"
    assert [i.data_file_id for i in redo.inputs] == [i.data_file_id for i in done.inputs]
    assert factory.processes().get(first.id).reprocessed_by_id == redo.id
    with pytest.raises(ConflictError):
        factory.processes().reprocess(first.id, user_id=uid)


def test_validation_is_recorded_as_events(factory, tmp_path):
    uid = user_id(factory)
    # naco_img_jitter needs validation; simulate its end state on a finished process.
    launched = factory.processes().launch(LaunchRequest(recipe="hcdc_sleep"), user_id=uid)
    pid = launched.processes[0].id
    with pytest.raises(ConflictError):
        factory.processes().set_validation(pid, "valid", user_id=uid)
    from hcdc_server.schema.tables import Process

    with factory.sessions.begin() as session:
        row = session.get(Process, pid)
        row.status, row.validation_status = "waiting_validation", "to_validate"
    factory.processes().set_validation(pid, "to_reprocess", user_id=uid, comment="bad centring")
    final = factory.processes().set_validation(pid, "valid", user_id=uid, comment="fine after all")
    assert final.status == "done" and final.validation_status == "valid"
    events = factory.processes().validation_events(pid)
    assert [(e.from_status, e.to_status, e.comment, e.user_id) for e in events] == [
        ("to_validate", "to_reprocess", "bad centring", uid),
        ("to_reprocess", "valid", "fine after all", uid),
    ]


def test_recipe_management(factory):
    recipes = factory.recipes()
    recipes.add_version("naco_img_dark", "4.5.0", changes={"description": "next release"})
    current = {r.version: r.is_current for r in recipes.list_recipes() if r.name == "naco_img_dark"}
    assert current == {"4.4.11": True, "4.5.0": False}
    recipes.set_current("naco_img_dark", "4.5.0")
    assert recipes.get("naco_img_dark")[1].version == "4.5.0"
    with pytest.raises(ConflictError):
        recipes.add_version("naco_img_dark", "4.5.0")
    recipes.set_hidden("naco_img_dark")
    assert "naco_img_dark" not in {r.name for r in recipes.list_recipes()}
    assert "naco_img_dark" in {r.name for r in recipes.list_recipes(include_hidden=True)}
    recipes.add_preset("hcdc_sleep", "tiny", {"seconds": 0.1})
    assert recipes.get("hcdc_sleep")[1].resolve_params(preset="tiny")["seconds"] == 0.1
    with pytest.raises(Exception, match="param seconds"):
        recipes.add_preset("hcdc_sleep", "bad", {"seconds": -1})


def test_any_finished_process_can_be_labelled(factory, darks):
    uid = user_id(factory)
    request = LaunchRequest(recipe="hcdc_echo", inputs=[InputRef(data_file_id=darks[0])])
    pid = factory.processes().launch(request, user_id=uid).processes[0].id
    with pytest.raises(ConflictError, match="only finished processes"):
        factory.processes().set_validation(pid, "valid", user_id=uid)
    run_worker(factory)
    assert factory.processes().get(pid).validation_status is None
    labelled = factory.processes().set_validation(pid, "rejected", user_id=uid, comment="noisy")
    assert labelled.status == "done" and labelled.validation_status == "rejected"
    events = factory.processes().validation_events(pid)
    assert [(e.from_status, e.to_status) for e in events] == [(None, "rejected")]


@needs_naco
def test_auto_calibration_processes_belong_to_the_workspace_of_their_inputs(factory, tmp_path):
    factory.users().add_user("owner")
    factory.users().add_user("member")
    factory.workspaces().add_workspace("night1", owner_login="owner")
    factory.workspaces().set_member("night1", "member", "viewer")
    paths = [write_naco_dark(tmp_path / f"d{i}.fits", seed=i) for i in range(3)]
    records = []
    factory.ingest().ingest(
        paths, workspace="night1", public=False, user_login="owner", on_record=records.append
    )
    results = factory.processes().auto_calibrate([r.id for r in records])
    processes = [p for result in results for p in result.processes]
    assert processes and {p.recipe_name for p in processes} == {"naco_img_dark"}
    workspace_id = factory.workspaces().get("night1").id
    assert {p.workspace_id for p in processes} == {workspace_id}
    with factory.sessions() as session:
        viewer = load_viewer(session, user_id(factory, "member"))
        seen = session.scalars(select(Process.id).where(visible(viewer, "process"))).all()
    assert {p.id for p in processes} <= set(seen)
