"""Registering a finished job's products as data files.

FITS products go through the ingest (their headers give frame type, target, night...). Other
products the job lists (the ECSV twin of a table, the PNG preview of an image) have no header
to read: they are stored as data files of the category the manifest gives them, with nothing
else known, and take the observation fields from the process's inputs like every product
(:func:`hcdc_server.services.provenance.inherit_outputs`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hcdc_server.models.ingest import IngestRecord
from hcdc_server.schema.tables import DataFile
from hcdc_server.services.ingest import IngestService
from hcdc_server.services.users import utcnow

__all__ = ["FITS_SUFFIXES", "Product", "register_products"]

#: File name endings read as FITS (the others are registered without a header).
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.fz", ".fz")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Product:
    """A file a job wrote and the category its manifest gives it."""

    path: str
    category: str | None


def _is_fits(path: str) -> bool:
    return path.lower().endswith(FITS_SUFFIXES)


def _checksum(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def register_products(
    ingest: IngestService,
    sessions: sessionmaker[Session],
    products: Sequence[Product],
    *,
    public: bool,
    user_id: int | None,
    user_login: str | None,
) -> dict[int, str | None]:
    """Store the products as data files; their ids with the category of each.

    A file whose content is already stored (same checksum) is that data file.
    """
    outputs: dict[int, str | None] = {}
    categories = {p.path: p.category for p in products}
    fits_paths = [Path(p.path) for p in products if _is_fits(p.path)]
    if fits_paths:
        records: list[IngestRecord] = []
        ingest.ingest(fits_paths, public=public, user_login=user_login, on_record=records.append)
        for record in records:
            if record.id is not None:
                outputs[record.id] = categories.get(record.path)
    others = [p for p in products if not _is_fits(p.path) and Path(p.path).is_file()]
    if others:
        with sessions.begin() as session:
            for product in others:
                outputs[_store_file(session, product, public=public, user_id=user_id)] = (
                    product.category
                )
    return outputs


def _store_file(session: Session, product: Product, *, public: bool, user_id: int | None) -> int:
    """The id of the data file holding ``product`` (a file that is not FITS)."""
    path = Path(product.path).resolve()
    checksum, size = _checksum(path)
    known = session.scalar(select(DataFile.id).where(DataFile.checksum == checksum))
    if known is not None:
        return known
    row = session.scalar(select(DataFile).where(DataFile.path == str(path)))
    if row is None:
        row = DataFile(path=str(path), ingested_at=utcnow(), ingested_by=user_id)
        session.add(row)
    row.filename = path.name
    row.checksum = checksum
    row.size = size
    row.storage = "reference"
    row.frame_type = product.category or "UNKNOWN"
    row.classification_reason = None if product.category else "no category in the job manifest"
    row.category = "PRODUCT"
    row.is_raw = False
    row.is_standard = False
    row.is_public = public
    row.status = "ok"
    session.flush()
    return row.id
