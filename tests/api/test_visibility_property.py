"""Property: whatever the users, roles, memberships and filters, nobody receives an item the
visibility rule (restated here in Python) does not allow; and the answer is exactly the visible
items matching the filters."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from hcdc_server.app import create_app
from hcdc_server.schema import tables as t
from tests.api.client import api_client

USERS = ["u0", "u1", "u2", "u3"]
WORKSPACES = ["w0", "w1", "w2"]
N_PROCESSES = 24
N_DATA = 24
STATUSES = ["done", "error", "queued"]
NIGHT0 = date(2020, 1, 1)

worlds = st.fixed_dictionaries(
    {
        "roles": st.lists(st.sampled_from(["admin", "user", "restricted"]), min_size=4, max_size=4),
        "members": st.sets(st.tuples(st.integers(0, 2), st.integers(0, 3))),
        "owners": st.lists(st.integers(0, 3), min_size=N_PROCESSES, max_size=N_PROCESSES),
        "places": st.lists(
            st.sampled_from([None, 0, 1, 2]), min_size=N_PROCESSES, max_size=N_PROCESSES
        ),
        "public": st.lists(st.booleans(), min_size=N_DATA, max_size=N_DATA),
        "shares": st.sets(st.tuples(st.integers(0, 2), st.integers(0, N_DATA - 1))),
        "caller": st.integers(0, 3),
        "status": st.none()
        | st.sampled_from(STATUSES)
        | st.lists(st.sampled_from(STATUSES), min_size=1),
        "workspace": st.none()
        | st.sampled_from(WORKSPACES)
        | st.lists(st.sampled_from(WORKSPACES), min_size=1, max_size=2),
        "nights": st.none() | st.tuples(st.integers(0, 10), st.integers(0, 10)),
        "restrict_user": st.booleans(),
        "no_workspace": st.booleans(),
    }
)


def _base(factory) -> dict[str, str]:
    now = datetime(2026, 1, 1)
    with factory.sessions.begin() as session:
        session.execute(
            insert(t.User),
            [
                {"id": i + 1, "login": u, "role": "user", "created_at": now}
                for i, u in enumerate(USERS)
            ],
        )
        session.execute(
            insert(t.Workspace),
            [{"id": i + 1, "name": w, "created_at": now} for i, w in enumerate(WORKSPACES)],
        )
        recipe_id = session.scalar(
            insert(t.Recipe)
            .values(name="r", version="1", kind="python", spec={}, created_at=now)
            .returning(t.Recipe.id)
        )
        session.execute(
            insert(t.Process),
            [
                {
                    "id": i + 1,
                    "recipe_id": recipe_id,
                    "user_id": 1,
                    "status": STATUSES[i % 3],
                    "created_at": now,
                    "obs_night": NIGHT0 + timedelta(days=i % 11),
                    "params": {},
                }
                for i in range(N_PROCESSES)
            ],
        )
        session.execute(
            insert(t.DataFile),
            [
                {
                    "id": i + 1,
                    "path": f"/nowhere/{i}.fits",
                    "filename": f"{i}.fits",
                    "checksum": f"{i:064x}",
                    "size": 1,
                    "frame_type": "IRD_DARK_RAW",
                    "obs_night": NIGHT0 + timedelta(days=i % 11),
                    "ingested_at": now,
                }
                for i in range(N_DATA)
            ],
        )
    users = factory.users()
    return {u: users.create_token(u).token for u in USERS}


def _apply(factory, world) -> None:
    with factory.sessions.begin() as session:
        for i, role in enumerate(world["roles"]):
            session.execute(update(t.User).where(t.User.id == i + 1).values(role=role))
        session.execute(delete(t.WorkspaceMember))
        if world["members"]:
            session.execute(
                insert(t.WorkspaceMember),
                [
                    {
                        "workspace_id": w + 1,
                        "user_id": u + 1,
                        "role": "viewer",
                        "added_at": datetime(2026, 1, 1),
                    }
                    for w, u in world["members"]
                ],
            )
        for i in range(N_PROCESSES):
            place = world["places"][i]
            session.execute(
                update(t.Process)
                .where(t.Process.id == i + 1)
                .values(
                    user_id=world["owners"][i] + 1,
                    workspace_id=None if place is None else place + 1,
                )
            )
        for i, public in enumerate(world["public"]):
            session.execute(
                update(t.DataFile).where(t.DataFile.id == i + 1).values(is_public=public)
            )
        session.execute(delete(t.WorkspaceData))
        if world["shares"]:
            session.execute(
                insert(t.WorkspaceData),
                [{"workspace_id": w + 1, "data_file_id": d + 1} for w, d in world["shares"]],
            )


def _expected(world, resource: str) -> set[int]:
    caller = world["caller"]
    role = world["roles"][caller]
    mine = {w for w, u in world["members"] if u == caller}
    names = world["workspace"]
    named = (
        None
        if names is None
        else {WORKSPACES.index(n) for n in ([names] if isinstance(names, str) else names)}
    )
    result = set()
    if resource == "process":
        for i in range(N_PROCESSES):
            place, owner = world["places"][i], world["owners"][i]
            allowed = role == "admin" or place in mine or (role == "user" and owner == caller)
            matches = (
                (
                    world["status"] is None
                    or STATUSES[i % 3]
                    in ([world["status"]] if isinstance(world["status"], str) else world["status"])
                )
                and (named is None or place in named)
                and (
                    world["nights"] is None
                    or min(world["nights"]) <= i % 11 <= max(world["nights"])
                )
                and (not world["restrict_user"] or owner == caller)
                and (not world["no_workspace"] or place is None)
            )
            if allowed and matches:
                result.add(i + 1)
        return result
    for i in range(N_DATA):
        holders = {w for w, d in world["shares"] if d == i}
        allowed = role == "admin" or bool(holders & mine) or (role == "user" and world["public"][i])
        # A WORKSPACE filter matches only the caller's own workspaces (an admin's: all).
        nameable = named if named is None or role == "admin" else named & mine
        matches = (nameable is None or bool(holders & nameable)) and (
            world["nights"] is None or min(world["nights"]) <= i % 11 <= max(world["nights"])
        )
        if allowed and matches:
            result.add(i + 1)
    return result


def test_nobody_sees_outside_the_visibility_rule(factory) -> None:
    tokens = _base(factory)
    with api_client(create_app(factory)) as client:

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(world=worlds)
        def check(world) -> None:
            _apply(factory, world)
            caller = USERS[world["caller"]]
            headers = {"X-Auth-Ident": caller, "X-Auth-Token": tokens[caller]}
            filters: dict = {}
            if world["status"] is not None:
                filters["PROCESS_STATUS"] = world["status"]
            if world["workspace"] is not None:
                filters["WORKSPACE"] = world["workspace"]
            if world["nights"] is not None:
                low, high = sorted(world["nights"])
                filters["OBS_NIGHT_DATE"] = {
                    "min": (NIGHT0 + timedelta(days=low)).isoformat(),
                    "max": (NIGHT0 + timedelta(days=high)).isoformat(),
                }
            if world["restrict_user"]:
                filters["FILTER_RESTRICT_USER"] = True
            if world["no_workspace"]:
                filters["FILTER_NO_WORKSPACE"] = True
            data_filters = {
                k: v for k, v in filters.items() if k in ("WORKSPACE", "OBS_NIGHT_DATE")
            }
            role = world["roles"][world["caller"]]
            mine = {WORKSPACES[w] for w, u in world["members"] if u == world["caller"]}
            named = world["workspace"]
            named_set = (
                set() if named is None else set([named] if isinstance(named, str) else named)
            )
            for endpoint, resource, body_filters in (
                ("process_list", "process", filters),
                ("data_list", "data", data_filters),
            ):
                response = client.post(
                    f"/api/{endpoint}",
                    json={"browse_filters": body_filters, "limit": -1},
                    headers=headers,
                )
                if role == "restricted" and (not named_set or not named_set <= mine):
                    assert response.status_code == 403, response.text
                    continue
                assert response.status_code == 200, response.text
                got = {item["id"] for item in response.json()["items"]}
                assert got == _expected(world, resource)
                count = client.post(
                    f"/api/{endpoint}",
                    json={"browse_filters": body_filters, "count": True},
                    headers=headers,
                )
                assert count.json() == {"count": len(got)}
                for item_id in (1, N_PROCESSES):
                    path = "processes" if resource == "process" else "data"
                    detail = client.get(f"/api/{path}/{item_id}", headers=headers)
                    allowed = _expected(
                        {
                            **world,
                            "status": None,
                            "workspace": None,
                            "nights": None,
                            "restrict_user": False,
                            "no_workspace": False,
                        },
                        resource,
                    )
                    assert detail.status_code == (200 if item_id in allowed else 404), detail.text

        check()
