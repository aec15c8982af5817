"""Authorisation matrix: every route and method, every kind of caller, exactly the intended answer.

The rules (``server/services/permissions.py``) are restated here as a table: one or more cases
per route, each with the expected status (and, where it matters, a word of the message) per
caller. The table must name every route the application serves, so a new route without a rule
fails this test. Callers:

- ``anonymous``: no credentials; ``hub``: JupyterHub's service token (no user);
- ``restricted``: a restricted user, editor of workspace ``w``;
- ``user``: a user who belongs to no workspace;
- ``viewer``, ``editor``, ``owner``: users with that role in ``w``;
- ``admin``;
- ``launcher``: a user, not a member of ``w``, who launched the process ``P`` in ``w``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from pydantic import SecretStr
from sqlalchemy import update
from starlette.routing import Route

from hcdc_kernel.jobs.spec import LOG_FILE
from hcdc_kernel.recipes.workflow import WorkflowSpec, WorkflowStep
from hcdc_server.app import create_app
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.models.processes import LaunchRequest
from hcdc_server.schema.tables import Process, ProcessAttribute
from tests.api.client import ApiClient, api_client
from tests.dispatch.helpers import write_naco_dark

HUB_TOKEN = "hub-token-of-the-matrix"
CALLERS = (
    "anonymous",
    "hub",
    "restricted",
    "user",
    "viewer",
    "editor",
    "owner",
    "admin",
    "launcher",
)
#: login and role of each user; ``sam`` and ``hank`` are the subjects of membership and hub calls.
USERS = {
    "restricted": ("rita", "restricted"),
    "user": ("ursula", "user"),
    "viewer": ("victor", "user"),
    "editor": ("edith", "user"),
    "owner": ("owen", "user"),
    "admin": ("ada", "admin"),
    "launcher": ("lara", "user"),
    "spare": ("sam", "user"),
    "hubbed": ("hank", "user"),
}
MEMBERS = {"restricted": "editor", "viewer": "viewer", "editor": "editor", "owner": "owner"}

Expected = int | tuple[int, str]


def expect(status: int, **special: Expected) -> dict[str, Expected]:
    """``status`` for every authenticated user; 401 for the anonymous and the hub unless given."""
    table: dict[str, Expected] = dict.fromkeys(CALLERS, status)
    table.update(anonymous=401, hub=401)
    table.update(special)
    return table


def everyone(status: int) -> dict[str, Expected]:
    return dict.fromkeys(CALLERS, status)


def hub_only(status: int) -> dict[str, Expected]:
    return {**dict.fromkeys(CALLERS, 401), "hub": status}


# -- the rules -------------------------------------------------------------------------------
ANY_USER = expect(200)
BROWSE = expect(200, restricted=(403, "WORKSPACE"))
NO_PROCESS = (404, "no process")
NO_WORKSPACE = (404, "no workspace 'w'")
NO_DATA = (404, "no data file")
READ_P = expect(200, user=NO_PROCESS)
#: ``w``'s private data: its members and admins see it.
READ_W_DATA = expect(200, user=NO_DATA, launcher=NO_DATA)
READ_W = expect(200, user=NO_WORKSPACE, launcher=NO_WORKSPACE)
MANAGE_W = expect(
    200,
    user=NO_WORKSPACE,
    launcher=NO_WORKSPACE,
    restricted=(403, "owners"),
    viewer=(403, "owners"),
    editor=(403, "owners"),
)

KEEP_LAST_OWNER = MANAGE_W | {"owner": (409, "last owner"), "admin": (409, "last owner")}


def act_p(status: int) -> dict[str, Expected]:
    return expect(status, user=NO_PROCESS, viewer=(403, "editor or owner"))


def admin_only(status: int, refused: Expected) -> dict[str, Expected]:
    """``status`` for administrators, ``refused`` for every other user (hidden recipes)."""
    return expect(status) | {c: refused for c in CALLERS if c not in ("anonymous", "hub", "admin")}


def write_w(status: int) -> dict[str, Expected]:
    return expect(status, user=NO_WORKSPACE, launcher=NO_WORKSPACE, viewer=(403, "editor or owner"))


# -- the world the requests act on ---------------------------------------------------------------


@dataclass
class World:
    """Users, the workspace ``w``, data files and processes, and a client over the app."""

    factory: Factory
    client: ApiClient
    folder: Path
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        if caller == "hub":
            return {"Authorization": f"token {HUB_TOKEN}"}
        return {"X-Auth-Ident": USERS[caller][0], "X-Auth-Token": self.tokens[caller]}

    def url_credentials(self, caller: str) -> str:
        if caller in ("anonymous", "hub"):
            return "nobody/nokey.nosecret"
        return f"{USERS[caller][0]}/{self.tokens[caller]}"

    def data(self, *, workspace: str | None, public: bool) -> int:
        """A fresh data file (new content every time)."""
        n = next(self.counter)
        path = write_naco_dark(self.folder / f"d{n}.fits", seed=1000 + n)
        records: list[Any] = []
        self.factory.ingest().ingest(
            [path], workspace=workspace, public=public, on_record=records.append
        )
        return int(records[0].id)

    def process(self, status: str = "queued", **values: Any) -> int:
        """A fresh process launched by the launcher into ``w`` on ``w``'s data."""
        request = LaunchRequest(
            recipe="hcdc_echo",
            inputs=[{"data_file_id": self.ids["w_data"]}],
            workspace="w",
            force=True,
        )
        launched = self.factory.processes().launch(request, user_id=self.ids["launcher"])
        pid = launched.processes[0].id
        with self.factory.sessions.begin() as session:
            session.execute(
                update(Process).where(Process.id == pid).values(status=status, **values)
            )
        return pid

    def fits_bytes(self) -> bytes:
        buffer = BytesIO()
        fits.PrimaryHDU(np.full((4, 4), next(self.counter), dtype=np.float32)).writeto(buffer)
        return buffer.getvalue()


def build_world(factory: Factory, client: ApiClient, folder: Path) -> World:
    world = World(factory, client, folder)
    users = factory.users()
    for caller, (login, role) in USERS.items():
        world.ids[caller] = users.add_user(login, role=role).id  # type: ignore[arg-type]
        world.tokens[caller] = users.create_token(login).token
    # The matrix launches the test recipe hcdc_echo as every role: an administrator shows it
    # (hidden recipes are for administrators; hcdc_sleep stays hidden).
    factory.recipes().set_hidden("hcdc_echo", hidden=False)
    workspaces = factory.workspaces()
    workspaces.add_workspace("w", owner_login="owen")
    workspaces.add_workspace("x", owner_login="ada")
    for caller, role in MEMBERS.items():
        if role != "owner":
            workspaces.set_member("w", USERS[caller][0], role)  # type: ignore[arg-type]
    workspaces.set_member("x", "rita", "viewer")
    world.ids["w_data"] = world.data(workspace="w", public=False)
    world.ids["public_data"] = world.data(workspace=None, public=True)
    job_dir = folder / "job-of-p"
    job_dir.mkdir()
    (job_dir / LOG_FILE).write_text("recipe started\nrecipe done\n")
    world.ids["p"] = world.process("done", job_dir=str(job_dir))
    factory.workflows().add(
        WorkflowSpec(name="echo_once", version="1", steps=(WorkflowStep("a", "hcdc_echo"),))
    )
    return world


# -- the table -------------------------------------------------------------------------------

Build = Callable[[World, str], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    """One request shape on a route and the answer each caller must get."""

    name: str
    build: Build
    expected: dict[str, Expected]


def fixed(url: str, **kwargs: Any) -> Build:
    return lambda world, caller: (url, kwargs)


def launch_body(workspace: str | None, data: str) -> Build:
    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "recipe": "hcdc_echo",
            "inputs": [{"data_file_id": world.ids[data]}],
            "force": True,
        }
        if workspace:
            body["workspace"] = workspace
        return "/api/processes", {"json": body}

    return build


def on_p(suffix: str = "") -> Build:
    return lambda world, caller: (f"/api/processes/{world.ids['p']}{suffix}", {})


def on_fresh_p(
    suffix: str, status: str, body: dict[str, Any] | None = None, **values: Any
) -> Build:
    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        pid = world.process(status, **values)
        return f"/api/processes/{pid}{suffix}", {} if body is None else {"json": body}

    return build


def attribute(key: str, body: dict[str, Any] | None = None) -> Build:
    """P's extended attribute ``key``, set beforehand (so that removing it can succeed)."""

    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        pid = world.ids["p"]
        with world.factory.sessions.begin() as session:
            session.merge(ProcessAttribute(process_id=pid, key=key, value="before"))
        url = f"/api/processes/{pid}/attributes/{key}"
        return url, {} if body is None else {"json": body}

    return build


def on_w_data(suffix: str = "") -> Build:
    return lambda world, caller: (f"/api/data/{world.ids['w_data']}{suffix}", {})


def public_data(suffix: str, key: str = "public_data") -> Build:
    return lambda world, caller: (f"/api/public/data/{world.ids[key]}{suffix}", {})


def browse_url(resource: str) -> Build:
    return lambda world, caller: (
        f"/api/{resource}_list/{world.url_credentials(caller)}",
        {"json": {}},
    )


def new_workspace(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    return "/api/workspaces", {"json": {"name": f"ws-{next(world.counter)}"}}


def public_workspace(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    """A fresh workspace of owen's, empty: making it public releases nothing of ``w``."""
    name = f"pub-{next(world.counter)}"
    world.factory.workspaces().add_workspace(name, owner_login="owen")
    return f"/api/workspaces/{name}/public", {}


def remove_sam(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    world.factory.workspaces().set_member("w", "sam", "viewer")
    return "/api/workspaces/w/members/sam", {}


def invited(suffix: str) -> Build:
    """A fresh workspace of sam's to which the caller (if a user) is invited."""

    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        name = f"inv-{next(world.counter)}"
        workspaces = world.factory.workspaces()
        workspaces.add_workspace(name, owner_login="sam")
        if caller in USERS:
            workspaces.invite(name, USERS[caller][0], "viewer", invited_by="sam")
        return f"/api/invitations/{name}{suffix}", {}

    return build


def upload(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    files = {"file": ("mine.fits", world.fits_bytes(), "application/fits")}
    return "/api/data", {"files": files, "data": {"workspace": "w"}}


def share(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    # public, and in ``x`` too, so that every caller, the restricted one included, sees it
    data_id = world.data(workspace="x", public=True)
    return "/api/workspaces/w/data", {"json": {"data_ids": [data_id]}}


def unshare(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    data_id = world.data(workspace="w", public=False)
    return "/api/workspaces/w/data", {"json": {"data_ids": [data_id]}}


def identify(world: World, caller: str) -> tuple[str, dict[str, Any]]:
    return "/api/hub/identify", {"json": {"login": "sam", "token": world.tokens["spare"]}}


def workflow_launch(workspace: str | None) -> Build:
    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"selection": [world.ids["w_data"]], "force": True}
        if workspace:
            body["workspace"] = workspace
        return "/api/workflows/echo_once/launch", {"json": body}

    return build


def associate(workspace: str | None, data: str) -> Build:
    def build(world: World, caller: str) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"recipe": "hcdc_echo", "selection": [world.ids[data]]}
        if workspace:
            body["workspace"] = workspace
        return "/api/associate", {"json": body}

    return build


RESTRICTED_NEEDS_W = (403, "must launch into a workspace")

RULES: dict[tuple[str, str], list[Case]] = {
    # The seed's browse API: any user; a restricted one must name a WORKSPACE.
    ("POST", "/api/process_list"): [
        Case("no WORKSPACE", fixed("/api/process_list", json={}), BROWSE)
    ],
    ("POST", "/api/process_list/{login}/{token}"): [
        Case("credentials in the URL", browse_url("process"), BROWSE)
    ],
    ("POST", "/api/data_list"): [Case("no WORKSPACE", fixed("/api/data_list", json={}), BROWSE)],
    ("POST", "/api/data_list/{login}/{token}"): [
        Case("credentials in the URL", browse_url("data"), BROWSE)
    ],
    # Their exports: the same rule as the lists.
    ("POST", "/api/process_list/export"): [
        Case("no WORKSPACE", fixed("/api/process_list/export", json={}), BROWSE)
    ],
    ("POST", "/api/data_list/export"): [
        Case("no WORKSPACE", fixed("/api/data_list/export", json={}), BROWSE)
    ],
    # Reading a process: admins, members of its workspace, its launcher; 404 for the rest.
    ("GET", "/api/processes/{process_id}"): [Case("P", on_p(), READ_P)],
    ("GET", "/api/processes/{process_id}/conditions"): [Case("P", on_p(), READ_P)],
    ("GET", "/api/processes/{process_id}/sof"): [Case("P", on_p("/sof"), READ_P)],
    ("GET", "/api/processes/{process_id}/log"): [Case("P", on_p("/log"), READ_P)],
    ("GET", "/api/processes/{process_id}/validation"): [Case("P", on_p("/validation"), READ_P)],
    # Acting on a process: admins, editors and owners of its workspace, its launcher.
    ("POST", "/api/processes/{process_id}/validation"): [
        Case(
            "P waiting for validation",
            on_fresh_p(
                "/validation",
                "waiting_validation",
                {"status": "valid", "comment": "fine"},
                validation_status="to_validate",
            ),
            act_p(200),
        )
    ],
    ("POST", "/api/processes/{process_id}/reprocess"): [
        Case("P done", on_fresh_p("/reprocess", "done"), act_p(201))
    ],
    ("POST", "/api/processes/{process_id}/cancel"): [
        Case("P queued", on_fresh_p("/cancel", "queued"), act_p(200))
    ],
    ("PUT", "/api/processes/{process_id}/attributes/{key}"): [
        Case("quality of P", attribute("quality", {"value": "good"}), act_p(200))
    ],
    ("DELETE", "/api/processes/{process_id}/attributes/{key}"): [
        Case("quality of P", attribute("quality"), act_p(204))
    ],
    # Launching: into a workspace its editors, owners and admins; inputs must be visible.
    ("POST", "/api/processes"): [
        Case("into w, on w's data", launch_body("w", "w_data"), write_w(201)),
        Case(
            "no workspace, public data",
            launch_body(None, "public_data"),
            expect(201, restricted=RESTRICTED_NEEDS_W),
        ),
        Case(
            "no workspace, w's data",
            launch_body(None, "w_data"),
            expect(201, restricted=RESTRICTED_NEEDS_W, user=NO_DATA, launcher=NO_DATA),
        ),
        Case(
            "into w, public data",
            launch_body("w", "public_data"),
            write_w(201) | {"restricted": NO_DATA},
        ),
        Case(
            "a hidden recipe",
            fixed("/api/processes", json={"recipe": "hcdc_sleep", "force": True}),
            admin_only(201, (403, "hidden: only administrators")),
        ),
    ],
    ("POST", "/api/associate"): [
        Case("into w, on w's data", associate("w", "w_data"), write_w(200)),
        Case(
            "no workspace, w's data",
            associate(None, "w_data"),
            expect(200, restricted=RESTRICTED_NEEDS_W, user=NO_DATA, launcher=NO_DATA),
        ),
    ],
    ("POST", "/api/workflows/{name}/launch"): [
        Case("into w, on w's data", workflow_launch("w"), write_w(201)),
        Case(
            "no workspace, w's data",
            workflow_launch(None),
            expect(201, restricted=RESTRICTED_NEEDS_W, user=NO_DATA, launcher=NO_DATA),
        ),
    ],
    # Data files: visible -> 200, else 404.
    ("GET", "/api/data/{data_id}"): [Case("w's data", on_w_data(), READ_W_DATA)],
    ("GET", "/api/data/{data_id}/header"): [Case("w's data", on_w_data("/header"), READ_W_DATA)],
    ("GET", "/api/data/{data_id}/file"): [Case("w's data", on_w_data("/file"), READ_W_DATA)],
    ("POST", "/api/download_script"): [
        Case(
            "w's data",
            lambda world, caller: (
                "/api/download_script",
                {"json": {"data_ids": [world.ids["w_data"]]}},
            ),
            READ_W_DATA,
        )
    ],
    ("POST", "/api/data"): [Case("a FITS file into w", upload, write_w(201))],
    # The caller, recipes and workflows: any user.
    ("GET", "/api/me"): [Case("me", fixed("/api/me"), ANY_USER)],
    ("GET", "/api/recipes"): [Case("all", fixed("/api/recipes"), ANY_USER)],
    ("GET", "/api/recipes/{name}"): [
        Case("one", fixed("/api/recipes/naco_img_dark"), ANY_USER),
        Case("hidden", fixed("/api/recipes/hcdc_sleep"), admin_only(200, (404, "no recipe"))),
    ],
    ("GET", "/api/workflows"): [Case("all", fixed("/api/workflows"), ANY_USER)],
    # Workspaces.
    ("GET", "/api/workspaces"): [Case("mine", fixed("/api/workspaces"), ANY_USER)],
    ("POST", "/api/workspaces"): [
        Case(
            "a new one",
            new_workspace,
            expect(201, restricted=(403, "restricted users cannot create")),
        )
    ],
    ("GET", "/api/workspaces/{name}"): [Case("w", fixed("/api/workspaces/w"), READ_W)],
    # Releasing a workspace's data to everyone is the data center's decision.
    ("POST", "/api/workspaces/{name}/public"): [
        Case("a fresh one", public_workspace, admin_only(200, (403, "administrators")))
    ],
    # Owners and admins invite; the invitee accepts or declines; the last owner stays.
    ("PUT", "/api/workspaces/{name}/members/{login}"): [
        Case(
            "invite sam to w",
            fixed("/api/workspaces/w/members/sam", json={"role": "viewer"}),
            MANAGE_W,
        ),
        Case(
            "demote w's last owner",
            fixed("/api/workspaces/w/members/owen", json={"role": "viewer"}),
            KEEP_LAST_OWNER,
        ),
    ],
    ("DELETE", "/api/workspaces/{name}/members/{login}"): [
        Case("remove sam from w", remove_sam, MANAGE_W),
        Case("remove w's last owner", fixed("/api/workspaces/w/members/owen"), KEEP_LAST_OWNER),
    ],
    ("GET", "/api/invitations"): [Case("mine", fixed("/api/invitations"), ANY_USER)],
    ("POST", "/api/invitations/{workspace}/accept"): [
        Case("invited", invited("/accept"), ANY_USER),
        Case("not invited", fixed("/api/invitations/w/accept"), expect(404)),
    ],
    ("DELETE", "/api/invitations/{workspace}"): [
        Case("invited", invited(""), expect(204)),
        Case("not invited", fixed("/api/invitations/w"), expect(404)),
    ],
    ("POST", "/api/workspaces/{name}/data"): [Case("share with w", share, write_w(200))],
    ("DELETE", "/api/workspaces/{name}/data"): [Case("remove from w", unshare, write_w(200))],
    # JupyterHub's own routes: the hub's token only; the liveness probe is public.
    ("GET", "/api/hub/health"): [Case("probe", fixed("/api/hub/health"), everyone(200))],
    ("POST", "/api/hub/identify"): [Case("sam's login", identify, hub_only(200))],
    ("POST", "/api/hub/servers/{login}"): [
        Case("hank's server", fixed("/api/hub/servers/hank"), hub_only(200))
    ],
    ("DELETE", "/api/hub/servers/{login}"): [
        Case("hank's server", fixed("/api/hub/servers/hank"), hub_only(204))
    ],
    # Public data for the VO and DOI landing pages: no token, public data only (404 else).
    ("GET", "/api/public/data/{data_id}/file"): [
        Case("public data", public_data("/file"), everyone(200)),
        Case("w's data", public_data("/file", "w_data"), everyone(404)),
    ],
    ("GET", "/api/public/data/{data_id}/preview"): [
        Case("public data", public_data("/preview"), everyone(200)),
        Case("w's data", public_data("/preview", "w_data"), everyone(404)),
    ],
    ("GET", "/api/public/datasets/{suffix}"): [
        Case("no such dataset", fixed("/api/public/datasets/hcdc.999999"), everyone(404)),
        Case("not a DOI suffix", fixed("/api/public/datasets/other.1"), everyone(400)),
    ],
    ("GET", "/api/public/datasets/{suffix}/datacite.json"): [
        Case(
            "no such dataset",
            fixed("/api/public/datasets/hcdc.999999/datacite.json"),
            everyone(404),
        )
    ],
    ("GET", "/api/public/datasets/{suffix}/datacite.xml"): [
        Case(
            "no such dataset", fixed("/api/public/datasets/hcdc.999999/datacite.xml"), everyone(404)
        )
    ],
    # Documentation routes outside the schema: public.
    ("GET", "/openapi.json"): [Case("schema", fixed("/openapi.json"), everyone(200))],
    ("GET", "/docs"): [Case("Swagger UI", fixed("/docs"), everyone(200))],
    ("GET", "/"): [Case("home, leading to the docs", fixed("/"), everyone(307))],
    ("GET", "/redoc"): [Case("ReDoc", fixed("/redoc"), everyone(200))],
}


def served_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the application serves: the OpenAPI schema's and the others."""
    routes = {
        (method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    }
    for route in app.routes:
        if isinstance(route, Route) and not route.include_in_schema:
            routes.update((m, route.path) for m in route.methods or () if m != "HEAD")
    return routes


# -- the tests -------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The shared fixture's settings, behind a hub (so that its routes are live)."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        resolve_targets=False,
        hub_api_token=SecretStr(HUB_TOKEN),
    )


@pytest.fixture
def world(factory: Factory, tmp_path: Path) -> Iterator[World]:
    with api_client(create_app(factory)) as client:
        yield build_world(factory, client, tmp_path / "files")


def test_every_route_has_a_rule_and_every_rule_a_route(world: World) -> None:
    served = served_routes(world.client.app)
    missing = sorted(served - RULES.keys())
    stale = sorted(RULES.keys() - served)
    assert not missing, f"routes without an authorisation rule (add them to RULES): {missing}"
    assert not stale, f"rules for routes the application does not serve: {stale}"
    for key, cases in RULES.items():
        for case in cases:
            assert set(case.expected) == set(CALLERS), (key, case.name)


def test_authorisation_matrix(world: World) -> None:
    """Every caller on every case of every route gets exactly the status (and words) intended."""
    assert served_routes(world.client.app) == RULES.keys()
    wrong = []
    cells = 0
    for (method, _), cases in RULES.items():
        for case in cases:
            for caller in CALLERS:
                url, kwargs = case.build(world, caller)
                response = world.client.request(
                    method, url, headers=world.headers(caller), **kwargs
                )
                cells += 1
                expected = case.expected[caller]
                status, words = expected if isinstance(expected, tuple) else (expected, None)
                got = response.status_code
                message = _message(response) if got >= 400 else ""
                if got != status or (words is not None and words not in message):
                    wrong.append(
                        f"{method} {url} [{case.name}] as {caller}: expected {status}"
                        f"{f' ({words!r})' if words else ''}, got {got} {message[:160]!r}"
                    )
    assert not wrong, f"{len(wrong)} of {cells} answers differ:\n" + "\n".join(wrong)


def _message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.text)
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


def test_a_route_without_a_rule_fails_the_check(world: World) -> None:
    """The coverage check itself: a route added to the app but not to RULES is reported."""
    app = world.client.app

    @app.get("/api/new-and-unruled")
    def unruled() -> dict[str, str]:
        return {}

    try:
        app.openapi_schema = None
        assert ("GET", "/api/new-and-unruled") in served_routes(app) - RULES.keys()
    finally:
        app.router.routes.pop()
        app.openapi_schema = None


def test_denials_change_nothing(world: World) -> None:
    """A refused action leaves the process as it was; an allowed one by the launcher works."""
    pid = world.process("queued")
    for caller in ("user", "viewer", "anonymous"):
        refused = world.client.post(f"/api/processes/{pid}/cancel", headers=world.headers(caller))
        assert refused.status_code in (401, 403, 404)
        assert world.factory.processes().get(pid).status == "queued"
    done = world.client.post(f"/api/processes/{pid}/cancel", headers=world.headers("launcher"))
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert "cancelled by lara" in (world.factory.processes().get(pid).error or "")


def test_a_restricted_launcher_counts_only_as_a_member(world: World) -> None:
    """Restricted users are confined to their workspaces: leaving one ends their access."""
    request = LaunchRequest(
        recipe="hcdc_echo",
        inputs=[{"data_file_id": world.ids["w_data"]}],
        workspace="w",
        force=True,
    )
    rita = world.ids["restricted"]
    pid = world.factory.processes().launch(request, user_id=rita).processes[0].id
    url = f"/api/processes/{pid}"
    assert world.client.get(url, headers=world.headers("restricted")).status_code == 200
    world.factory.workspaces().set_member("w", "rita", "viewer")
    cancel = world.client.post(f"{url}/cancel", headers=world.headers("restricted"))
    assert cancel.status_code == 403 and "editor or owner" in cancel.json()["message"]
    world.factory.workspaces().remove_member("w", "rita")
    for suffix in ("", "/sof", "/validation", "/cancel"):
        method = "POST" if suffix == "/cancel" else "GET"
        response = world.client.request(method, url + suffix, headers=world.headers("restricted"))
        assert response.status_code == 404, suffix
        assert response.json()["message"] == f"no process {pid}"
    assert world.factory.processes().get(pid).status == "queued"
