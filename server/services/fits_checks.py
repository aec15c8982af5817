"""What ingest demands of a FITS file beyond being readable: a sound primary data unit, a clean
header, consistent dates, values the catalog's columns can hold, and a bounded number of
extensions and amount of data once decompressed.

Each check raises :class:`FitsFormatError` naming the keyword at fault, so that the file is
rejected on its own with that reason; without them a single bad value fails a whole batch on
PostgreSQL (too long for a column, out of an integer's range, a NUL byte) or overflows a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, String

from hcdc_kernel.frames.header_io import CARD, FitsFormatError
from hcdc_kernel.frames.info import FrameInfo, mjd_to_datetime, parse_date_obs
from hcdc_server.schema.tables import DataFile, Observation, Target

#: Header cards are printable ASCII (FITS 4.1.2.1); control bytes are refused, NUL above all.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_NOT_CONTROL = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
#: DATE-OBS and MJD-OBS further apart than this describe two different moments.
MAX_DATE_MISMATCH_S = 60.0
#: MJD of 9999-12-31, the last date a timestamp column holds.
_MAX_MJD = 2_973_483.0

#: FrameInfo field -> (column that stores it, the header keyword named in messages).
_STORED: dict[str, tuple[Column[Any], str]] = {
    "frame_type": (DataFile.__table__.c.frame_type, "ESO PRO CATG / DPR keywords"),
    "instrument": (DataFile.__table__.c.instrument, "INSTRUME"),
    "arm": (DataFile.__table__.c.arm, "ESO SEQ ARM"),
    "category": (DataFile.__table__.c.category, "ESO DPR CATG"),
    "dpr_type": (DataFile.__table__.c.dpr_type, "ESO DPR TYPE"),
    "dpr_tech": (DataFile.__table__.c.dpr_tech, "ESO DPR TECH"),
    "object": (DataFile.__table__.c.object, "OBJECT"),
    "target_name": (Target.__table__.c.name, "ESO OBS TARG NAME / OBJECT"),
    "instrument_filter": (DataFile.__table__.c.instrument_filter, "filter keywords"),
    "ndit": (DataFile.__table__.c.ndit, "ESO DET NDIT"),
    "prog_id": (DataFile.__table__.c.prog_id, "ESO OBS PROG ID"),
    "obs_id": (DataFile.__table__.c.obs_id, "ESO OBS ID"),
    "obs_name": (Observation.__table__.c.obs_name, "ESO OBS NAME"),
    "pi_coi": (Observation.__table__.c.pi_coi, "ESO OBS PI-COI NAME"),
    "readout_mode": (DataFile.__table__.c.readout_mode, "readout mode keywords"),
    "derotator_mode": (DataFile.__table__.c.derotator_mode, "ESO INS4 DROT2 MODE"),
    "coronagraph": (DataFile.__table__.c.coronagraph, "ESO INS COMB ICOR"),
}
_INT_LIMITS = {BigInteger: 2**63 - 1, Integer: 2**31 - 1}


def check_header_bytes(header: bytes) -> None:
    """Refuse control characters anywhere in the header blocks."""
    # translate() deletes every allowed byte in C (20x faster than the regex on clean headers,
    # the usual case); the regex runs only to locate the culprit.
    if not header.translate(None, _NOT_CONTROL):
        return
    found = _CONTROL.search(header)
    if found is not None:
        card = found.start() // CARD + 1
        raise FitsFormatError(
            f"control character 0x{found.group()[0]:02x} in header card {card} "
            "(FITS headers are printable ASCII)"
        )


class FitsLimitError(FitsFormatError):
    """A readable FITS file beyond what hcdc accepts: too many extensions, too much data."""


@dataclass(frozen=True)
class FileLimits:
    """What one file may hold (settings ``max_extensions`` and ``max_decompressed_bytes``)."""

    max_extensions: int
    max_decompressed_bytes: int

    def check_extensions(self, count: int) -> None:
        """Refuse a file once it has more than ``max_extensions`` extensions."""
        if count > self.max_extensions:
            raise FitsLimitError(
                f"more than {self.max_extensions} extensions: hcdc accepts at most "
                f"{self.max_extensions} per file (HCDC_MAX_EXTENSIONS)"
            )

    def check_decompressed(self, total: int, hdu: int) -> None:
        """Refuse a file whose HDUs up to ``hdu`` (0: primary) hold more than the limit."""
        if total > self.max_decompressed_bytes:
            raise FitsLimitError(
                f"{total} bytes of data once decompressed (per the headers of HDUs 0 to {hdu}):"
                f" hcdc accepts at most {self.max_decompressed_bytes} per file "
                "(HCDC_MAX_DECOMPRESSED_BYTES)"
            )


def check_dates(keywords: dict[str, Any]) -> None:
    """MJD-OBS must be a date at all, and agree with DATE-OBS where both are given."""
    mjd = keywords.get("MJD-OBS")
    if not isinstance(mjd, int | float) or isinstance(mjd, bool):
        return
    if not 0 <= mjd <= _MAX_MJD:
        raise FitsFormatError(f"MJD-OBS = {mjd} is not a date (0..{_MAX_MJD:.0f})")
    date_obs = parse_date_obs(keywords.get("DATE-OBS"))
    if date_obs is None:
        return
    apart = abs((mjd_to_datetime(float(mjd)) - date_obs).total_seconds())
    if apart > MAX_DATE_MISMATCH_S:
        raise FitsFormatError(
            f"DATE-OBS {keywords['DATE-OBS']!r} and MJD-OBS {mjd} disagree by {apart:.0f} s"
        )


def check_storable(info: FrameInfo) -> None:
    """Every header-derived value fits the column that stores it."""
    for field, (column, keyword) in _STORED.items():
        value = getattr(info, field)
        if value is None:
            continue
        if isinstance(value, str) and isinstance(column.type, String):
            length = column.type.length
            if length is not None and len(value) > length:
                raise FitsFormatError(
                    f"{keyword}: {len(value)} characters, the catalog holds at most {length}"
                )
        elif isinstance(value, int):
            limit = next(v for k, v in _INT_LIMITS.items() if isinstance(column.type, k))
            if not -limit - 1 <= value <= limit:
                raise FitsFormatError(f"{keyword} = {value} is outside the catalog's range")
    for i, length in enumerate(info.naxis[:3], start=1):
        if length > _INT_LIMITS[Integer]:
            raise FitsFormatError(f"NAXIS{i} = {length} is outside the catalog's range")
