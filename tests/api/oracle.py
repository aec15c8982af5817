"""The browse semantics re-implemented in plain Python over the seed's records.

Nothing here uses SQL or hcdc's compiler: dates, MJD (astropy Time) and angular distances
(astropy SkyCoord) are computed independently, so agreement with the API is evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from tests.api.seed import Catalog


@dataclass(frozen=True)
class Many:
    """A fact with several values (a process's input files): matches if any value matches."""

    values: tuple[Any, ...]


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.I | re.S)


def _day(text: str) -> date:
    return date.fromisoformat(text)


def match_scalar(spec: Any, actual: Any, vtype: str) -> bool:
    """Does one stored value satisfy one filter value (scalar, list, range, null)?"""
    if spec is None:
        return actual is None
    if isinstance(spec, list):
        return any(match_scalar(item, actual, vtype) for item in spec)
    if actual is None:
        return False
    if isinstance(spec, dict):
        low, high = spec.get("min"), spec.get("max")
        if vtype == "datetime":
            if isinstance(low, str):
                low = (
                    datetime.fromisoformat(low)
                    if len(low) > 10
                    else datetime.combine(_day(low), datetime.min.time())
                )
            if isinstance(high, str):
                if len(high) > 10:
                    high = datetime.fromisoformat(high)
                else:
                    return (low is None or actual >= low) and actual < datetime.combine(
                        _day(high) + timedelta(days=1), datetime.min.time()
                    )
        if vtype == "date":
            low = _day(low) if low else None
            high = _day(high) if high else None
        return (low is None or actual >= low) and (high is None or actual <= high)
    if vtype == "str" and isinstance(spec, str) and "*" in spec:
        return _wildcard(spec).fullmatch(actual) is not None
    if vtype == "datetime" and isinstance(spec, str):
        if len(spec) == 10:
            return actual.date() == _day(spec)
        return actual == datetime.fromisoformat(spec)
    if vtype == "date":
        return actual == _day(spec)
    if vtype == "float":
        return float(actual) == float(spec)
    if vtype == "int":
        return int(actual) == int(spec)
    return actual == spec


def matches(spec: Any, fact: Any, vtype: str) -> bool:
    if isinstance(fact, Many):
        return any(match_scalar(spec, value, vtype) for value in fact.values)
    return match_scalar(spec, fact, vtype)


def mjd(when: datetime | None) -> float | None:
    return None if when is None else float(Time(when, scale="utc").mjd)


def parts(prefix: str, when: date | datetime | None) -> dict[str, tuple[str, Any]]:
    """Derived date keys from Python's own date arithmetic."""

    def get(fn: Any) -> Any:
        return None if when is None else fn(when)

    return {
        f"{prefix}_YEAR": ("int", get(lambda d: d.year)),
        f"{prefix}_MONTH": ("int", get(lambda d: d.month)),
        f"{prefix}_DAY": ("int", get(lambda d: d.day)),
        f"{prefix}_YEAR_MONTH": ("str", get(lambda d: f"{d.year:04d}-{d.month:02d}")),
    }


def target_facts(cat: Catalog, target_id: int | None) -> dict[str, tuple[str, Any]]:
    target = next((x for x in cat.targets if x["id"] == target_id), None)

    def get(key: str) -> Any:
        return None if target is None else target[key]

    return {
        "TARGET_NAME": ("str", get("name")),
        "TARGET_IDENTIFIER": ("str", get("main_id")),
        "STAR_MAG_G": ("float", get("mag_g")),
        "STAR_MAG_H": ("float", get("mag_h")),
        "STAR_MAG_K": ("float", get("mag_k")),
        "STAR_PARALLAX": ("float", get("parallax_mas")),
        "STAR_SPECTRAL_TYPE": ("str", get("sp_type")),
        "STAR_SIMPLIFIED_SPECTRAL_TYPE": ("str", get("simplified_sp_type")),
        "STAR_LUMINOSITY": ("str", get("luminosity_class")),
    }


def process_facts(cat: Catalog, p: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Every process filter's value(s) for process ``p``."""
    recipes = cat.by_id(cat.recipes)
    batches = cat.by_id(cat.batches)
    workflows = cat.by_id(cat.workflows)
    users = {u["id"]: u for u in cat.users.values()}
    workspaces = {w["id"]: w for w in cat.workspaces.values()}
    data = cat.by_id(cat.data)
    recipe = recipes[p["recipe_id"]]
    batch = batches.get(p["batch_id"])
    workflow = workflows.get(p["workflow_id"])
    workspace = workspaces.get(p["workspace_id"])
    user = users[p["user_id"]]
    ins = [data[i["data_file_id"]] for i in cat.inputs if i["process_id"] == p["id"]]
    outs = [data[o["data_file_id"]] for o in cat.outputs if o["process_id"] == p["id"]]
    observation = [o for o in cat.observations if o["obs_id"] == p["obs_id"]]
    target = next((x for x in cat.targets if x["id"] == p["target_id"]), None)
    launcher = users.get(batch["user_id"]) if batch else None
    facts: dict[str, tuple[str, Any]] = {
        "PROCESS_ID": ("int", p["id"]),
        "PROCESS_NUMBER": ("int", p["id"]),
        "PROCESS_LIST": ("int", p["id"]),
        "BATCH_ID": ("int", p["batch_id"]),
        "BATCH_NAME": ("str", batch["name"] if batch else None),
        "WORKSPACE": ("str", workspace["name"] if workspace else None),
        "CURRENT_WORKSPACE": ("str", workspace["name"] if workspace else None),
        "WORKSPACE_GROUP": ("str", workspace["group_name"] if workspace else None),
        "USER": ("str", user["login"]),
        "USER_EMAIL": ("str", user["email"]),
        "LAUNCHER": ("str", launcher["login"] if launcher else None),
        "LAUNCHER_TYPE": ("str", p["launcher_type"]),
        "RECIPE": ("int", recipe["id"]),
        "RECIPE_NAME": ("str", recipe["name"]),
        "PIPELINE_VERSION": ("str", recipe["version"]),
        "RECIPE_PRESET": ("str", p["recipe_preset"]),
        "WORKFLOW": ("str", workflow["name"] if workflow else None),
        "WORKFLOW_PIPELINE_VERSION": ("str", workflow["version"] if workflow else None),
        "WORKFLOW_PRESET": ("str", batch["workflow_preset"] if batch else None),
        "WORKFLOW_STEP": ("str", p["workflow_step"]),
        "WORKFLOW_RECIPE": ("str", recipe["name"] if p["workflow_id"] else None),
        "PROCESS_STATUS": ("str", p["status"]),
        "PROCESS_VALIDATION_STATUS": ("str", p["validation_status"]),
        "PROCESS_DATE": ("datetime", p["created_at"]),
        **parts("PROCESS_DATE", p["created_at"]),
        "RUN_SERVER": ("str", p["server"]),
        "INSTRUMENT": ("str", p["instrument"]),
        "OBS_NIGHT_DATE": ("date", p["obs_night"]),
        **parts("OBS_NIGHT_DATE", p["obs_night"]),
        "OBSERVATION_DATE": ("datetime", p["obs_date"]),
        **parts("OBSERVATION_DATE", p["obs_date"]),
        "MJD_OBS": ("mjd", mjd(p["obs_date"])),
        "OBS_ID": ("int", p["obs_id"]),
        "PROG_ID": ("str", p["prog_id"]),
        "PI_COI_NAME": ("str", Many(tuple(o["pi_coi"] for o in observation))),
        **target_facts(cat, p["target_id"]),
        "COORD_RA": ("float", target["ra"] if target else None),
        "COORD_DEC": ("float", target["dec"] if target else None),
        "CONE": ("cone", (target["ra"], target["dec"]) if target else None),
        "OBJECT": ("str", Many(tuple(d["object"] for d in ins))),
        "DATA_FRAME_TYPE": ("str", Many(tuple(d["frame_type"] for d in ins))),
        "DEROTATOR_MODE": ("str", Many(tuple(d["derotator_mode"] for d in ins))),
        "INSTRUMENT_FILTER": ("str", Many(tuple(d["instrument_filter"] for d in ins))),
        "EXP_TIME": ("float", Many(tuple(d["exptime"] for d in ins))),
        "STANDARD": ("bool", Many(tuple(d["is_standard"] for d in ins))),
        "DATA_PIPELINE_VERSION": ("str", Many(tuple(d["pipeline_version"] for d in outs))),
        "DATA_FILE_ID": ("int", Many(tuple(d["id"] for d in ins + outs))),
    }
    for name in CONDITION_FILTERS:
        # the mean over the inputs; calibrations' headers are no sky conditions
        values = [
            value
            for d in {d["id"]: d for d in ins}.values()
            if (value := condition_facts(cat, d, science_only=True)[name]) is not None
        ]
        facts[name] = ("float", sum(values) / len(values) if values else None)
    return facts


#: Condition filter -> (linked column, header column or None).
CONDITION_FILTERS = {
    "SEEING": ("seeing", "seeing"),
    "TAU0": ("tau0", "tau0"),
    "STREHL": ("strehl", None),
    "WIND_SPEED": ("wind_speed", None),
    "AIRMASS": ("airmass", "airmass"),
}


def condition_facts(
    cat: Catalog, d: dict[str, Any], *, science_only: bool = False
) -> dict[str, Any]:
    """A file's conditions: linked, else (science exposures only, for aggregates) its header's."""
    linked = cat.frame_conditions.get(d["id"], {})
    facts = {}
    for name, (column, header) in CONDITION_FILTERS.items():
        value = linked.get(column)
        fallback = header is not None and (not science_only or d["category"] == "SCIENCE")
        if value is None and fallback:
            value = d[header]
        facts[name] = value
    return facts


def data_facts(cat: Catalog, d: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Every data_list filter's value(s) for data file ``d``."""
    workspaces = {w["id"]: w for w in cat.workspaces.values()}
    held = [workspaces[w] for w, data_id in cat.workspace_data if data_id == d["id"]]
    observation = next(o for o in cat.observations if o["id"] == d["observation_id"])
    return {
        "DATA_FILE_ID": ("int", d["id"]),
        "FILE_NAME": ("str", d["filename"]),
        "DATA_FRAME_TYPE": ("str", d["frame_type"]),
        "DATA_CATEGORY": ("str", d["category"]),
        "OBJECT": ("str", d["object"]),
        **target_facts(cat, d["target_id"]),
        "INSTRUMENT": ("str", d["instrument"]),
        "INSTRUMENT_FILTER": ("str", d["instrument_filter"]),
        "EXP_TIME": ("float", d["exptime"]),
        "DIT": ("float", d["dit"]),
        "NDIT": ("int", d["ndit"]),
        "OBS_NIGHT_DATE": ("date", d["obs_night"]),
        **parts("OBS_NIGHT_DATE", d["obs_night"]),
        "OBSERVATION_DATE": ("datetime", d["date_obs"]),
        **parts("OBSERVATION_DATE", d["date_obs"]),
        "MJD_OBS": ("float", d["mjd_obs"]),
        "PROG_ID": ("str", d["prog_id"]),
        "OBS_ID": ("int", d["obs_id"]),
        "PI_COI_NAME": ("str", observation["pi_coi"]),
        "WORKSPACE": ("str", Many(tuple(w["name"] for w in held))),
        "WORKSPACE_GROUP": ("str", Many(tuple(w["group_name"] for w in held))),
        "DEROTATOR_MODE": ("str", d["derotator_mode"]),
        "CORONAGRAPH": ("str", d["coronagraph"]),
        "COORD_RA": ("float", d["ra"]),
        "COORD_DEC": ("float", d["dec"]),
        "CONE": ("cone", None if d["ra"] is None else (d["ra"], d["dec"])),
        **{name: ("float", value) for name, value in condition_facts(cat, d).items()},
        "STANDARD": ("bool", d["is_standard"]),
        "RAW": ("bool", d["is_raw"]),
        "PUBLIC": ("bool", d["is_public"]),
        "DATA_STATUS": ("str", d["status"]),
        "DATA_PIPELINE_VERSION": ("str", d["pipeline_version"]),
    }


def fact_matches(spec: Any, vtype: str, fact: Any) -> bool:
    """``matches`` extended with the cone and MJD semantics."""
    if vtype == "cone":
        if fact is None:
            return False
        centre = SkyCoord(spec["ra"] * u.deg, spec["dec"] * u.deg)
        where = SkyCoord(fact[0] * u.deg, fact[1] * u.deg)
        return bool(centre.separation(where).deg <= spec["radius"])
    if vtype == "mjd":
        if fact is None:
            return spec is None
        if isinstance(spec, dict):
            return spec.get("min", -1e9) <= fact <= spec.get("max", 1e9)
        values = spec if isinstance(spec, list) else [spec]
        return any(abs(fact - v) <= 5e-6 for v in values)
    return matches(spec, fact, vtype)


def producers(cat: Catalog, process_ids: set[int]) -> set[int]:
    """Processes that produced an input of ``process_ids``."""
    consumed = {i["data_file_id"] for i in cat.inputs if i["process_id"] in process_ids}
    return {o["process_id"] for o in cat.outputs if o["data_file_id"] in consumed}


def consumers(cat: Catalog, process_ids: set[int]) -> set[int]:
    """Processes that consumed an output of ``process_ids``."""
    produced = {o["data_file_id"] for o in cat.outputs if o["process_id"] in process_ids}
    return {i["process_id"] for i in cat.inputs if i["data_file_id"] in produced}


def visible_processes(cat: Catalog, login: str) -> set[int]:
    """The visibility rule, restated."""
    user = cat.users[login]
    if user["role"] == "admin":
        return {p["id"] for p in cat.processes}
    mine = cat.member_workspaces(login)
    return {
        p["id"]
        for p in cat.processes
        if p["workspace_id"] in mine or (user["role"] == "user" and p["user_id"] == user["id"])
    }


def visible_data(cat: Catalog, login: str) -> set[int]:
    user = cat.users[login]
    if user["role"] == "admin":
        return {d["id"] for d in cat.data}
    mine = cat.member_workspaces(login)
    shared = {data_id for ws, data_id in cat.workspace_data if ws in mine}
    return {
        d["id"]
        for d in cat.data
        if d["id"] in shared or (user["role"] == "user" and d["is_public"])
    }
