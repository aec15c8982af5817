"""Concurrent load on a live ``hcdc serve``: browse, detail, launch and validation calls.

Seeds a catalog (``bench/catalog.py``'s bulk loader: a few thousand processes and data files),
starts ``hcdc serve`` (and, unless ``--no-worker``, ``hcdc worker``) as subprocesses, then runs
``--clients`` concurrent clients on loopback (asyncio, one keep-alive connection each) for
``--seconds``:

- browse: ``POST /api/process_list`` and ``/api/data_list`` with filters, counts and pages;
- detail: ``GET /api/processes/{id}``;
- launch: ``POST /api/processes`` of the trivial ``hcdc_sleep`` recipe;
- validation: ``POST /api/processes/{id}/validation`` on processes that need it.

A baseline phase first runs the same clients on ``GET /api/hub/health`` (no database), so the
mix prints as a ratio to it; ``wrk`` (when installed) measures the same endpoint from outside
Python, which tells whether this load generator is the bottleneck. Prints throughput,
p50/p95/p99 latency and errors per call kind. Goal: 0 errors (any answer other than the
expected 200/201, or a transport failure).

Each database is measured twice in the same run, on the same catalog: first the reference
configuration (one API process, in-process caches off: ``--workers 1``, ``HCDC_CACHE_S=0``),
then the configured one (``--workers``, default one per core), and the ratios are printed.

    python bench/load.py                                   # 50 clients, 60 s, both databases
    python bench/load.py --clients 20 --seconds 10 --db sqlite --no-reference
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import or_, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.databases
from catalog import build

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema import tables as t
from tests.databases import postgres_schema

POSTGRES_URL = os.environ.get(
    "HCDC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: Share of each call kind in the mix.
MIX = {
    "browse processes": 25,
    "browse data": 20,
    "detail": 30,
    "launch": 10,
    "validation": 15,
}
EXPECTED = {"launch": 201}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    detail_ids: list[int]
    validation_ids: list[int]


# -- the database and the server ---------------------------------------------------------------


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'load.sqlite'}"
        return
    with postgres_schema(POSTGRES_URL, prefix="load") as url:
        yield url


def seed(factory: Factory, *, processes: int, files: int) -> tuple[dict[str, str], list[int]]:
    """Build the catalog; the admin's headers and the processes that can be validated."""
    # Bulk-loaded rows take explicit ids, so the built-in recipes (hcdc_sleep) come after them.
    factory.migrate_database()
    build(factory, processes=processes, files=files)
    factory.seed_builtin()
    with factory.engine.begin() as conn:
        # The synthetic recipes cannot run: their queued/running processes are not the worker's.
        conn.execute(
            text("UPDATE processes SET status = 'cancelled' WHERE status IN ('queued', 'running')")
        )
    token = factory.users().create_token("root").token
    with factory.sessions() as session:
        validation_ids = list(
            session.scalars(
                select(t.Process.id).where(
                    or_(
                        t.Process.status == "waiting_validation",
                        (t.Process.status == "done") & t.Process.validation_status.is_not(None),
                    )
                )
            )
        )
    return {"X-Auth-Ident": "root", "X-Auth-Token": token}, validation_ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Setup:
    """One configuration of the API under test."""

    name: str
    workers: int  # 0: one per core
    cache_s: float | None  # None: the default


REFERENCE = Setup("reference (1 process, no caches)", workers=1, cache_s=0.0)


@contextmanager
def services(
    settings: Settings, url: str, setup: Setup, *, worker: bool, log_dir: Path
) -> Iterator[str]:
    hcdc = shutil.which("hcdc")
    if hcdc is None:
        raise SystemExit("the hcdc command is not installed (pip install -e .)")
    env = {
        **os.environ,
        "HCDC_DATA_DIR": str(settings.data_dir),
        "HCDC_DATABASE_URL": url,
        "HCDC_RESOLVE_TARGETS": "false",
    }
    if setup.cache_s is not None:
        env["HCDC_CACHE_S"] = str(setup.cache_s)
    port = _free_port()
    started = []
    serve = [hcdc, "serve", "--port", str(port), "--workers", str(setup.workers)]
    with (log_dir / "serve.log").open("ab") as out:
        started.append(subprocess.Popen(serve, env=env, stdout=out, stderr=subprocess.STDOUT))
    if worker:
        with (log_dir / "worker.log").open("ab") as out:
            started.append(
                subprocess.Popen(
                    [hcdc, "worker", "--executor", "local", "--capacity", "2"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(f"{base}/api/hub/health", timeout=2).status_code == 200:
                    break
            if started[0].poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"hcdc serve did not start; see {log_dir / 'serve.log'}")
            time.sleep(0.3)
        yield base
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


# -- the clients ---------------------------------------------------------------------------------


def request_of(kind: str, target: Target, rng: random.Random) -> tuple[str, str, Any]:
    """(method, path, JSON body) of one call of ``kind``."""
    if kind == "baseline":
        return "GET", "/api/hub/health", None
    if kind == "browse processes":
        body = rng.choice(
            [
                {},
                {"browse_filters": {"PROCESS_STATUS": "done"}, "limit": 20},
                {"browse_filters": {"RECIPE_NAME": f"recipe_{rng.randrange(40):02d}"}},
                {"browse_filters": {"OBS_NIGHT_DATE": {"min": "2019-01-01", "max": "2019-06-30"}}},
                {"browse_filters": {"PROCESS_STATUS": ["error", "queued"]}, "count": True},
                {"page": rng.randrange(1, 50), "sort": "id ASC"},
            ]
        )
        return "POST", "/api/process_list", body
    if kind == "browse data":
        body = rng.choice(
            [
                {},
                {"browse_filters": {"DATA_FRAME_TYPE": "IRD_DARK_RAW"}, "limit": 20},
                {"browse_filters": {"OBS_NIGHT_DATE": {"min": "2020-01-01", "max": "2020-03-31"}}},
                {"browse_filters": {"TARGET_NAME": "HD 1*"}, "count": True},
            ]
        )
        return "POST", "/api/data_list", body
    if kind == "detail":
        return "GET", f"/api/processes/{rng.choice(target.detail_ids)}", None
    if kind == "launch":
        return "POST", "/api/processes", {"recipe": "hcdc_sleep", "force": True}
    verdict = rng.choice(["valid", "rejected", "to_reprocess"])
    process_id = rng.choice(target.validation_ids)
    return "POST", f"/api/processes/{process_id}/validation", {"status": verdict}


class Connection:
    """One keep-alive HTTP/1.1 connection written by hand: httpx costs a few milliseconds of
    CPU per call, which on a small machine makes the generator, not the server, the limit."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parsed = httpx.URL(url)
        self._host = parsed.host
        self._port = parsed.port or 80
        fixed = {"Host": f"{self._host}:{self._port}", **headers}
        self._head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        payload = b"" if body is None else json.dumps(body).encode()
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        writer.write(
            f"{method} {path} HTTP/1.1\r\n{self._head}{kind}"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            await self.close()
            raise
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, content

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


async def client(
    target: Target,
    kinds: list[str],
    weights: list[int],
    until: float,
    tally: Tally,
    seed: int,
) -> None:
    rng = random.Random(seed)
    http = Connection(target.url, target.headers)
    while time.perf_counter() < until:
        kind = rng.choices(kinds, weights)[0]
        method, path, body = request_of(kind, target, rng)
        began = time.perf_counter()
        try:
            status, content = await asyncio.wait_for(http.request(method, path, body), 60)
            ok = status == EXPECTED.get(kind, 200)
            problem = f"{status} {content[:200].decode(errors='replace')}"
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            ok, problem = False, f"{type(exc).__name__}: {exc}"
        tally.latencies[kind].append(time.perf_counter() - began)
        if not ok:
            tally.errors[kind] += 1
            tally.samples.setdefault(kind, f"{method} {path}: {problem}")
    await http.close()


async def phase(target: Target, *, clients: int, seconds: float, mix: dict[str, int]) -> Tally:
    tally = Tally()
    until = time.perf_counter() + seconds
    kinds, weights = list(mix), list(mix.values())
    await asyncio.gather(*(client(target, kinds, weights, until, tally, i) for i in range(clients)))
    return tally


# -- the report ----------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(title: str, tally: Tally, seconds: float, baseline: Tally | None) -> None:
    print(f"\n{title}")
    print("| call | calls | calls/s | p50 ms | p95 ms | p99 ms | errors | p50 / baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base50 = None
    if baseline is not None and baseline.latencies["baseline"]:
        base50 = _percentile(baseline.latencies["baseline"], 0.5)
    rows = {**tally.latencies, "overall": [v for vs in tally.latencies.values() for v in vs]}
    for kind, values in rows.items():
        if not values:
            continue
        errors = sum(tally.errors.values()) if kind == "overall" else tally.errors[kind]
        p50 = _percentile(values, 0.5)
        ratio = f"{p50 / base50:.1f}x" if base50 else "-"
        print(
            f"| {kind} | {len(values)} | {len(values) / seconds:.1f} | {p50:.1f} "
            f"| {_percentile(values, 0.95):.1f} | {_percentile(values, 0.99):.1f} "
            f"| {errors} | {ratio} |"
        )
    for kind, sample in tally.samples.items():
        print(f"  first error ({kind}): {sample}")


def external_health(base: str, *, clients: int, seconds: float) -> float | None:
    """Calls/s ``wrk`` gets from the health endpoint (None without ``wrk``)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    threads = max(1, min(clients, 2))
    done = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            f"{base}/api/hub/health",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    return float(found.group(1)) if found else None


@dataclass
class Outcome:
    setup: Setup
    baseline: Tally
    mixed: Tally
    external: float | None


def measure(
    kind: str, setup: Setup, settings: Settings, url: str, target: Target, args: argparse.Namespace
) -> Outcome:
    log_dir = settings.data_dir.parent
    with services(settings, url, setup, worker=args.worker, log_dir=log_dir) as base:
        target = Target(base, target.headers, target.detail_ids, target.validation_ids)
        print(
            f"\n-- {kind}, {setup.name}: {args.clients} clients, mix {args.seconds:g} s", flush=True
        )
        external = external_health(base, clients=args.clients, seconds=args.baseline_seconds)
        baseline = asyncio.run(
            phase(target, clients=args.clients, seconds=args.baseline_seconds, mix={"baseline": 1})
        )
        mixed = asyncio.run(phase(target, clients=args.clients, seconds=args.seconds, mix=MIX))
    report(
        f"{kind}, {setup.name}: baseline (GET /api/hub/health)",
        baseline,
        args.baseline_seconds,
        None,
    )
    if external is not None:
        print(
            f"  the same endpoint driven by wrk ({args.clients} connections): "
            f"{external:.0f} calls/s"
        )
    report(f"{kind}, {setup.name}: mix", mixed, args.seconds, baseline)
    return Outcome(setup, baseline, mixed, external)


def compare(kind: str, reference: Outcome, tuned: Outcome, seconds: float) -> None:
    """The tuned configuration's figures as ratios to the reference measured in this run."""
    print(f"\n{kind}: {tuned.setup.name} / {reference.setup.name}")
    print("| call | calls/s | ratio | p99 ms | reference p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for kind_name in [*MIX, "overall"]:

        def values(tally: Tally, name: str = kind_name) -> list[float]:
            if name == "overall":
                return [v for vs in tally.latencies.values() for v in vs]
            return tally.latencies[name]

        new, old = values(tuned.mixed), values(reference.mixed)
        if not new or not old:
            continue
        print(
            f"| {kind_name} | {len(new) / seconds:.1f} | {len(new) / len(old):.1f}x "
            f"| {_percentile(new, 0.99):.0f} | {_percentile(old, 0.99):.0f} |"
        )


def run(kind: str, args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix=f"hcdc-load-{kind}-"))
    with database(kind, workdir) as url:
        settings = Settings(data_dir=workdir / "data", database_url=url, resolve_targets=False)
        factory = Factory(settings)
        print(f"\n== {kind}: seeding {args.processes:,} processes, {args.files:,} data files")
        headers, validation_ids = seed(factory, processes=args.processes, files=args.files)
        factory.close()
        target = Target("", headers, list(range(1, args.processes + 1)), validation_ids)
        setups = [REFERENCE] if args.reference else []
        setups.append(
            Setup(
                f"{args.workers or 'one per core'} worker processes, caches on", args.workers, None
            )
        )
        outcomes = [measure(kind, setup, settings, url, target, args) for setup in setups]
        if len(outcomes) == 2:
            compare(kind, outcomes[0], outcomes[1], args.seconds)
    errors = sum(sum(o.mixed.errors.values()) + sum(o.baseline.errors.values()) for o in outcomes)
    if errors:
        print(f"  logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--processes", type=int, default=3000)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument(
        "--workers", type=int, default=0, help="API worker processes (0: one per core)"
    )
    parser.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the reference configuration first (1 process, caches off)",
    )
    parser.add_argument(
        "--worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run `hcdc worker` beside the server, so launched processes run",
    )
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    errors = sum(run(kind, args) for kind in kinds)
    print(f"\ntotal errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
