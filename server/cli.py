"""The ``hcdc`` command."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from tqdm import tqdm

from hcdc_server.config import Settings
from hcdc_server.exceptions import HcdcError, SettingsError
from hcdc_server.factory import Factory
from hcdc_server.models.ingest import IngestRecord

F = TypeVar("F", bound=Callable[..., Any])

#: Exit status of ``hcdc ingest`` when at least one file was rejected.
EXIT_REJECTED = 3


@contextmanager
def _factory(ctx: click.Context, *, check_schema: bool = True) -> Iterator[Factory]:
    """The process's factory; domain errors become one clear line and exit status 1.

    The database's schema is checked first (refused, naming the command that migrates, when
    it is not this hcdc's): only `hcdc init`, `hcdc db upgrade` and `hcdc demo` migrate.
    """
    factory: Factory = ctx.obj
    try:
        if check_schema:
            factory.check_database()
        yield factory
    except HcdcError as exc:
        raise click.ClickException(exc.message) from exc


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="HCDC_DATA_DIR",
    default=None,
    help="Data directory (default: $HCDC_DATA_DIR or ./hcdc-data).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """hcdc: the High Contrast Data Center."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except SettingsError as exc:
        raise click.ClickException(exc.message) from exc
    except ValidationError as exc:
        raise click.ClickException(f"bad settings: {exc}") from exc
    ctx.obj = Factory(settings)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the data directory and the database, or migrate it (idempotent)."""
    with _factory(ctx, check_schema=False) as factory:
        factory.init_database()
        click.echo(f"hcdc data directory ready: {factory.settings.data_dir.resolve()}")


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration (and store new built-in recipes and workflows)."""
    with _factory(ctx, check_schema=False) as factory:
        factory.init_database()
        click.echo("database at the latest schema")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--copy/--reference",
    default=False,
    help="Copy files into the data dir, or reference them where they are (default).",
)
@click.option("--workspace", default=None, help="Add the files to this workspace.")
@click.option("--private", is_flag=True, help="Visible only through the workspace, not public.")
@click.option("--user", "login", default=None, help="Record this user as the ingester.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "--auto-calibrate",
    is_flag=True,
    help="Queue the automatic calibration recipes on the newly ingested raw frames.",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    copy: bool,
    workspace: str | None,
    private: bool,
    login: str | None,
    as_json: bool,
    auto_calibrate: bool = False,
) -> None:
    """Ingest FITS files and folders (recursively). Exit 3 when some files were rejected."""
    with _factory(ctx) as factory:
        show_bar = not as_json and sys.stderr.isatty()
        bar = tqdm(desc="ingest", unit="file", disable=not show_bar)

        new_ids: list[int] = []

        def report(record: IngestRecord) -> None:
            bar.update(1)
            if record.status == "ingested" and record.id is not None:
                new_ids.append(record.id)
            if as_json:
                click.echo(record.model_dump_json())
            elif record.status == "rejected":
                bar.write(f"rejected {record.path}: {record.reason}", file=sys.stderr)

        summary = factory.ingest().ingest(
            list(paths),
            copy=copy,
            workspace=workspace,
            public=not private,
            user_login=login,
            on_record=report,
        )
        bar.close()
        if not as_json:
            click.echo(
                f"{summary.ingested} ingested, {summary.unchanged} unchanged, "
                f"{summary.rejected} rejected"
            )
        if auto_calibrate:
            _auto_calibrate(factory, new_ids, login)
        if summary.rejected:
            ctx.exit(EXIT_REJECTED)


@main.command()
@click.option("--quick", is_flag=True, help="A minimal night (for tests).")
@click.option(
    "--seed", default=20190527, show_default=True, help="Random seed of the synthetic data."
)
@click.option(
    "--reduce/--no-reduce",
    default=True,
    show_default=True,
    help="Reduce the nights (irdis_dbi, naco_adi workflows) before returning.",
)
@click.pass_context
def demo(ctx: click.Context, quick: bool, seed: int, reduce: bool) -> None:
    """Write the synthetic demo nights (and NACO beta Pic if present), ingest and reduce them."""
    from hcdc_server.services.demo import install_demo

    with _factory(ctx, check_schema=False) as factory:
        result = install_demo(factory, quick=quick, seed=seed, reduce=reduce)
        click.echo(json.dumps(result, indent=2, default=str))


@main.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.argument("login")
@click.option("--email", default=None)
@click.option("--name", "full_name", default=None)
@click.option(
    "--role", type=click.Choice(["admin", "user", "restricted"]), default="user", show_default=True
)
@click.pass_context
def user_add(
    ctx: click.Context, login: str, email: str | None, full_name: str | None, role: str
) -> None:
    """Create a user."""
    with _factory(ctx) as factory:
        created = factory.users().add_user(login, email=email, role=role, full_name=full_name)
        click.echo(f"user {created.login} ({created.role}) created, id {created.id}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List users."""
    with _factory(ctx) as factory:
        for u in factory.users().list_users():
            click.echo(f"{u.id}\t{u.login}\t{u.role}\t{u.email or ''}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("login")
@click.option("--name", default=None, help="A label for the token.")
@click.option("--days", type=int, default=None, help="Lifetime in days (0: never expires).")
@click.pass_context
def token_create(ctx: click.Context, login: str, name: str | None, days: int | None) -> None:
    """Create a token and print it once (only its hash is stored)."""
    with _factory(ctx) as factory:
        new = factory.users().create_token(login, name=name, days=days)
        click.echo(new.token)


@token.command("revoke")
@click.argument("key")
@click.pass_context
def token_revoke(ctx: click.Context, key: str) -> None:
    """Revoke a token by its key (the part before the dot) or the whole token."""
    with _factory(ctx) as factory:
        revoked = factory.users().revoke_token(key)
        click.echo(f"token {revoked.key} revoked")


@token.command("list")
@click.argument("login")
@click.pass_context
def token_list(ctx: click.Context, login: str) -> None:
    """List a user's tokens (keys and dates, never secrets)."""
    with _factory(ctx) as factory:
        for t in factory.users().list_tokens(login):
            state = "revoked" if t.revoked_at else f"expires {t.expires_at or 'never'}"
            click.echo(f"{t.key}\t{t.name or ''}\tcreated {t.created_at:%Y-%m-%d}\t{state}")


@main.group()
def workspace() -> None:
    """Workspaces and their members."""


@workspace.command("add")
@click.argument("name")
@click.option("--description", default=None)
@click.option("--group", "group_name", default=None, help="Workspace group.")
@click.option("--owner", default=None, help="Login of the first owner.")
@click.pass_context
def workspace_add(
    ctx: click.Context,
    name: str,
    description: str | None,
    group_name: str | None,
    owner: str | None,
) -> None:
    """Create a workspace."""
    with _factory(ctx) as factory:
        ws = factory.workspaces().add_workspace(
            name, description=description, group_name=group_name, owner_login=owner
        )
        click.echo(f"workspace {ws.name} created, id {ws.id}")


@workspace.command("list")
@click.pass_context
def workspace_list(ctx: click.Context) -> None:
    """List workspaces with their members."""
    with _factory(ctx) as factory:
        for ws in factory.workspaces().list_all():
            members = ", ".join(f"{m.login}:{m.role}" for m in ws.members)
            click.echo(f"{ws.id}\t{ws.name}\t{members}")


@workspace.command("public")
@click.argument("name")
@click.pass_context
def workspace_public(ctx: click.Context, name: str) -> None:
    """Make workspace NAME public: its raw files are released to everyone (and to the VO at
    the next `hcdc vo publish`, which also releases files shared with it later). Cannot be
    undone."""
    with _factory(ctx) as factory:
        ws, released = factory.workspaces().make_public(name)
        click.echo(f"workspace {ws.name} is public: {released} raw files released")


@workspace.group("member")
def member() -> None:
    """Workspace membership."""


@member.command("add")
@click.argument("name")
@click.argument("login")
@click.option(
    "--role", type=click.Choice(["owner", "editor", "viewer"]), default="viewer", show_default=True
)
@click.pass_context
def member_add(ctx: click.Context, name: str, login: str, role: str) -> None:
    """Add LOGIN to workspace NAME (or change their role)."""
    with _factory(ctx) as factory:
        factory.workspaces().set_member(name, login, role)
        click.echo(f"{login} is {role} of {name}")


@member.command("remove")
@click.argument("name")
@click.argument("login")
@click.pass_context
def member_remove(ctx: click.Context, name: str, login: str) -> None:
    """Remove LOGIN from workspace NAME."""
    with _factory(ctx) as factory:
        factory.workspaces().remove_member(name, login)
        click.echo(f"{login} removed from {name}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="Level of the server's log (access log at info); tokens are always redacted.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="API worker processes (default: $HCDC_API_WORKERS, 0: one per core, at most 8).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, log_level: str, workers: int | None) -> None:
    """Serve the hcdc JSON API (OpenAPI docs at /docs)."""
    from hcdc_server.app import run_server

    with _factory(ctx) as factory:
        run_server(factory, host=host, port=port, log_level=log_level, workers=workers)


@main.command()
@click.option("--ip", default=None, help="Address of the hub (default $HCDC_HUB_IP or 127.0.0.1).")
@click.option(
    "--port", type=int, default=None, help="Port of the hub (default $HCDC_HUB_PORT or 8000)."
)
@click.option("--demo/--no-demo", default=True, show_default=True, help="Demo data and log-in.")
@click.option("--quick", is_flag=True, help="A minimal demo night (for tests).")
@click.option("--json", "as_json", is_flag=True, help="Print the ready message as JSON.")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for the hub.")
@click.option(
    "--vo", is_flag=True, help="Publish and run the VO server (DaCHS) too (needs PostgreSQL)."
)
@click.pass_context
def up(
    ctx: click.Context,
    ip: str | None,
    port: int | None,
    demo: bool,
    quick: bool,
    as_json: bool,
    timeout: float,
    vo: bool,
) -> None:
    """Run the platform: JupyterHub with the hcdc service, the worker and Voila (Ctrl-C stops)."""
    from hcdc_server.up import run_up

    # A new data directory is created as `hcdc init` would; an older schema is refused there.
    with _factory(ctx, check_schema=False) as factory:
        overrides = {k: v for k, v in {"hub_ip": ip, "hub_port": port}.items() if v is not None}
        factory.settings = factory.settings.model_copy(update=overrides)
        if vo:
            factory.vo().require_postgres()  # before anything starts
            if "vo_public_url" not in factory.settings.model_fields_set:
                # Published files download through the hub's route to the hcdc service.
                hub_api = f"{factory.settings.resolved_hub_public_url}/services/hcdc"
                factory.settings = factory.settings.model_copy(update={"vo_public_url": hub_api})
        has_worker = "worker" in main.commands
        if not has_worker:
            click.echo("warning: no `hcdc worker` in this hcdc: recipes will not run", err=True)
        status = run_up(
            factory,
            demo=demo,
            quick=quick,
            ready_timeout_s=timeout,
            echo=click.echo,
            as_json=as_json,
            with_worker=has_worker,
            vo=vo,
        )
        ctx.exit(status)


# -- Virtual Observatory ----------------------------------------------------------------------


@main.group()
def vo() -> None:
    """Publication in the Virtual Observatory (GAVO DaCHS; needs PostgreSQL)."""


@vo.command("publish")
@click.pass_context
def vo_publish(ctx: click.Context) -> None:
    """Publish the public data now (ObsCore, SIA, DataLink, EPN-TAP); run it periodically."""
    with _factory(ctx) as factory:
        click.echo(json.dumps(factory.vo().publish().as_dict()))


@vo.command("serve")
@click.pass_context
def vo_serve(ctx: click.Context) -> None:
    """Publish, then run hcdc's DaCHS on 127.0.0.1:$HCDC_VO_PORT (default 8090) until
    interrupted."""
    with _factory(ctx) as factory:
        service = factory.vo()
        summary = service.publish()
        service.close()
        dachs = service.dachs
        command = dachs.serve_command()
        click.echo(
            f"hcdc VO server: {dachs.config.server_url}/tap ({summary.files} files)", err=True
        )
    factory.close()
    # DaCHS replaces this process: signals (Ctrl-C, a service manager's SIGTERM) reach it
    # directly and nothing is left behind.
    os.execve(command[0], command, dachs.environment())  # noqa: S606


# -- recipes, launches and the dispatcher -----------------------------------------------------


def _auto_calibrate(factory: Factory, ids: list[int], login: str | None) -> None:
    user_id = factory.users().get_user(login).id if login else None
    for result in factory.processes().auto_calibrate(ids, user_id=user_id):
        for process in result.processes:
            click.echo(
                f"auto-calibration: process {process.id} {process.recipe_name} {process.status}"
                + (f" (cached from {process.cache_of_id})" if process.cache_of_id else ""),
                err=True,
            )


def _key_values(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        values[key.strip()] = value
    return values


@main.command()
@click.option(
    "--executor",
    type=click.Choice(["local", "slurm"]),
    default=None,
    help="Where jobs run (default: $HCDC_EXECUTOR).",
)
@click.option("--capacity", type=int, default=None, help="Jobs at once (default: settings).")
@click.option("--poll", "poll_s", type=float, default=None, help="Seconds between scans.")
@click.option("--until-idle", is_flag=True, help="Stop when nothing is queued or running.")
@click.pass_context
def worker(
    ctx: click.Context,
    executor: str | None,
    capacity: int | None,
    poll_s: float | None,
    until_idle: bool,
) -> None:
    """Run the dispatcher: claim queued processes, run their jobs, record the results."""
    import signal
    import threading

    from hcdc_server.dispatch.worker import Worker, make_executor

    with _factory(ctx) as factory:
        overrides: dict[str, Any] = {}
        if capacity is not None:
            overrides["capacity"] = capacity
        if poll_s is not None:
            overrides["poll_interval_s"] = poll_s
        settings = factory.settings.worker.model_copy(update=overrides)
        runner = Worker(
            factory,
            executor=make_executor(factory, kind=executor, settings=settings),
            settings=settings,
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"worker {runner.worker_id} started", err=True)
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        runner.run(stop=stop, until_idle=until_idle)
        click.echo(f"worker {runner.worker_id} stopped", err=True)


@main.command()
@click.argument("recipe_name")
@click.option("--version", default=None, help="Recipe version (default: current).")
@click.option("--preset", default=None, help="Named parameter set.")
@click.option("--param", "params", multiple=True, help="KEY=VALUE (repeatable).")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    type=int,
    help="Data file id given by hand (repeatable); TAG from its frame type.",
)
@click.option(
    "--select",
    "selection",
    multiple=True,
    type=int,
    help="Data file id to associate (repeatable): one process per group.",
)
@click.option("--workspace", default=None)
@click.option("--reference", default=None, help="Free label of the processes.")
@click.option("--force", is_flag=True, help="Run even when a cached result exists.")
@click.option("--user", "login", required=True, help="Who launches.")
@click.pass_context
def launch(
    ctx: click.Context,
    recipe_name: str,
    version: str | None,
    preset: str | None,
    params: tuple[str, ...],
    inputs: tuple[int, ...],
    selection: tuple[int, ...],
    workspace: str | None,
    reference: str | None,
    force: bool,
    login: str,
) -> None:
    """Queue processes of RECIPE_NAME (run them with `hcdc worker`)."""
    from hcdc_server.models.processes import InputRef, LaunchRequest

    with _factory(ctx) as factory:
        request = LaunchRequest(
            recipe=recipe_name,
            version=version,
            preset=preset,
            params=_key_values(params),
            inputs=[InputRef(data_file_id=i) for i in inputs] if inputs else None,
            selection=list(selection) or None,
            workspace=workspace,
            reference=reference,
            force=force,
        )
        user_id = factory.users().get_user(login).id
        result = factory.processes().launch(request, user_id=user_id)
        for process in result.processes:
            click.echo(f"batch {result.batch_id}\tprocess {process.id}\t{process.status}")


@main.group()
def recipe() -> None:
    """Recipes: list, versions, visibility, and running one by hand."""


@recipe.command("list")
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden recipes.")
@click.pass_context
def recipe_list(ctx: click.Context, include_hidden: bool) -> None:
    """List recipe versions (* = current)."""
    with _factory(ctx) as factory:
        for r in factory.recipes().list_recipes(include_hidden=include_hidden):
            flags = ("*" if r.is_current else " ") + ("h" if r.is_hidden else " ")
            where = "" if r.available else f"\tunavailable: {r.unavailable_reason}"
            click.echo(f"{flags} {r.name}\t{r.version}\t{r.kind}{where}")


@recipe.command("add-version")
@click.argument("name")
@click.argument("version")
@click.option("--from-version", default=None, help="Copy this version (default: current).")
@click.option(
    "--spec",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="JSON file of spec fields to change.",
)
@click.option("--current", "make_current", is_flag=True, help="Make it the current version.")
@click.pass_context
def recipe_add_version(
    ctx: click.Context,
    name: str,
    version: str,
    from_version: str | None,
    spec_file: Path | None,
    make_current: bool,
) -> None:
    """Add VERSION of recipe NAME."""
    with _factory(ctx) as factory:
        changes = json.loads(spec_file.read_text()) if spec_file else None
        added = factory.recipes().add_version(
            name, version, from_version=from_version, changes=changes, make_current=make_current
        )
        click.echo(f"recipe {added.name} {added.version} added")


@recipe.command("hide")
@click.argument("name")
@click.option("--show", is_flag=True, help="Show it again instead.")
@click.pass_context
def recipe_hide(ctx: click.Context, name: str, show: bool) -> None:
    """Hide recipe NAME (every version) from listings."""
    with _factory(ctx) as factory:
        factory.recipes().set_hidden(name, hidden=not show)
        click.echo(f"recipe {name} {'shown' if show else 'hidden'}")


@recipe.command("set-current")
@click.argument("name")
@click.argument("version")
@click.pass_context
def recipe_set_current(ctx: click.Context, name: str, version: str) -> None:
    """Mark VERSION as the current pipeline version of NAME."""
    with _factory(ctx) as factory:
        factory.recipes().set_current(name, version)
        click.echo(f"recipe {name}: current version {version}")


@recipe.command("run")
@click.argument("name")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="[TAG=]FILE",
    help="Input FITS file (repeatable); its slot from its frame type, or TAG= names it.",
)
@click.option("--param", "params", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--preset", default=None, help="Named parameter set of the recipe.")
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="New or empty folder: products/, manifest.json and job.log are written there.",
)
@click.pass_context
def recipe_run(
    ctx: click.Context,
    name: str,
    inputs: tuple[str, ...],
    params: tuple[str, ...],
    preset: str | None,
    output_dir: Path,
) -> None:
    """Run recipe NAME on files, with no service and no database (as a process's job runs)."""
    import shlex

    from hcdc_kernel.jobs.local import LocalRunError, find_recipe, local_job, run_local

    settings = ctx.obj.settings
    try:
        spec = find_recipe(name)
        job = local_job(
            spec,
            list(inputs),
            params=_key_values(params),
            output_dir=output_dir,
            preset=preset,
            sandbox=settings.job_sandbox,
        )
    except LocalRunError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{spec.name} {spec.version}: {len(job.inputs)} input(s), running...", err=True)
    run = run_local(job, job_command=shlex.split(settings.worker.job_command))
    manifest = run.manifest
    if manifest is None or manifest.status != "ok":
        error = manifest.error if manifest is not None else f"exit status {run.exit_status}"
        raise click.ClickException(f"{name} failed: {error} (log: {run.log})")
    click.echo(
        f"{spec.name} {spec.version}: done, {len(manifest.products)} product(s) in "
        f"{job.output_dir}, manifest {job.directory / 'manifest.json'}"
    )
    for product in manifest.products:
        click.echo(f"  {product.category or '-'}\t{product.path}")


@main.group()
def conditions() -> None:
    """Observing conditions: site-monitor tables (SPARTA telemetry comes with ``ingest``)."""


@conditions.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.pass_context
def conditions_import(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Import site-monitor tables as the ESO ambient query forms give them (CSV: MASS-DIMM
    seeing and tau0, wind speed, humidity) and link the frames of their time span.
    Exit 3 when a file could not be read at all."""
    with _factory(ctx) as factory:
        reports = factory.conditions().import_site_files(paths)
        _echo_condition_reports(ctx, reports, as_json)


@conditions.command("fetch")
@click.option("--url", default=None, help="The ambient query form (default: the setting).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per night.")
@click.pass_context
def conditions_fetch(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """Fetch from ESO's ambient archive the site-monitor samples of every observing night that
    has none yet, and link its frames (nights already covered are not asked again). Offline,
    it says so and exits 3: import the tables with `hcdc conditions import` instead."""
    with _factory(ctx) as factory:
        settings = factory.settings
        reports = factory.conditions().fetch_site(
            url or settings.eso_ambient_url, timeout_s=settings.eso_ambient_timeout_s
        )
        if not reports and not as_json:
            click.echo("every observing night already has site-monitor conditions")
        _echo_condition_reports(ctx, reports, as_json)


def _echo_condition_reports(ctx: click.Context, reports: Sequence[Any], as_json: bool) -> None:
    for report in reports:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(report), default=str))
            continue
        click.echo(
            f"{report.status} {report.name}: {report.n_samples} samples "
            f"({', '.join(report.parameters) or 'none'}), "
            f"{report.frames_linked} frames linked"
        )
        for message in report.messages:
            click.echo(f"  {message}", err=True)
    if any(r.status in ("rejected", "unreachable") for r in reports):
        ctx.exit(EXIT_REJECTED)


@conditions.command("relink")
@click.pass_context
def conditions_relink(ctx: click.Context) -> None:
    """Read the SPARTA files stored before hcdc read AO telemetry, and link every science
    exposure that has no conditions yet (after `hcdc db upgrade` of an older database)."""
    with _factory(ctx) as factory:
        reports, linked = factory.conditions().catch_up()
        for report in reports:
            click.echo(f"{report.status} {report.name}: {report.n_samples} samples")
            for message in report.messages:
                click.echo(f"  {message}", err=True)
        click.echo(f"{len(reports)} SPARTA file(s) read, {linked} exposure(s) linked")
