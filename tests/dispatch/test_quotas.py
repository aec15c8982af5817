"""Least privilege and fair share: hidden recipes, priority by role, per-user limits, run time.

The queue tests claim straight from :class:`ProcessQueue`, ending each claimed process at once,
as a worker with that many slots whose jobs end quickly would; one test runs a real worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from hcdc_kernel.recipes.workflow import WorkflowSpec, WorkflowStep
from hcdc_server.app import create_app
from hcdc_server.config import QuotaSettings, Settings
from hcdc_server.dispatch.queue import ProcessQueue
from hcdc_server.exceptions import InvalidInputError, QuotaExceededError
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest, WorkflowLaunchRequest
from hcdc_server.schema.tables import Process
from hcdc_server.services.quotas import run_time_limit
from tests.api.client import api_client
from tests.dispatch.helpers import run_worker, user_id


@pytest.fixture
def limited(settings: Settings) -> Iterator[Factory]:
    """A factory whose quotas are small enough to reach in a test."""
    quotas = QuotaSettings(max_queued_per_user=3, max_running_per_user=2, max_run_time_s=1.0)
    made = Factory(settings.model_copy(update={"quotas": quotas}))
    made.init_database()
    yield made
    made.close()


def headers_of(factory: Factory, login: str, role: str = "user") -> dict[str, str]:
    factory.users().add_user(login, role=role)  # type: ignore[arg-type]
    return {"X-Auth-Ident": login, "X-Auth-Token": factory.users().create_token(login).token}


def sleeps(
    factory: Factory, login: str, count: int, *, priority: int = 0, seconds: float = 0.0
) -> list[int]:
    uid = user_id(factory, login)
    request = LaunchRequest(
        recipe="hcdc_sleep", params={"seconds": seconds}, priority=priority, force=True
    )
    return [factory.processes().launch(request, user_id=uid).processes[0].id for _ in range(count)]


def serve_one_at_a_time(factory: Factory, rounds: int, *, slots: int = 1) -> list[int]:
    """Claim ``slots`` processes per round and end them: the order the queue served them in."""
    queue = ProcessQueue(factory.sessions, quotas=factory.settings.quotas)
    served: list[int] = []
    for _ in range(rounds):
        got = queue.claim("w", slots, executor="local")
        served += got
        with factory.sessions.begin() as session:
            session.execute(update(Process).where(Process.id.in_(got)).values(status="done"))
    return served


# -- hidden recipes ----------------------------------------------------------------------------


def test_only_administrators_run_hidden_recipes(factory):
    alice = headers_of(factory, "alice")
    root = headers_of(factory, "root", "admin")
    factory.workflows().add(
        WorkflowSpec(name="sleepy", version="1", steps=(WorkflowStep("a", "hcdc_sleep"),))
    )
    with api_client(create_app(factory)) as http:
        body = {"recipe": "hcdc_sleep", "params": {"seconds": 86400}, "force": True}
        refused = http.post("/api/processes", json=body, headers=alice)
        assert refused.status_code == 403, refused.text
        assert "hcdc_sleep is hidden: only administrators" in refused.json()["message"]
        assert http.post("/api/associate", json=body, headers=alice).status_code == 403
        step = http.post("/api/workflows/sleepy/launch", json={"selection": []}, headers=alice)
        assert step.status_code == 403, step.text
        factory.workspaces().add_workspace("w", owner_login="alice")
        launched = http.post("/api/processes", json={**body, "workspace": "w"}, headers=root)
        assert launched.status_code == 201, launched.text
        pid = launched.json()["processes"][0]["id"]
        with factory.sessions.begin() as session:
            session.execute(update(Process).where(Process.id == pid).values(status="done"))
        # alice owns the workspace, so she may act on its processes, but not run a hidden recipe.
        again = http.post(f"/api/processes/{pid}/reprocess", headers=alice)
        assert again.status_code == 403, again.text
        assert http.post(f"/api/processes/{pid}/reprocess", headers=root).status_code == 201


# -- priority and the number of processes queued -------------------------------------------


def test_priority_is_bounded_by_role(factory):
    alice = user_id(factory, "alice")
    root = factory.users().add_user("root", role="admin").id
    processes = factory.processes()
    with pytest.raises(InvalidInputError, match=r"priority: 1000 .* \(0 to 10;"):
        processes.launch(LaunchRequest(recipe="hcdc_sleep", priority=1000), user_id=alice)
    with pytest.raises(InvalidInputError, match="priority: -1"):
        processes.launch(LaunchRequest(recipe="hcdc_sleep", priority=-1), user_id=alice)
    assert processes.launch(LaunchRequest(recipe="hcdc_sleep", priority=10), user_id=alice)
    top = processes.launch(LaunchRequest(recipe="hcdc_sleep", priority=1000), user_id=root)
    assert top.processes[0].status == "queued"
    # A user's reprocess of the administrator's process runs at the user's highest priority.
    with factory.sessions.begin() as session:
        session.execute(
            update(Process).where(Process.id == top.processes[0].id).values(status="done")
        )
    again = processes.reprocess(top.processes[0].id, user_id=alice)
    with factory.sessions() as session:
        assert session.get_one(Process, again.id).priority == 10


def test_queued_processes_per_user_are_limited_with_429(limited):
    alice = headers_of(limited, "alice")
    root = headers_of(limited, "root", "admin")
    body = {"recipe": "hcdc_echo", "force": True}
    limited.recipes().set_hidden("hcdc_echo", hidden=False)
    with api_client(create_app(limited)) as http:
        for _ in range(3):
            assert http.post("/api/processes", json=body, headers=alice).status_code == 201
        refused = http.post("/api/processes", json=body, headers=alice)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "quota_exceeded"
        assert "limit of 3 queued processes per user" in refused.json()["message"]
        for _ in range(5):  # administrators are not limited
            assert http.post("/api/processes", json=body, headers=root).status_code == 201
    with limited.sessions() as session:
        alices = session.query(Process).filter(Process.user_id == user_id(limited, "alice"))
        assert alices.count() == 3  # the refused launch left nothing behind
    limited.workflows().add(
        WorkflowSpec(name="echoes", version="1", steps=(WorkflowStep("a", "hcdc_echo"),))
    )
    with pytest.raises(QuotaExceededError):
        limited.workflows().launch(
            "echoes", WorkflowLaunchRequest(selection=[]), user_id=user_id(limited, "alice")
        )


# -- fair share ------------------------------------------------------------------------------


def test_one_users_many_launches_do_not_starve_anothers_single_launch(factory):
    many = sleeps(factory, "alice", 30)
    [single] = sleeps(factory, "bob", 1)
    served = serve_one_at_a_time(factory, 4, slots=2)
    assert single in served[:2], served
    assert sorted(served) == sorted([*many[:7], single])


def test_users_take_turns_the_least_recently_served_first(factory):
    alice = sleeps(factory, "alice", 4)
    bob = sleeps(factory, "bob", 4)
    served = serve_one_at_a_time(factory, 8)
    owners = ["a" if pid in alice else "b" if pid in bob else "?" for pid in served]
    assert owners == ["a", "b"] * 4, served
    assert [p for p in served if p in alice] == alice  # each user's in launch order


def test_priority_comes_before_turns(factory):
    low = sleeps(factory, "alice", 3)
    high = sleeps(factory, "bob", 3, priority=5)
    assert serve_one_at_a_time(factory, 6) == high + low


def test_running_processes_per_user_are_limited_but_not_for_administrators(limited):
    alice = sleeps(limited, "alice", 3)
    root = limited.users().add_user("root", role="admin").id
    request = LaunchRequest(recipe="hcdc_sleep", force=True)
    admin = [limited.processes().launch(request, user_id=root).processes[0].id for _ in range(3)]
    queue = ProcessQueue(limited.sessions, quotas=limited.settings.quotas)
    claimed = queue.claim("w", 10, executor="local")
    assert sorted(claimed) == sorted([*alice[:2], *admin])  # alice's third waits
    assert queue.claim("w", 10, executor="local") == []


def test_a_worker_starts_the_single_launch_before_most_of_the_many(factory):
    many = sleeps(factory, "alice", 10)
    [single] = sleeps(factory, "bob", 1)
    run_worker(factory, capacity=2)
    processes = factory.processes()
    started = {pid: processes.get(pid).started_at for pid in [*many, single]}
    assert all(started.values()), started
    before = [pid for pid in many if started[pid] < started[single]]
    assert len(before) <= 2, (before, started)


# -- run time ----------------------------------------------------------------------------------


def test_every_job_is_held_to_the_longest_run_time(limited):
    [pid] = sleeps(limited, "alice", 1, seconds=30.0)  # the recipe's own limit is 600 s
    run_worker(limited, timeout_s=60)
    process = limited.processes().get(pid)
    assert process.status == "error"
    assert process.failure_class == "timeout"
    assert process.error.startswith("time limit of 1 s exceeded")


def test_a_run_time_per_recipe_replaces_the_recipes_own(factory):
    spec = factory.recipes().get("hcdc_sleep")[1]
    assert run_time_limit(spec, QuotaSettings()) == 600.0
    assert run_time_limit(spec, QuotaSettings(run_time_s={"hcdc_sleep": 5})) == 5.0
    assert run_time_limit(spec, QuotaSettings(run_time_s={"hcdc_sleep": 10**6})) == 86400.0
