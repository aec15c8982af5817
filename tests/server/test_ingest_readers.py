"""The fast reader (whole small files, cached card decoding) against the streaming reader: the
same verdict and reason for every file, and the same rows in the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from sqlalchemy import select

from hcdc_server.config import Settings
from hcdc_server.factory import Factory
from hcdc_server.schema.tables import DataFile, FrameConditions, Observation, Target
from hcdc_server.services import ingest_scan
from hcdc_server.services.fits_checks import FileLimits
from hcdc_server.services.ingest import _scan_or_reason
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema
from tests.security.test_bad_input import _bad_files
from tests.server.fits_factory import write_frame

_LIMITS = FileLimits(max_extensions=3, max_decompressed_bytes=1 << 30)


def _folder(root: Path) -> Path:
    """Bad files of every kind, good frames of several types, extensions, a link, a FIFO."""
    folder = root / "in"
    _bad_files(folder)
    for i in range(4):
        write_frame(folder / f"sci{i}.fits", value=i, date_obs=f"2019-05-28T03:1{i}:00")
    write_frame(folder / "dark.fits", dpr=("CALIB", "DARK", "IMAGE"))
    write_frame(folder / "center.fits", dpr=("SCIENCE", "OBJECT,CENTER", "IMAGE,DUAL"), obs_id=7)
    write_frame(folder / "copy_of_sci0.fits", value=0, date_obs="2019-05-28T03:10:00")
    image = fits.ImageHDU(np.ones((5, 5), dtype=np.float32))
    hdus = [fits.PrimaryHDU(), image, fits.BinTableHDU.from_columns([fits.Column("a", "J")])]
    fits.HDUList(hdus).writeto(folder / "extensions.fits")
    fits.HDUList([fits.PrimaryHDU(), *[fits.ImageHDU() for _ in range(4)]]).writeto(
        folder / "too_many_extensions.fits"
    )
    (folder / "link.fits").symlink_to(folder / "sci1.fits")
    os.mkfifo(folder / "pipe.fits")
    return folder


def _verdicts(folder: Path, fast: bool) -> dict[str, Any]:
    return {p.name: _scan_or_reason(p, _LIMITS, fast) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("small_file_bytes", [ingest_scan.SMALL_FILE_BYTES, 0])
def test_both_readers_judge_every_file_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_file_bytes: int
) -> None:
    folder = _folder(tmp_path)
    stream = _verdicts(folder, fast=False)
    # 0: every file takes the fast reader's streaming branch (the one for large files).
    monkeypatch.setattr(ingest_scan, "SMALL_FILE_BYTES", small_file_bytes)
    assert _verdicts(folder, fast=True) == stream
    rejected = {name: v for name, v in stream.items() if isinstance(v, str)}
    assert "too_many_extensions.fits" in rejected and "pipe.fits" in rejected
    assert not isinstance(stream["extensions.fits"], str)
    assert stream["extensions.fits"].extensions == 2


@pytest.fixture
def second_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.sqlite'}"
        return
    assert POSTGRES_URL is not None
    with postgres_schema(POSTGRES_URL, prefix="t") as url:
        yield url


def _ingest(url: str, data_dir: Path, folder: Path, fast: bool) -> tuple[list[Any], dict]:
    factory = Factory(Settings(data_dir=data_dir, database_url=url, resolve_targets=False))
    factory.init_database()
    service = factory.ingest()
    service.fast_scan = fast
    records: list[Any] = []
    service.ingest([folder], on_record=records.append, batch_size=5)
    # ids and clock times differ between any two runs
    skip = {"id", "data_file_id", "observation_id", "target_id"}
    skip |= {"ingested_at", "linked_at", "resolved_at"}
    with factory.sessions() as session:
        by_path = {f.id: f.path for f in session.scalars(select(DataFile))}
        tables: dict[str, Any] = {}
        for table, key in (
            (DataFile, "path"),
            (Observation, "key"),
            (Target, "name"),
            (FrameConditions, "data_file_id"),
        ):
            rows = []
            for obj in session.scalars(select(table)):
                row = {
                    c.name: getattr(obj, c.name)
                    for c in table.__table__.columns
                    if c.name not in skip
                }
                row["_key"] = (
                    by_path[obj.data_file_id] if key == "data_file_id" else getattr(obj, key)
                )
                rows.append(row)
            tables[table.__tablename__] = sorted(rows, key=lambda r: str(r["_key"]))
    factory.close()
    plain = [r.model_dump() | {"id": r.id is not None} for r in records]
    return plain, tables


def test_both_readers_store_identical_rows(
    database_url: str, second_url: str, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    (folder / "pipe.fits").unlink()  # the scan test covers it; here it would need no writer
    stream = _ingest(database_url, tmp_path / "data1", folder, fast=False)
    fast = _ingest(second_url, tmp_path / "data2", folder, fast=True)
    assert fast == stream
    records, tables = fast
    statuses = {r["status"] for r in records}
    assert statuses == {"ingested", "unchanged", "rejected"}
    assert len(tables["data_files"]) == sum(r["status"] == "ingested" for r in records) >= 6
    assert tables["frame_conditions"]
