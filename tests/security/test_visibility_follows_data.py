"""Visibility follows data: products, the processing cache and every side channel answer from
the caller's visible set, on SQLite and PostgreSQL.

The world: ``ada`` (admin, owner of ``ws_a``), ``alice`` (editor of ``ws_a``), ``bob`` (owner of
the private ``ws_b``), ``rita`` (restricted, viewer of ``ws_a``). Data: ``pub`` (public),
``a_priv`` (private in ``ws_a``), ``b_priv`` (private in ``ws_b``). Real processes, run by the
worker through ``hcdc_echo``:

- ``p_b``: bob's, in ``ws_b``, on ``b_priv`` and ``pub``;
- ``p_b_alone``: bob's, in no workspace, on ``b_priv``;
- ``p_b_pub``: bob's, in ``ws_b``, on ``pub`` only;
- ``p_a_mixed``: ada's, in ``ws_a``, on ``a_priv`` and ``b_priv``;

and ``q_a_next``, ada's, queued in ``ws_a`` on the product of ``p_b_pub``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from hcdc_server.app import create_app
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import DataFile, Workspace, WorkspaceData
from tests.api.client import ApiClient, api_client
from tests.conftest import POSTGRES_URL
from tests.dispatch.helpers import run_worker, write_naco_dark
from tests.security.live import database

USERS = {"ada": "admin", "alice": "user", "bob": "user", "rita": "restricted"}
ROLES = tuple(USERS)
#: What each role may see of bob's private workspace.
SEES_B = {"ada": True, "alice": False, "bob": True, "rita": False}


@dataclass
class World:
    factory: Factory
    client: ApiClient
    folder: Path
    tokens: dict[str, str] = field(default_factory=dict)
    data: dict[str, int] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def headers(self, login: str) -> dict[str, str]:
        return {"X-Auth-Ident": login, "X-Auth-Token": self.tokens[login]}

    def get(self, login: str, url: str) -> Any:
        return self.client.get(url, headers=self.headers(login))

    def post(self, login: str, url: str, **kwargs: Any) -> Any:
        return self.client.post(url, headers=self.headers(login), **kwargs)

    def browse(self, login: str, endpoint: str, filters: dict[str, Any], **body: Any) -> Any:
        response = self.post(
            login, f"/api/{endpoint}", json={"browse_filters": filters, "limit": -1, **body}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, login: str, endpoint: str, filters: dict[str, Any]) -> set[int]:
        return {item["id"] for item in self.browse(login, endpoint, filters)["items"]}

    def launch(
        self,
        login: str,
        data: list[str],
        workspace: str | None,
        *,
        force: bool = False,
        message: str = "",
    ) -> Any:
        body: dict[str, Any] = {
            "recipe": "hcdc_echo",
            "inputs": [{"data_file_id": self.data[name]} for name in data],
            "params": {"message": message},
            "force": force,
        }
        if workspace is not None:
            body["workspace"] = workspace
        return self.post(login, "/api/processes", json=body)

    def new_data(self, name: str, *, workspace: str | None, public: bool) -> int:
        self.counter += 1
        path = write_naco_dark(self.folder / f"{name}.fits", seed=500 + self.counter)
        records: list[Any] = []
        self.factory.ingest().ingest(
            [path], workspace=workspace, public=public, on_record=records.append
        )
        self.data[name] = int(records[0].id)
        self.paths[name] = str(path.resolve())
        return self.data[name]


def fits_bytes(value: float) -> bytes:
    buffer = BytesIO()
    fits.PrimaryHDU(np.full((4, 4), value, dtype=np.float32)).writeto(buffer)
    return buffer.getvalue()


def _build(factory: Factory, client: ApiClient, folder: Path) -> World:
    world = World(factory, client, folder)
    users = factory.users()
    for login, role in USERS.items():
        users.add_user(login, role=role)  # type: ignore[arg-type]
        world.tokens[login] = users.create_token(login).token
    workspaces = factory.workspaces()
    workspaces.add_workspace("ws_a", owner_login="ada")
    workspaces.add_workspace("ws_b", owner_login="bob")
    workspaces.set_member("ws_a", "alice", "editor")
    workspaces.set_member("ws_a", "rita", "viewer")
    # Users run hcdc_echo here as they would any visible recipe.
    factory.recipes().set_hidden("hcdc_echo", hidden=False)
    world.new_data("pub", workspace=None, public=True)
    world.new_data("a_priv", workspace="ws_a", public=False)
    world.new_data("b_priv", workspace="ws_b", public=False)
    launches = {
        "p_b": ("bob", ["b_priv", "pub"], "ws_b"),
        "p_b_alone": ("bob", ["b_priv"], None),
        "p_b_pub": ("bob", ["pub"], "ws_b"),
        "p_a_mixed": ("ada", ["a_priv", "b_priv"], "ws_a"),
    }
    for name, (login, data, workspace) in launches.items():
        response = world.launch(login, data, workspace, force=True, message=f"{login}'s secret")
        assert response.status_code == 201, response.text
        world.processes[name] = response.json()["processes"][0]["id"]
    run_worker(factory, timeout_s=300)
    processes = factory.processes()
    for name, pid in world.processes.items():
        process = processes.get(pid)
        assert process.status == "done", (name, process.error)
        assert len(process.outputs) == 1, name
        world.outputs[name] = process.outputs[0]
    # Queued, never run: ada's process in ws_a on the public product of bob's p_b_pub.
    body = {"recipe": "hcdc_echo", "inputs": [{"data_file_id": world.outputs["p_b_pub"]}]}
    queued = world.post("ada", "/api/processes", json={**body, "workspace": "ws_a"})
    assert queued.status_code == 201, queued.text
    world.processes["q_a_next"] = queued.json()["processes"][0]["id"]
    return world


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world above, its processes run by a real worker, once per database backend."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured: set HCDC_TEST_POSTGRES_URL (CI does)")
    folder = tmp_path_factory.mktemp(f"follows-{request.param}")
    with database(request.param, folder) as url:
        settings = Settings(data_dir=folder / "data", database_url=url, resolve_targets=False)
        factory = Factory(settings)
        factory.init_database()
        try:
            with api_client(create_app(factory)) as client:
                (folder / "files").mkdir()
                yield _build(factory, client, folder / "files")
        finally:
            factory.close()


def _stored(world: World, data_id: int) -> tuple[bool, set[str]]:
    with world.factory.sessions() as session:
        public = session.scalar(select(DataFile.is_public).where(DataFile.id == data_id))
        names = set(
            session.scalars(
                select(Workspace.name)
                .join(WorkspaceData, WorkspaceData.workspace_id == Workspace.id)
                .where(WorkspaceData.data_file_id == data_id)
            )
        )
    return bool(public), names


# -- products ----------------------------------------------------------------------------------


def test_products_are_stored_where_all_their_inputs_are(world: World) -> None:
    """The most restricted input decides; the process's workspace holds the product."""
    assert _stored(world, world.outputs["p_b"]) == (False, {"ws_b"})
    # No workspace: the workspaces holding every private input.
    assert _stored(world, world.outputs["p_b_alone"]) == (False, {"ws_b"})
    # Every input public: so is the product.
    assert _stored(world, world.outputs["p_b_pub"]) == (True, {"ws_b"})
    # Launched into ws_a by someone who sees both: ws_a's, not public.
    assert _stored(world, world.outputs["p_a_mixed"]) == (False, {"ws_a"})


@pytest.mark.parametrize("login", ROLES)
def test_a_private_input_keeps_its_products_private(world: World, login: str) -> None:
    """bob's private input through a recipe: only who sees ws_b lists or downloads the product."""
    for name in ("p_b", "p_b_alone"):
        out = world.outputs[name]
        expected = 200 if SEES_B[login] else 404
        assert world.get(login, f"/api/data/{out}").status_code == expected, name
        assert world.get(login, f"/api/data/{out}/file").status_code == expected, name
        assert world.get(login, f"/api/data/{out}/header").status_code == expected, name
        filters: dict[str, Any] = {"DATA_FILE_ID": out}
        if login == "rita":
            filters["WORKSPACE"] = "ws_a"
        listed = world.ids(login, "data_list", filters)
        assert listed == ({out} if SEES_B[login] else set()), name


# -- the processing cache ----------------------------------------------------------------------

#: Who relaunching p_b_pub's run (same recipe, inputs, parameters) where, and what they get:
#: "hit" (p_b_pub reused), "fresh" (run afresh), or an HTTP status.
CACHE = [
    ("alice", "ws_a", "fresh"),
    ("alice", None, "fresh"),
    ("ada", "ws_a", "fresh"),
    ("bob", None, "fresh"),
    ("bob", "ws_b", "hit"),
    ("ada", "ws_b", "hit"),
    ("rita", "ws_a", 403),
    ("alice", "ws_b", 404),
]


@pytest.mark.parametrize(("login", "workspace", "outcome"), CACHE)
def test_the_cache_serves_only_runs_the_caller_could_read(
    world: World, login: str, workspace: str | None, outcome: str | int
) -> None:
    response = world.launch(login, ["pub"], workspace, message="bob's secret")
    if isinstance(outcome, int):
        assert response.status_code == outcome, response.text
        return
    assert response.status_code == 201, response.text
    launched = response.json()["processes"][0]
    if outcome == "hit":
        assert launched["cache_of_id"] == world.processes["p_b_pub"]
        assert launched["status"] == "done"
        assert launched["outputs"] == [world.outputs["p_b_pub"]]
        log = world.get(login, f"/api/processes/{launched['id']}/log")
        assert log.status_code == 200, log.text
        return
    assert launched["cache_of_id"] is None and launched["status"] == "queued"
    assert launched["outputs"] == []
    # Neither bob's job log nor his products through the new process.
    log = world.get(login, f"/api/processes/{launched['id']}/log")
    assert log.status_code == 404, log.text


# -- side channels -----------------------------------------------------------------------------


@pytest.mark.parametrize("login", ROLES)
def test_process_id_on_data_list_answers_only_for_readable_processes(
    world: World, login: str
) -> None:
    pid = world.processes["p_b"]
    filters: dict[str, Any] = {"PROCESS_ID": pid}
    if login == "rita":
        filters["WORKSPACE"] = "ws_a"
    got = world.ids(login, "data_list", filters)
    if SEES_B[login]:
        assert got == {world.data["b_priv"], world.data["pub"], world.outputs["p_b"]}
    else:
        # pub is public, yet its being an input of bob's process is not.
        assert got == set()
        consumed = world.ids(login, "data_list", {**filters, "SWITCH_CONSUMER_LIST": True})
        assert consumed == set()
    # The same through process_list: processes related to an unreadable one are not told.
    related = world.browse(login, "process_list", {"DATA_IN_OUT": pid, **_scope(login)})
    if not SEES_B[login]:
        assert related["items"] == []


@pytest.mark.parametrize("login", ROLES)
def test_process_list_relates_only_through_visible_processes_and_files(
    world: World, login: str
) -> None:
    scope = _scope(login)
    after_b = {"DATA_IN_OUT": world.processes["p_b_pub"], "SWITCH_CONSUMER_LIST": True}
    # q_a_next consumed p_b_pub's product; only who reads both learns it.
    expected = {world.processes["q_a_next"]} if login == "ada" else set()
    assert world.ids(login, "process_list", {**after_b, **scope}) == expected
    # Which processes took b_priv as input: only who sees b_priv learns it.
    took = world.ids(login, "process_list", {"DATA_FILE_ID": world.data["b_priv"], **scope})
    readable = {
        "ada": {"p_b", "p_b_alone", "p_a_mixed"},
        "alice": set(),
        "bob": {"p_b", "p_b_alone"},
        "rita": set(),
    }
    assert took == {world.processes[name] for name in readable[login]}


def _scope(login: str) -> dict[str, Any]:
    return {"WORKSPACE": "ws_a"} if login == "rita" else {}


@pytest.mark.parametrize("login", ROLES)
def test_naming_a_workspace_matches_only_the_callers_own(world: World, login: str) -> None:
    b_files = {
        world.data["b_priv"],
        world.outputs["p_b"],
        world.outputs["p_b_alone"],
        world.outputs["p_b_pub"],
    }
    for value in ("ws_b", "ws_*", "*b", ["ws_b", "nothing"]):
        response = world.post(
            login, "/api/data_list", json={"browse_filters": {"WORKSPACE": value}, "limit": -1}
        )
        if login == "rita":
            assert response.status_code == 403, value
            continue
        got = {item["id"] for item in response.json()["items"]}
        if SEES_B[login]:
            assert b_files <= got, value
        else:
            # Not even ws_b's public product: a non-member's filter matches no ws_b file.
            assert not got & b_files, value
            assert world.outputs["p_b_pub"] not in got, value
    # A wildcard reaches the caller's own workspaces only (an admin's: all).
    if login != "rita":
        everywhere = world.ids(login, "data_list", {"WORKSPACE": "*"})
        assert bool(everywhere & b_files) == SEES_B[login]
        assert (world.data["a_priv"] in everywhere) == (login != "bob")


def test_uploading_known_content_tells_nothing_of_a_hidden_file(world: World) -> None:
    content = fits_bytes(7.0)
    bob = world.post(
        "bob",
        "/api/data",
        files={"file": ("bob-secret-name.fits", content, "application/fits")},
        data={"workspace": "ws_b"},
    )
    assert bob.status_code == 201, bob.text
    bob_id = bob.json()["id"]
    alice = world.post(
        "alice",
        "/api/data",
        files={"file": ("mine.fits", content, "application/fits")},
        data={"workspace": "ws_a"},
    )
    assert alice.status_code == 409, alice.text
    message = alice.json()["message"]
    assert "not visible to you" in message
    assert str(bob_id) not in message and "bob-secret-name" not in message
    assert _stored(world, bob_id) == (False, {"ws_b"})  # not shared into ws_a
    assert world.get("alice", f"/api/data/{bob_id}").status_code == 404
    # Who sees the known file gets it shared, as before: the admin into ws_a.
    ada = world.post(
        "ada",
        "/api/data",
        files={"file": ("again.fits", content, "application/fits")},
        data={"workspace": "ws_a"},
    )
    assert ada.status_code == 201 and ada.json()["id"] == bob_id
    assert _stored(world, bob_id) == (False, {"ws_a", "ws_b"})


@pytest.mark.parametrize("login", ROLES)
def test_sof_shows_only_paths_of_visible_inputs(world: World, login: str) -> None:
    mixed = world.get(login, f"/api/processes/{world.processes['p_a_mixed']}/sof")
    if login == "bob":  # not a member of ws_a: the process does not exist for him
        assert mixed.status_code == 404, mixed.text
        assert world.paths["a_priv"] not in mixed.text
    else:
        assert mixed.status_code == 200, mixed.text
        assert world.paths["a_priv"] in mixed.text
    if login == "ada":
        assert world.paths["b_priv"] in mixed.text
        assert "not visible" not in mixed.text
    if login in ("alice", "rita"):
        assert world.paths["b_priv"] not in mixed.text
        assert "# 1 more input(s) not visible to you" in mixed.text
    own = world.get(login, f"/api/processes/{world.processes['p_b']}/sof")
    if SEES_B[login]:
        assert own.status_code == 200 and world.paths["b_priv"] in own.text
    else:
        assert own.status_code == 404, own.text
        assert world.paths["b_priv"] not in own.text


@pytest.mark.parametrize("login", ROLES)
def test_count_group_and_extract_use_the_visible_set(world: World, login: str) -> None:
    scope = _scope(login)
    hidden_data = {world.data["b_priv"], world.outputs["p_b"], world.outputs["p_b_alone"]}
    visible_data = world.ids(login, "data_list", scope)
    assert bool(visible_data & hidden_data) == SEES_B[login]
    count = world.browse(login, "data_list", scope, count=True)
    assert count == {"count": len(visible_data)}
    names = world.browse(login, "data_list", scope, extract="file_name")["values"]
    assert ("b_priv.fits" in names) == SEES_B[login]
    counted = world.browse(login, "data_list", scope, extract="count(id)")
    assert counted == {"count": len(visible_data)}
    grouped = world.browse(login, "data_list", scope, group="data_frame_type")["groups"]
    assert {item["id"] for items in grouped.values() for item in items} == visible_data
    per_group = world.browse(
        login, "data_list", scope, group="data_frame_type", extract="count(id)"
    )["groups"]
    assert sum(per_group.values()) == len(visible_data)
    bobs = {world.processes[n] for n in ("p_b", "p_b_alone", "p_b_pub")}
    processes = world.ids(login, "process_list", scope)
    assert bool(processes & bobs) == SEES_B[login]
    users = world.browse(login, "process_list", scope, extract="user")["values"]
    assert ("bob" in users) == SEES_B[login]
    by_user = world.browse(login, "process_list", scope, group="user", extract="count(id)")
    assert ("bob" in by_user["groups"]) == SEES_B[login]
