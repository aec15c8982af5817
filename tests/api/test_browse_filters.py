"""Every filter and switch of process_list and data_list against answers computed in Python."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from hcdc_server.services.browse.vocabulary import data_vocabulary, process_vocabulary
from tests.api.oracle import (
    Many,
    consumers,
    data_facts,
    fact_matches,
    process_facts,
    producers,
)

SPECIAL_PROCESS = {"DATA_IN_OUT", "EXTENDED_ATTRIBUTE", "CONE"}
SPECIAL_DATA = {"PROCESS_ID", "CONE"}


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _values(facts: list[dict[str, tuple[str, Any]]], name: str) -> tuple[str, list[Any], bool]:
    vtype = facts[0][name][0]
    values: list[Any] = []
    has_null = False
    for fact in facts:
        raw = fact[name][1]
        flat = raw.values if isinstance(raw, Many) else (raw,)
        for v in flat:
            if v is None:
                has_null = True
            else:
                values.append(v)
    return vtype, sorted(set(values)), has_null


def specs_for(vtype: str, values: list[Any], has_null: bool) -> list[Any]:
    """Filter values exercising every form: scalar, list, range, wildcard, null."""
    assert values, "the seed must give this filter at least one value"
    middle = values[len(values) // 2]
    other = values[0] if values[0] != middle else values[-1]
    specs: list[Any] = []
    if vtype == "bool":
        return [True, False]
    if vtype == "mjd":
        return [middle, {"min": values[0], "max": middle}, {"min": middle}]
    specs += [_json(middle), [_json(middle), _json(other)]]
    if vtype in ("int", "float", "date", "datetime", "str"):
        low, high = sorted([middle, other])
        specs.append({"min": _json(low), "max": _json(high)})
        specs.append({"max": _json(middle)})
    if vtype == "datetime":
        specs.append(middle.date().isoformat())
        specs.append({"min": other.date().isoformat(), "max": middle.date().isoformat()})
    if vtype == "str":
        specs.append(middle[:3].swapcase() + "*")
        specs.append("*" + middle[-2:])
        specs.append([middle[:2] + "*", other])
    if has_null:
        specs.append(None)
        specs.append([None, _json(middle)])
    return specs


def _cases(vocabulary: Any, facts_of: Any, special: set[str]) -> list[str]:
    return sorted(set(vocabulary.filters) - special)


@pytest.mark.parametrize("name", _cases(process_vocabulary(), process_facts, SPECIAL_PROCESS))
def test_every_process_filter(seeded, name: str) -> None:
    cat = seeded.catalog
    facts = {p["id"]: process_facts(cat, p) for p in cat.processes}
    vtype, values, has_null = _values(list(facts.values()), name)
    for spec in specs_for(vtype, values, has_null):
        expected = sorted(i for i, f in facts.items() if fact_matches(spec, vtype, f[name][1]))
        got = seeded.ids("process_list", {name: spec})
        assert got == expected, f"{name}={spec!r}"
    first = specs_for(vtype, values, has_null)[0]
    assert seeded.ids("process_list", {name: first}), f"{name}: the scalar case matches nothing"


@pytest.mark.parametrize("name", _cases(data_vocabulary(), data_facts, SPECIAL_DATA))
def test_every_data_filter(seeded, name: str) -> None:
    cat = seeded.catalog
    facts = {d["id"]: data_facts(cat, d) for d in cat.data}
    vtype, values, has_null = _values(list(facts.values()), name)
    for spec in specs_for(vtype, values, has_null):
        expected = sorted(i for i, f in facts.items() if fact_matches(spec, vtype, f[name][1]))
        got = seeded.ids("data_list", {name: spec})
        assert got == expected, f"{name}={spec!r}"
    first = specs_for(vtype, values, has_null)[0]
    assert seeded.ids("data_list", {name: first}), f"{name}: the scalar case matches nothing"


def test_the_oracles_cover_every_filter(seeded) -> None:
    cat = seeded.catalog
    process_names = set(process_facts(cat, cat.processes[0])) | SPECIAL_PROCESS
    data_names = set(data_facts(cat, cat.data[0])) | SPECIAL_DATA
    assert process_names == set(process_vocabulary().filters)
    assert data_names == set(data_vocabulary().filters)


CONES = [
    {"ra": 164.597, "dec": -68.668, "radius": 0.03},
    {"ra": 86.821, "dec": -51.066, "radius": 0.06},
    {"ra": 0.02, "dec": 0.0, "radius": 0.2},  # crosses RA 0/360
    {"ra": 200.0, "dec": 89.99, "radius": 1.0},  # around the pole
    {"ra": 189.0, "dec": -39.87, "radius": 180.0},  # the whole sky
]


@pytest.mark.parametrize("cone", CONES)
def test_cone(seeded, cone: dict[str, float]) -> None:
    cat = seeded.catalog
    data = {d["id"]: data_facts(cat, d)["CONE"][1] for d in cat.data}
    expected = sorted(i for i, f in data.items() if fact_matches(cone, "cone", f))
    assert seeded.ids("data_list", {"CONE": cone}) == expected
    processes = {p["id"]: process_facts(cat, p)["CONE"][1] for p in cat.processes}
    expected = sorted(i for i, f in processes.items() if fact_matches(cone, "cone", f))
    assert seeded.ids("process_list", {"CONE": cone}) == expected


def test_cone_finds_files_near_a_target(seeded) -> None:
    assert seeded.ids("data_list", {"CONE": CONES[0]})
    assert seeded.ids("data_list", {"CONE": CONES[2]})


def test_data_in_out_and_its_switches(seeded) -> None:
    cat = seeded.catalog
    linked = {o["process_id"] for o in cat.outputs} & {i["process_id"] for i in cat.inputs}
    checked = 0
    for pid in sorted(linked):
        up, down = producers(cat, {pid}), consumers(cat, {pid})
        assert seeded.ids("process_list", {"DATA_IN_OUT": pid}) == sorted(up | down)
        only_up = {"DATA_IN_OUT": pid, "SWITCH_PRODUCER_LIST": True}
        assert seeded.ids("process_list", only_up) == sorted(up)
        only_down = {"DATA_IN_OUT": pid, "SWITCH_CONSUMER_LIST": True}
        assert seeded.ids("process_list", only_down) == sorted(down)
        both = {"DATA_IN_OUT": pid, "SWITCH_PRODUCER_LIST": True, "SWITCH_CONSUMER_LIST": True}
        assert seeded.ids("process_list", both) == sorted(up | down)
        off = {"DATA_IN_OUT": pid, "SWITCH_PRODUCER_LIST": False}
        assert seeded.ids("process_list", off) == sorted(up | down)
        checked += bool(up or down)
    assert checked >= 3, "the seed should chain processes through their products"
    pair = sorted(linked)[:2]
    expected = producers(cat, set(pair)) | consumers(cat, set(pair))
    assert seeded.ids("process_list", {"DATA_IN_OUT": pair}) == sorted(expected)


def test_process_id_on_data_list(seeded) -> None:
    cat = seeded.catalog
    for pid in sorted({o["process_id"] for o in cat.outputs})[:5]:
        ins = {i["data_file_id"] for i in cat.inputs if i["process_id"] == pid}
        outs = {o["data_file_id"] for o in cat.outputs if o["process_id"] == pid}
        assert outs
        assert seeded.ids("data_list", {"PROCESS_ID": pid}) == sorted(ins | outs)
        produced = {"PROCESS_ID": pid, "SWITCH_PRODUCER_LIST": True}
        assert seeded.ids("data_list", produced) == sorted(outs)
        consumed = {"PROCESS_ID": pid, "SWITCH_CONSUMER_LIST": True}
        assert seeded.ids("data_list", consumed) == sorted(ins)


def test_extended_attribute(seeded) -> None:
    cat = seeded.catalog

    def having(key: str, value: Any) -> set[int]:
        return {
            a["process_id"]
            for a in cat.attributes
            if a["key"] == key and fact_matches(value, "str", a["value"])
        }

    assert seeded.ids("process_list", {"EXTENDED_ATTRIBUTE": {"quality": "good"}}) == sorted(
        having("quality", "good")
    )
    assert having("quality", "good")
    both = {"EXTENDED_ATTRIBUTE": {"quality": ["good", "bad"], "frames": "*"}}
    expected = having("quality", ["good", "bad"]) & having("frames", "*")
    assert seeded.ids("process_list", both) == sorted(expected)


def test_process_list_accepts_a_comma_separated_list(seeded) -> None:
    assert seeded.ids("process_list", {"PROCESS_LIST": "3, 5,8"}) == [3, 5, 8]
    assert seeded.ids("process_list", {"PROCESS_LIST": [8, 3]}) == [3, 8]


SWITCHES = {
    "FILTER_NO_HIDDEN_RECIPES": lambda cat, p: (
        not cat.by_id(cat.recipes)[p["recipe_id"]]["is_hidden"]
    ),
    "FILTER_PROCESS_EXCLUDE_REPROCESSED": lambda cat, p: p["reprocessed_by_id"] is None,
    "FILTER_NO_WORKSPACE": lambda cat, p: p["workspace_id"] is None,
    "FILTER_PROCESS_NEED_VALIDATION": lambda cat, p: p["validation_status"] == "to_validate",
    "FILTER_PIPELINE_CURRENT_VERSION": lambda cat, p: cat.by_id(cat.recipes)[p["recipe_id"]][
        "is_current"
    ],
    "FILTER_PIPELINE_WORKFLOW_CURRENT_VERSION": lambda cat, p: (
        p["workflow_id"] is None or cat.by_id(cat.workflows)[p["workflow_id"]]["is_current"]
    ),
    "FILTER_RESTRICT_USER": lambda cat, p: p["user_id"] == cat.user_id("bob"),
}


@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_every_switch(seeded, switch: str) -> None:
    cat = seeded.catalog
    login = "bob" if switch == "FILTER_RESTRICT_USER" else "root"
    everything = seeded.ids("process_list", {}, login)
    kept = sorted(
        p["id"] for p in cat.processes if p["id"] in everything and SWITCHES[switch](cat, p)
    )
    assert 0 < len(kept) < len(everything)
    assert seeded.ids("process_list", {switch: True}, login) == kept
    assert seeded.ids("process_list", {switch: False}, login) == everything


def test_switches_cover_the_vocabulary() -> None:
    modifiers = {"SWITCH_PRODUCER_LIST", "SWITCH_CONSUMER_LIST"}
    assert set(SWITCHES) | modifiers == set(process_vocabulary().switches)


def test_filters_combine_with_and(seeded) -> None:
    cat = seeded.catalog
    filters = {
        "RECIPE_NAME": "ird_*",
        "PROCESS_STATUS": ["done", "error", "running"],
        "OBS_NIGHT_DATE_YEAR": {"min": 2019, "max": 2020},
        "FILTER_NO_HIDDEN_RECIPES": True,
    }
    expected = []
    for p in cat.processes:
        f = process_facts(cat, p)
        if (
            fact_matches("ird_*", "str", f["RECIPE_NAME"][1])
            and not cat.by_id(cat.recipes)[p["recipe_id"]]["is_hidden"]
            and p["status"] in filters["PROCESS_STATUS"]
            and p["obs_night"] is not None
            and 2019 <= p["obs_night"].year <= 2020
        ):
            expected.append(p["id"])
    assert expected
    assert seeded.ids("process_list", filters) == expected
