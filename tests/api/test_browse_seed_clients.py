"""What seed clients send: upper-case keys, switches as strings or numbers, recipe names,
enumerated values in any case; anything unknown is a 400 naming the allowed values."""

from __future__ import annotations

import pytest


def _post(seeded, body: dict, endpoint: str = "process_list"):
    return seeded.client.post(f"/api/{endpoint}", json=body, headers=seeded.headers("root"))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ({"sort": "PROCESS_DATE DESC"}, {"sort": "process_date desc"}),
        ({"sort": "Recipe_Name Asc"}, {"sort": "recipe_name ASC"}),
        ({"group": "PROCESS_STATUS"}, {"group": "process_status"}),
        ({"extract": "OBS_NIGHT_DATE"}, {"extract": "obs_night_date"}),
        ({"extract": "COUNT(RECIPE_NAME)"}, {"extract": "count(recipe_name)"}),
        (
            {"extract": "count(USER)", "group": "Workspace"},
            {"extract": "count(user)", "group": "workspace"},
        ),
    ],
)
def test_sort_group_and_extract_keys_ignore_case(seeded, given, canonical) -> None:
    expected = seeded.browse("process_list", limit=-1, **canonical)
    assert seeded.browse("process_list", limit=-1, **given) == expected


def test_filter_names_ignore_case_but_not_twice(seeded) -> None:
    upper = seeded.ids("process_list", {"PROCESS_STATUS": "done"})
    assert upper and seeded.ids("process_list", {"process_status": "done"}) == upper
    response = _post(seeded, {"browse_filters": {"BATCH_ID": 1, "batch_id": 2}})
    assert response.status_code == 400 and "BATCH_ID" in response.json()["message"]


@pytest.mark.parametrize("switch", ["FILTER_PROCESS_NEED_VALIDATION", "FILTER_NO_WORKSPACE"])
def test_switches_take_true_as_the_seed_clients_send_it(seeded, switch: str) -> None:
    on = seeded.ids("process_list", {switch: True})
    everything = seeded.ids("process_list", {})
    assert 0 < len(on) < len(everything)
    for value in ("true", "TRUE", 1, "1"):
        assert seeded.ids("process_list", {switch: value}) == on, value
    for value in ("false", 0, "0", False):
        assert seeded.ids("process_list", {switch: value}) == everything, value


@pytest.mark.parametrize("value", ["yes", 2, "on", [True], {"min": 1}, None, 1.5])
def test_a_switch_refuses_anything_else_naming_it(seeded, value) -> None:
    response = _post(seeded, {"browse_filters": {"FILTER_NO_HIDDEN_RECIPES": value}})
    assert response.status_code == 400, value
    assert "FILTER_NO_HIDDEN_RECIPES" in response.json()["message"]


def test_a_modifying_switch_given_as_a_string_needs_its_filter(seeded) -> None:
    response = _post(seeded, {"browse_filters": {"SWITCH_PRODUCER_LIST": "true"}})
    assert response.status_code == 400 and "DATA_IN_OUT" in response.json()["message"]
    assert _post(seeded, {"browse_filters": {"SWITCH_PRODUCER_LIST": "false"}}).status_code == 200


def test_recipe_takes_an_id_or_a_name(seeded) -> None:
    cat = seeded.catalog
    recipe = next(r for r in cat.recipes if r["name"] == "zpl_science_p1")
    by_id = seeded.ids("process_list", {"RECIPE": recipe["id"]})
    assert by_id
    assert seeded.ids("process_list", {"RECIPE": "zpl_science_p1"}) == by_id
    assert seeded.ids("process_list", {"RECIPE": str(recipe["id"])}) == by_id
    dbi = seeded.ids("process_list", {"RECIPE_NAME": "ird_sci_dbi"})
    assert seeded.ids("process_list", {"RECIPE": ["zpl_science_p1", "ird_sci_*"]}) == sorted(
        set(by_id) | set(dbi)
    )
    assert seeded.ids("process_list", {"RECIPE": "no_such_recipe"}) == []


@pytest.mark.parametrize(
    ("name", "given", "stored"),
    [
        ("PROCESS_VALIDATION_STATUS", "TO_VALIDATE", "to_validate"),
        ("PROCESS_VALIDATION_STATUS", ["Valid", "REJECTED"], ["valid", "rejected"]),
        ("PROCESS_STATUS", "Done", "done"),
        ("PROCESS_STATUS", "WAITING_VALIDATION", "waiting_validation"),
        ("LAUNCHER_TYPE", "USER", "user"),
    ],
)
def test_enumerated_values_ignore_case(seeded, name: str, given, stored) -> None:
    expected = seeded.ids("process_list", {name: stored})
    assert expected
    assert seeded.ids("process_list", {name: given}) == expected


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("PROCESS_STATUS", "finished", "waiting_validation"),
        ("PROCESS_VALIDATION_STATUS", ["valid", "accepted"], "to_reprocess"),
        ("LAUNCHER_TYPE", "robot", "workflow"),
    ],
)
def test_an_unknown_enumerated_value_is_400_naming_the_allowed_ones(
    seeded, name: str, value, allowed: str
) -> None:
    response = _post(seeded, {"browse_filters": {name: value}})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert name in message and allowed in message


def test_pipeline_version_labels_ignore_case(seeded) -> None:
    current = seeded.ids("process_list", {"FILTER_PIPELINE_CURRENT_VERSION": True})
    assert seeded.ids("process_list", {"PIPELINE_VERSION": "Production"}) == current
    others = sorted(set(seeded.ids("process_list", {})) - set(current))
    assert others and seeded.ids("process_list", {"PIPELINE_VERSION": "TEST"}) == others
