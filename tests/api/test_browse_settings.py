"""count, group, limit, extract / count(key), page and sort, alone and combined."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.api.oracle import process_facts

SORT_KEYS = ["recipe_name", "obs_night_date", "star_mag_h", "process_status", "id"]


def _sorted_ids(seeded, key: str, descending: bool) -> list[int]:
    """Python's order: the key (nulls last), then id in the same direction."""
    cat = seeded.catalog
    rows = []
    for p in cat.processes:
        value = p["id"] if key == "id" else process_facts(cat, p)[key.upper()][1]
        rows.append((value is None, value, p["id"]))
    present = sorted((r for r in rows if not r[0]), key=lambda r: (r[1], r[2]), reverse=descending)
    missing = sorted((r for r in rows if r[0]), key=lambda r: r[2], reverse=descending)
    return [r[2] for r in present + missing]


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("direction", ["ASC", "DESC", "desc", ""])
def test_sort(seeded, key: str, direction: str) -> None:
    result = seeded.browse("process_list", sort=f"{key} {direction}".strip(), limit=-1)
    got = [item["id"] for item in result["items"]]
    assert got == _sorted_ids(seeded, key, direction.upper() == "DESC")


def test_default_is_ten_items_newest_first(seeded) -> None:
    result = seeded.browse("process_list")
    assert result["page"] == 1 and result["limit"] == 10
    newest = sorted((p["id"] for p in seeded.catalog.processes), reverse=True)[:10]
    assert [item["id"] for item in result["items"]] == newest


@pytest.mark.parametrize("limit", [1, 7, 25])
def test_pages_partition_the_sorted_list(seeded, limit: int) -> None:
    everything = _sorted_ids(seeded, "recipe_name", False)
    pages: list[int] = []
    page = 1
    while True:
        result = seeded.browse("process_list", sort="recipe_name ASC", limit=limit, page=page)
        assert result["page"] == page and result["limit"] == limit
        if not result["items"]:
            break
        assert len(result["items"]) <= limit
        pages += [item["id"] for item in result["items"]]
        page += 1
    assert pages == everything


def test_limit_zero_and_pages_past_the_end(seeded) -> None:
    assert seeded.browse("process_list", limit=0)["items"] == []
    assert seeded.browse("process_list", limit=10, page=1000)["items"] == []
    assert seeded.browse("process_list", limit=-1, page=2)["items"] == []


def test_count_ignores_limit_and_page(seeded) -> None:
    cat = seeded.catalog
    done = sum(p["status"] == "done" for p in cat.processes)
    for extra in ({}, {"limit": 1}, {"limit": -1, "page": 3}):
        result = seeded.browse(
            "process_list", count=True, browse_filters={"PROCESS_STATUS": "done"}, **extra
        )
        assert result == {"count": done}
    assert seeded.browse("data_list", count=True) == {"count": len(cat.data)}


def test_extract_values_follow_sort_limit_and_page(seeded) -> None:
    order = _sorted_ids(seeded, "obs_night_date", True)
    nights = {p["id"]: p["obs_night"] for p in seeded.catalog.processes}
    result = seeded.browse(
        "process_list", extract="obs_night_date", sort="obs_night_date DESC", limit=5, page=2
    )
    expected = [nights[i] for i in order[5:10]]
    assert result == {"values": [n.isoformat() if n else None for n in expected]}


def test_extract_count(seeded) -> None:
    cat = seeded.catalog
    with_night = sum(p["obs_night"] is not None for p in cat.processes)
    everything = seeded.browse("process_list", extract="count(obs_night_date)", limit=-1)
    assert everything == {"count": with_night}
    assert seeded.browse("process_list", extract="count()", limit=-1) == {
        "count": len(cat.processes)
    }
    # limit is applied first, as the seed warns
    assert seeded.browse("process_list", extract="count()", limit=7) == {"count": 7}
    total = len(cat.processes)
    assert seeded.browse("process_list", extract="COUNT( id )", limit=7, page=9) == {
        "count": max(0, min(7, total - 56))
    }
    assert seeded.browse("process_list", extract="count()", limit=7, page=99) == {"count": 0}


def test_group_items(seeded) -> None:
    result = seeded.browse("process_list", group="process_status", limit=-1)
    cat = seeded.catalog
    expected: dict[str, list[int]] = {}
    for pid in sorted((p["id"] for p in cat.processes), reverse=True):
        status = cat.by_id(cat.processes)[pid]["status"]
        expected.setdefault(status, []).append(pid)
    got = {k: [item["id"] for item in v] for k, v in result["groups"].items()}
    assert got == expected


def test_group_with_extract_and_count(seeded) -> None:
    cat = seeded.catalog
    recipes = cat.by_id(cat.recipes)
    names = Counter(recipes[p["recipe_id"]]["name"] for p in cat.processes)
    result = seeded.browse("process_list", group="recipe_name", extract="count()", limit=-1)
    assert result == {"groups": dict(names)}
    # on the first page only
    page = seeded.browse("process_list", group="recipe_name", extract="count(id)", limit=10)
    newest = sorted(cat.processes, key=lambda p: p["id"], reverse=True)[:10]
    assert page == {"groups": dict(Counter(recipes[p["recipe_id"]]["name"] for p in newest))}
    values = seeded.browse("process_list", group="workspace", extract="id", limit=-1)
    workspaces = {w["id"]: w["name"] for w in cat.workspaces.values()}
    expected: dict[str, list[Any]] = {}
    for p in sorted(cat.processes, key=lambda p: p["id"], reverse=True):
        expected.setdefault(workspaces.get(p["workspace_id"], "null"), []).append(p["id"])
    assert values == {"groups": expected}


def test_group_by_derived_key_with_filters(seeded) -> None:
    cat = seeded.catalog
    result = seeded.browse(
        "data_list",
        group="obs_night_date_year",
        extract="count()",
        limit=-1,
        browse_filters={"INSTRUMENT": "SPHERE"},
    )
    expected = Counter(str(d["obs_night"].year) for d in cat.data if d["instrument"] == "SPHERE")
    assert result == {"groups": dict(expected)}


def test_items_carry_the_documented_keys(seeded) -> None:
    item = seeded.browse("process_list", limit=1)["items"][0]
    for key in ("id", "batch_id", "recipe_name", "obs_night_date", "process_status", "user"):
        assert key in item
    data = seeded.browse("data_list", limit=1)["items"][0]
    for key in ("id", "file_name", "size", "data_frame_type", "coord_ra", "exp_time", "prog_id"):
        assert key in data


def test_url_and_header_authentication_agree(seeded) -> None:
    token = seeded.catalog.tokens["alice"]
    by_url = seeded.client.post(f"/api/process_list/alice/{token}", json={"limit": -1})
    by_headers = seeded.client.post(
        "/api/process_list", json={"limit": -1}, headers=seeded.headers("alice")
    )
    by_bearer = seeded.client.post(
        "/api/process_list", json={"limit": -1}, headers={"Authorization": f"Bearer {token}"}
    )
    assert by_url.status_code == by_headers.status_code == by_bearer.status_code == 200
    assert by_url.json() == by_headers.json() == by_bearer.json()
    data_url = seeded.client.post(f"/api/data_list/alice/{token}", json={"count": True})
    assert data_url.json() == seeded.browse("data_list", "alice", count=True)


def test_empty_body_and_curl_style_body(seeded) -> None:
    response = seeded.client.post("/api/process_list", headers=seeded.headers("root"))
    assert response.status_code == 200 and len(response.json()["items"]) == 10
    form = seeded.client.post(
        "/api/process_list",
        content=b'{"count": true}',
        headers={**seeded.headers("root"), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.json() == {"count": len(seeded.catalog.processes)}
