"""Side effects at explicit moments: only `hcdc init` / `hcdc db upgrade` (and `hcdc demo`)
migrate and store the built-in recipes and workflows; every other command, the service and
the worker refuse a schema that is not this hcdc's, naming the command to run; reads never
write; SIMBAD is asked outside database transactions; one error renderer."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, inspect, select
from starlette.exceptions import StarletteDeprecationWarning

from hcdc_server.api.hub import install_hub
from hcdc_server.cli import main
from hcdc_server.config import Settings
from hcdc_server.exceptions import SchemaOutOfDateError
from hcdc_server.factory import Factory
from hcdc_server.schema.migrate import schema_state, upgrade
from hcdc_server.schema.tables import Recipe, Workflow
from hcdc_server.services.targets import TargetService
from hcdc_server.up import prepare_data
from tests.server.fits_factory import write_frame

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

#: A revision before this hcdc's latest.
OLDER = "0005"


@pytest.fixture
def fresh(settings: Settings) -> Iterator[Factory]:
    """A factory on an empty database (nothing created yet)."""
    made = Factory(settings)
    yield made
    made.close()


@pytest.fixture
def never_serve(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Whatever a command would start (server, worker loop) is recorded instead of run."""
    started: list[str] = []
    monkeypatch.setattr("hcdc_server.app.run_server", lambda *a, **k: started.append("serve"))
    monkeypatch.setattr(
        "hcdc_server.dispatch.worker.Worker.run", lambda *a, **k: started.append("worker")
    )
    return started


def _hcdc(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"HCDC_DATABASE_URL": settings.resolved_database_url, "HCDC_RESOLVE_TARGETS": "false"}
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), *args], env=env)
    return result.exit_code, result.output


def _commands(tmp_path: Path) -> list[list[str]]:
    frame = write_frame(tmp_path / "in" / "frame.fits")
    return [
        ["serve"],
        ["worker", "--until-idle"],
        ["ingest", str(frame)],
        ["user", "add", "zoe"],
        ["recipe", "list"],
    ]


def test_an_older_schema_is_refused_naming_hcdc_db_upgrade(
    fresh: Factory, never_serve: list[str], tmp_path: Path
) -> None:
    upgrade(fresh.engine, OLDER)
    for command in _commands(tmp_path):
        code, output = _hcdc(fresh.settings, *command)
        assert code == 1, (command, output)
        assert "hcdc db upgrade" in output and OLDER in output, (command, output)
    assert never_serve == []
    assert schema_state(fresh.engine)[:2] == ("outdated", OLDER)  # nothing migrated it
    with pytest.raises(SchemaOutOfDateError, match="hcdc db upgrade"):
        prepare_data(fresh, demo=False, quick=True)  # `hcdc up`
    assert schema_state(fresh.engine)[:2] == ("outdated", OLDER)


def test_an_empty_database_is_refused_naming_hcdc_init(
    fresh: Factory, never_serve: list[str], tmp_path: Path
) -> None:
    for command in _commands(tmp_path):
        code, output = _hcdc(fresh.settings, *command)
        assert code == 1 and "hcdc init" in output, (command, output)
    assert never_serve == []
    assert inspect(fresh.engine).get_table_names() == []  # not even Alembic's table


def test_db_upgrade_migrates_and_stores_the_built_in_recipes_once(
    fresh: Factory, never_serve: list[str]
) -> None:
    upgrade(fresh.engine, OLDER)
    code, output = _hcdc(fresh.settings, "db", "upgrade")
    assert code == 0, output
    assert schema_state(fresh.engine)[0] == "current"

    def stored() -> tuple[int, int]:
        with fresh.sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(Recipe)) or 0,
                session.scalar(select(func.count()).select_from(Workflow)) or 0,
            )

    recipes, workflows = stored()
    assert recipes > 5 and workflows >= 2
    assert _hcdc(fresh.settings, "init")[0] == 0
    assert stored() == (recipes, workflows)  # idempotent
    code, output = _hcdc(fresh.settings, "serve")
    assert code == 0 and never_serve == ["serve"], output


def test_hcdc_up_creates_a_new_database_as_hcdc_init_does(fresh: Factory) -> None:
    assert prepare_data(fresh, demo=False, quick=True) is None
    assert schema_state(fresh.engine)[0] == "current"
    assert {r.name for r in fresh.recipes().list_recipes(include_hidden=True)} >= {"hcdc_echo"}


def test_listing_recipes_and_workflows_writes_nothing(fresh: Factory) -> None:
    upgrade(fresh.engine)  # the schema, without the built-in rows
    assert fresh.recipes().list_recipes(include_hidden=True) == []
    assert fresh.workflows().list_workflows() == []
    with fresh.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Recipe)) == 0
        assert session.scalar(select(func.count()).select_from(Workflow)) == 0


def test_simbad_is_asked_with_no_transaction_open(factory: Factory, tmp_path: Path) -> None:
    """A slow SIMBAD holds no database connection (nor its locks) while it answers."""
    held: list[int] = []

    class Resolver:
        def resolve(self, name: str, *, header_ra: float | None, header_dec: float | None):
            held.append(factory.engine.pool.checkedout())
            from hcdc_kernel.targets import TargetInfo

            return TargetInfo(name=name, main_id=f"* {name}", source="simbad")

    ingest = factory.ingest()
    ingest._targets = TargetService(Resolver())  # type: ignore[arg-type]
    write_frame(tmp_path / "a.fits", obj="HD 95086", value=1)
    write_frame(tmp_path / "b.fits", obj="PDS 70", value=2)
    summary = ingest.ingest([tmp_path])
    assert summary.ingested == 2
    assert held == [0, 0]
    write_frame(tmp_path / "c.fits", obj="HD_95086", value=3)
    ingest.ingest([tmp_path / "c.fits"])
    assert held == [0, 0]  # known names are not asked again


def test_hub_routes_in_an_application_of_their_own_render_errors_as_hcdc_does(
    factory: Factory,
) -> None:
    factory.settings = factory.settings.model_copy(update={"hub_api_token": SecretStr("hub-token")})
    app = FastAPI()
    install_hub(app, factory)
    reply = TestClient(app).post(
        "/api/hub/identify",
        json={"login": "nobody", "token": "x"},
        headers={"Authorization": "token hub-token"},
    )
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthenticated"
    assert reply.headers.get("WWW-Authenticate") == "Bearer"
    malformed = TestClient(app).post(
        "/api/hub/identify", json={"login": 3}, headers={"Authorization": "token hub-token"}
    )
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_input"
