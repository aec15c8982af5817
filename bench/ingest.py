"""Ingest throughput against the floor of merely reading every file's header blocks.

Writes N small FITS files with SPHERE-like headers, then in the same run times
(1) reading every file's header blocks (the floor: no parsing, no database), and
(2) ``IngestService.ingest`` of the whole folder into a fresh database, once with the
streaming reader (``fast_scan=False``) and once with the default fast reader,
and prints files/s for each, their ratio to the raw read and the speed-up.
Goals: >= 10000 files/s and <= 3x the raw read.

    python bench/ingest.py [--files 20000] [--database-url URL] [--workdir DIR]

``--database-url postgresql://...`` names a PostgreSQL server: each ingest gets a new schema
there, dropped afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.databases
from astropy.io import fits

from hcdc_kernel.frames.header_io import read_header_file
from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from tests.databases import postgres_schema

TYPES = [
    ("SCIENCE", "OBJECT", "IMAGE,DUAL,CORONOGRAPHY"),
    ("SCIENCE", "OBJECT,CENTER", "IMAGE,DUAL"),
    ("SCIENCE", "OBJECT,FLUX", "IMAGE,DUAL"),
    ("CALIB", "DARK", "IMAGE"),
    ("CALIB", "FLAT,LAMP", "IMAGE"),
]


def template_header() -> fits.Header:
    """A SPHERE-like primary header of about 120 cards (keywords ingest reads and others)."""
    h = fits.Header()
    h["INSTRUME"] = "SPHERE"
    h["TELESCOP"] = "ESO-VLT-U3"
    h["OBJECT"] = "HD 95086"
    h["RA"] = 164.597
    h["DEC"] = -68.668
    h["EXPTIME"] = 64.0
    h["DATE-OBS"] = "2019-05-28T03:10:11.1234"
    h["MJD-OBS"] = 58631.13207
    h["ARCFILE"] = "SPHER.2019-05-28T03:10:11.123.fits"
    for key, value in {
        "DPR CATG": "SCIENCE",
        "DPR TYPE": "OBJECT",
        "DPR TECH": "IMAGE,DUAL,CORONOGRAPHY",
        "SEQ ARM": "IRDIS",
        "DET SEQ1 DIT": 16.0,
        "DET NDIT": 4,
        "DET READ CURNAME": "Nondest",
        "OBS PROG ID": "0103.C-0123(A)",
        "OBS ID": 2345678,
        "OBS NAME": "IRD_DBI_HD95086",
        "OBS TARG NAME": "HD 95086",
        "OBS PI-COI NAME": "Milli",
        "INS COMB ICOR": "N_ALC_YJH_S",
        "INS COMB IFLT": "DB_H23",
        "INS1 MODE": "NIRC",
        "INS4 DROT2 MODE": "ELEV",
        "INS4 DROT2 POSANG": 0.0,
        "TEL AIRM START": 1.40,
        "TEL AIRM END": 1.42,
        "TEL AMBI FWHM START": 0.61,
        "TEL AMBI FWHM END": 0.72,
        "TEL AMBI TAU0": 0.0041,
        "TEL PARANG START": -12.5,
        "TEL PARANG END": -10.1,
    }.items():
        h[f"HIERARCH ESO {key}"] = value
    for i in range(90):  # the many keywords a real file carries and ingest does not store
        h[f"HIERARCH ESO INS SENS{i} VAL"] = float(i) * 0.5
    return h


def write_files(folder: Path, count: int) -> None:
    header = template_header()
    data = np.zeros((8, 8), dtype=np.int16)
    base = fits.PrimaryHDU(data=data, header=header)
    template = bytearray(base.header.tostring().encode() + data.byteswap().tobytes())
    template += b"\0" * (-len(template) % 2880)
    folder.mkdir(parents=True, exist_ok=True)
    arc_offset = bytes(template).index(b"SPHER.2019")
    for i in range(count):
        content = bytearray(template)
        # Unique content per file (the checksum must differ): rewrite ARCFILE and one data value.
        stamp = f"SPHER.{i:010d}".encode()
        content[arc_offset : arc_offset + len(stamp)] = stamp
        catg, dpr_type, tech = TYPES[i % len(TYPES)]
        _ = (catg, dpr_type, tech)
        content[-1] = i % 251
        (folder / f"f{i:06d}.fits").write_bytes(bytes(content))


def raw_read(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.iterdir()):
        read_header_file(path)
    return time.perf_counter() - start


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """``url`` itself for SQLite (a new data folder each time), a new schema on PostgreSQL."""
    if url is None or not url.startswith("postgresql"):
        with nullcontext(url) as same:
            yield same
        return
    with postgres_schema(url, prefix="bench") as scratch:
        yield scratch


def timed_ingest(work: Path, folder: Path, url: str | None, count: int, *, fast: bool) -> float:
    """Seconds to ingest ``folder`` into a new database with the given reader."""
    data_dir = work / ("data-fast" if fast else "data-stream")
    shutil.rmtree(data_dir, ignore_errors=True)
    with fresh_database(url) as database_url:
        settings = Settings(data_dir=data_dir, database_url=database_url, resolve_targets=False)
        factory = Factory(settings)
        factory.init_database()
        service = factory.ingest()
        service.fast_scan = fast
        start = time.perf_counter()
        summary = service.ingest([folder])
        seconds = time.perf_counter() - start
        factory.close()
    assert summary.ingested == count, summary
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hcdc-bench-ingest-"))
    folder = work / "files"
    n = args.files
    try:
        t0 = time.perf_counter()
        write_files(folder, n)
        print(f"wrote {n} files in {time.perf_counter() - t0:.1f} s")
        raw_read(folder)  # warm the page cache so every timing reads from memory
        raw_s = raw_read(folder)
        stream_s = timed_ingest(work, folder, args.database_url, n, fast=False)
        fast_s = timed_ingest(work, folder, args.database_url, n, fast=True)
        database = (args.database_url or "sqlite").split("://")[0]
        print(f"database: {database}")
        print(f"raw header read        : {n / raw_s:8.0f} files/s ({raw_s:.2f} s)")
        print(
            f"ingest, stream reader  : {n / stream_s:8.0f} files/s ({stream_s:.2f} s), "
            f"{stream_s / raw_s:.2f}x the raw read"
        )
        print(
            f"ingest, fast reader    : {n / fast_s:8.0f} files/s ({fast_s:.2f} s), "
            f"{fast_s / raw_s:.2f}x the raw read"
        )
        print(f"speed-up fast/stream   : {stream_s / fast_s:8.2f}x  (goal >= 10000 files/s, <= 3x)")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
