"""Ingest of one night's conditions: time, rows and bytes in the database.

Writes a night of SPHERE AO telemetry (SPARTA files of 30 minutes, one sample every
``--step`` s per extension, as the real-time computer averages them) with the science
exposures of the sequence (``--exposures`` of 64 s), and the site monitor's table (MASS-DIMM
and meteo, one line a minute). Times, against the same run's baseline of merely reading the
SPARTA files' tables (no database):

1. ingest of the science exposures alone;
2. ingest of the SPARTA files (reading, samples stored, exposures linked);
3. import of the site-monitor table (stored, exposures relinked);

and prints the rows and bytes the conditions tables hold (SQLite: the database file's growth
and ``dbstat`` where compiled in; PostgreSQL: ``pg_total_relation_size``).

    python bench/conditions.py [--hours 10] [--step 30] [--exposures 400] [--database-url URL]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import func, select, text

from hcdc_kernel.conditions import read_sparta
from hcdc_kernel.demo.conditions import write_night_conditions
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import ConditionImport, ConditionSample, FrameConditions

TABLES = ("condition_imports", "condition_samples", "frame_conditions")


def write_exposure(path: Path, *, start: datetime, exptime: float, value: int) -> Path:
    """A small IRDIS science exposure starting at ``start``."""
    header = fits.Header()
    header["INSTRUME"] = "SPHERE"
    header["OBJECT"] = "HD 95086"
    header["DATE-OBS"] = start.isoformat(timespec="milliseconds")
    header["EXPTIME"] = exptime
    header["HIERARCH ESO SEQ ARM"] = "IRDIS"
    header["HIERARCH ESO DPR CATG"] = "SCIENCE"
    header["HIERARCH ESO DPR TYPE"] = "OBJECT"
    header["HIERARCH ESO DPR TECH"] = "IMAGE,DUAL"
    header["HIERARCH ESO OBS ID"] = 200
    header["HIERARCH ESO TEL AIRM START"] = 1.1
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=np.full((4, 6), value, dtype=np.int16), header=header).writeto(path)
    return path


def _sizes(factory: Factory, database_file: Path | None) -> dict[str, int]:
    with factory.engine.connect() as conn:
        if factory.engine.dialect.name == "postgresql":
            return {
                t: int(conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar() or 0)
                for t in TABLES
            }
        try:
            rows = conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
        except Exception:  # dbstat not compiled in: the file's size only
            return {"database file": database_file.stat().st_size if database_file else 0}
        # each table with its indexes (SQLite names them after the table)
        return {
            table: sum(int(size) for name, size in rows if table in str(name)) for table in TABLES
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--step", type=float, default=30.0)
    parser.add_argument("--exposures", type=int, default=400)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hcdc-bench-conditions-"))
    start = datetime(2019, 5, 28, 0, 0, 0)
    end = start + timedelta(hours=args.hours)
    sparta, table = write_night_conditions(
        work / "conditions",
        start=start,
        end=end,
        seeing_arcsec=0.7,
        tau0_s=0.004,
        seed=1,
        step_s=args.step,
    )
    period = (end - start).total_seconds() / args.exposures
    exposures = [
        write_exposure(
            work / "raw" / f"e{i:05d}.fits",
            start=start + timedelta(seconds=i * period),
            exptime=64.0,
            value=i,
        )
        for i in range(args.exposures)
    ]
    database_file = work / "hcdc.sqlite"
    url = args.database_url or f"sqlite:///{database_file}"
    factory = Factory(Settings(data_dir=work / "data", database_url=url, resolve_targets=False))
    factory.init_database()

    t0 = time.perf_counter()
    samples = sum(r.n_samples for r in (read_sparta(p) for p in sparta))
    read_s = time.perf_counter() - t0

    before = _sizes(factory, database_file if not args.database_url else None)
    t0 = time.perf_counter()
    factory.ingest().ingest(exposures)
    exposures_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    factory.ingest().ingest(sparta)
    sparta_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    [report] = factory.conditions().import_site_files([table])
    site_s = time.perf_counter() - t0
    after = _sizes(factory, database_file if not args.database_url else None)
    with factory.sessions() as session:
        counts = {
            "condition_imports": session.scalar(select(func.count()).select_from(ConditionImport)),
            "condition_samples": session.scalar(select(func.count()).select_from(ConditionSample)),
            "frame_conditions": session.scalar(select(func.count()).select_from(FrameConditions)),
        }
    print(
        f"night: {args.hours} h, {len(sparta)} SPARTA files "
        f"({sum(p.stat().st_size for p in sparta) / 1e6:.1f} MB), {samples} samples every "
        f"{args.step} s; site table {report.n_samples} samples; {args.exposures} exposures"
    )
    print(f"database: {factory.engine.dialect.name}")
    print(f"read SPARTA tables only (baseline): {read_s:.2f} s")
    print(f"ingest exposures:                   {exposures_s:.2f} s")
    print(
        f"ingest SPARTA (store + link):       {sparta_s:.2f} s ({sparta_s / read_s:.1f}x baseline)"
    )
    print(f"import site table (store + relink): {site_s:.2f} s")
    print("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    grown = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print("bytes: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(grown.items())))
    total = sum(grown.values())
    per_sample = total / max(counts["condition_samples"] or 1, 1)
    print(f"total {total / 1e6:.2f} MB, {per_sample:.0f} bytes per sample")
    factory.close()
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
