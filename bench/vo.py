"""VO publication at scale: publication time and a TAP cone query against the same cone in SQL.

Builds, in a new PostgreSQL database, ``--files`` synthetic raw files (a fifth proprietary)
spread over the southern sky and ``--processes`` finished processes, each with five raw inputs
and two FITS products (an S/N map, level 2; a contrast curve, level 3); then ``hcdc vo
publish`` (timed: first publication with DaCHS's set-up, then a republication), starts hcdc's
DaCHS and times a TAP cone query on ``ivoa.obscore`` (HTTP, VOTable) against the same cone
on hcdc's own ``data_files`` (bounding box and exact distance, visibility rule) and on the
published table directly in SQL.

    python bench/vo.py --server-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from astropy.io.votable import parse
from sqlalchemy import create_engine, text

from hcdc_server.config import Settings
from hcdc_server.factory import Factory

RUNS = 20


def _database(server_url: str) -> str:
    name = f"hcdc_vo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def _fill(factory: Factory, n_files: int, n_processes: int, folder: Path) -> None:
    rng = np.random.default_rng(1)
    user = factory.users().add_user("bench", email="b@x.invalid", role="user")
    with factory.engine.connect() as conn:
        recipe = conn.scalar(text("SELECT id FROM recipes ORDER BY id LIMIT 1"))
    ra = rng.uniform(0, 360, n_files)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 0.2, n_files)))
    start = datetime(2016, 1, 1)
    raw: list[tuple[object, ...]] = []
    for i in range(n_files):
        when = start + timedelta(minutes=int(i))
        raw.append(
            (
                i + 1, f"{folder}/raw_{i}.fits", f"raw_{i}.fits", f"c{i}", 2_000_000, "reference",
                "IRD_SCIENCE_DBI_RAW", "SPHERE", "IRDIS", "SCIENCE", f"T{i % 500}",
                when, 57388.0 + i / 1440, when.date(), float(ra[i]), float(dec[i]), "DB_H23",
                16.0, 10, 160.0, 1024, 2048, 1, True, False, i % 5 != 0, "ok", when,
            )
        )  # fmt: skip
    products = []
    outputs = []
    inputs = []
    processes = []
    next_id = n_files + 1
    for p in range(n_processes):
        pid = p + 1
        processes.append((pid, recipe, user.id, "{}", "done", 1.0, 0, "user", 1, start, start))
        for k in range(5):
            inputs.append(
                (pid, (p * 5 + k) % n_files + 1, "IRD_SCIENCE_DBI_RAW" if k == 0 else f"CAL{k}")
            )
        for kind in ("HCI_SNR_MAP", "HCI_CONTRAST_CURVE"):
            name = f"p{pid}_{kind.lower()}.fits"
            products.append(
                (next_id, f"{folder}/{name}", name, f"p{next_id}", 500_000, "reference", kind,
                 None, None, "PRODUCT", None, None, None, None, None, None, None,
                 None, None, None, 256, 256, 1, False, False, True, "ok", start)
            )  # fmt: skip
            outputs.append((pid, next_id, kind))
            next_id += 1
    columns = (
        "id, path, filename, checksum, size, storage, frame_type, instrument, arm, category, "
        "object, date_obs, mjd_obs, obs_night, ra, dec, instrument_filter, dit, ndit, exptime, "
        "naxis1, naxis2, naxis3, is_raw, is_standard, is_public, status, ingested_at"
    )
    with factory.engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, cols, rows in (
            ("data_files", columns, raw + products),
            (
                "processes",
                "id, recipe_id, user_id, params, status, progress, priority, launcher_type, "
                "attempt, created_at, ended_at",
                processes,
            ),
            ("process_inputs", "process_id, data_file_id, sof_tag", inputs),
            ("process_outputs", "process_id, data_file_id, category", outputs),
        ):
            with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table, last in (("data_files", next_id), ("processes", n_processes + 1)):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": last}
            )
        conn.execute(text("ANALYZE"))


def _p50(timings: list[float]) -> float:
    return statistics.median(timings) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-url", default=os.environ.get("HCDC_TEST_POSTGRES_URL"))
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=10_000)
    parser.add_argument("--radius", type=float, default=2.0, help="cone radius, degrees")
    args = parser.parse_args()
    if not args.server_url:
        sys.exit("give --server-url postgresql://... (or set HCDC_TEST_POSTGRES_URL)")
    folder = Path(tempfile.mkdtemp(prefix="hcdc-vo-bench-"))
    database_url = _database(args.server_url)
    port = 18090
    settings = Settings(
        data_dir=folder / "data", database_url=database_url, resolve_targets=False, vo_port=port
    )
    factory = Factory(settings)
    factory.init_database()
    started = time.monotonic()
    _fill(factory, args.files, args.processes, folder)
    print(f"synthetic catalog: {args.files} raw files, {args.processes} processes, "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    first = factory.vo().publish()
    again = factory.vo().publish()
    print(f"publication (first, with DaCHS set-up): {first.as_dict()}")
    print(f"publication (again): {again.as_dict()}")
    env = {**os.environ, "HCDC_DATA_DIR": str(settings.data_dir), "HCDC_DATABASE_URL": database_url,
           "HCDC_VO_PORT": str(port)}  # fmt: skip
    server = subprocess.Popen(["hcdc", "vo", "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        tap = f"http://127.0.0.1:{port}/tap/sync"
        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/tap/capabilities").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        ra0, dec0, r = 120.0, -40.0, args.radius
        adql = (
            "SELECT obs_publisher_did FROM ivoa.obscore WHERE "
            f"CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {ra0}, {dec0}, {r})) = 1"
        )
        rows = 0
        tap_times = []
        with httpx.Client(timeout=60) as client:
            for _ in range(RUNS):
                t0 = time.perf_counter()
                answer = client.get(
                    tap, params={"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql}
                )
                rows = len(parse(io.BytesIO(answer.content)).get_first_table().array)
                tap_times.append(time.perf_counter() - t0)
        hcdc_sql = text(
            "SELECT id FROM data_files WHERE is_public AND ra BETWEEN :ra - :dra AND :ra + :dra"
            " AND dec BETWEEN :dec - :r AND :dec + :r AND degrees(acos(least(1,"
            " sin(radians(:dec)) * sin(radians(dec))"
            " + cos(radians(:dec)) * cos(radians(dec)) * cos(radians(ra - :ra))))) <= :r"
        )
        published_sql = text(
            "SELECT obs_publisher_did FROM hcdc_vo.files WHERE q3c_join(:ra, :dec, s_ra, s_dec, :r)"
        )
        dra = r / np.cos(np.radians(abs(dec0) + r))
        timings: dict[str, list[float]] = {"hcdc data_files (SQL)": [], "hcdc_vo.files (SQL)": []}
        counts = {}
        with factory.engine.connect() as conn:
            for _ in range(RUNS):
                for name, query in (
                    ("hcdc data_files (SQL)", hcdc_sql),
                    ("hcdc_vo.files (SQL)", published_sql),
                ):
                    t0 = time.perf_counter()
                    counts[name] = len(
                        conn.execute(query, {"ra": ra0, "dec": dec0, "r": r, "dra": dra}).all()
                    )
                    timings[name].append(time.perf_counter() - t0)
        print(f"cone r={r} deg at ({ra0}, {dec0}), p50 of {RUNS}:")
        print(f"  TAP ivoa.obscore (HTTP, VOTable parsed): {_p50(tap_times):8.1f} ms, {rows} rows")
        for name, values in timings.items():
            print(f"  {name:39s}: {_p50(values):8.1f} ms, {counts[name]} rows")
    finally:
        server.terminate()
        server.wait(timeout=30)
        factory.close()
        admin = create_engine(
            args.server_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(
                text(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')
            )
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
