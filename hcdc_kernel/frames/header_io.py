"""Reading the primary FITS header quickly and safely.

Ingest reads tens of thousands of headers; astropy's full ``Header`` parse costs about 0.3 ms
for a SPHERE-sized header, which alone would cap ingest far below the rates a data centre needs.
This module reads only the header blocks and decodes cards with a small fast path for the
plain value forms (strings, logicals, integers, reals); any card it does not recognise with
certainty (CONTINUE, complex values, malformed) is handed to astropy, so the values always equal
astropy's (the tests check this card by card).

It also walks a file's extensions header by header (their data units are read past, never
parsed) and computes the size of a data unit from its header, decompressed for tile-compressed
images, so that a file can be judged before anything loads its data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from astropy.io import fits

BLOCK = 2880
CARD = 80
#: Headers larger than this are refused: no real raw frame comes near it, and a runaway header
#: (or a non-FITS file that happens to start with SIMPLE) must not exhaust memory.
MAX_HEADER_BYTES = 2880 * 2000

#: Data unit sizes: FITS 4.4.1.1 (NAXIS at most 999) and the tiled image convention's
#: ZIMAGE/ZBITPIX/ZNAXISn (FITS 10.1), which describe the image a compressed HDU holds.
SIZE_KEYWORDS = frozenset({"BITPIX", "NAXIS", "GCOUNT", "PCOUNT", "ZIMAGE", "ZBITPIX", "ZNAXIS"})
SIZE_KEYWORDS |= frozenset(f"NAXIS{i}" for i in range(1, 1000))
SIZE_KEYWORDS |= frozenset(f"ZNAXIS{i}" for i in range(1, 1000))
_BITPIX = frozenset({8, 16, 32, 64, -32, -64})
_READ_CHUNK = 1 << 20

_END = b"END" + b" " * 77
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


class FitsFormatError(ValueError):
    """A file is not a readable FITS file; the message says why."""


class ByteStream(Protocol):
    """What the readers below need of a stream: an open binary file, or a wrapper of one."""

    def read(self, size: int, /) -> bytes: ...


def read_header_bytes(stream: ByteStream, *, max_bytes: int = MAX_HEADER_BYTES) -> bytes:
    """Read the primary header blocks from a binary stream, up to and including the END card."""
    first = stream.read(BLOCK)
    if not first:
        raise FitsFormatError("empty file (0 bytes)")
    if not first.startswith(b"SIMPLE  ="):
        raise FitsFormatError("not a FITS file: it does not start with a SIMPLE card")
    if len(first) < BLOCK:
        raise FitsFormatError(f"truncated FITS header: {len(first)} bytes, a block is {BLOCK}")
    return _rest_of_header(stream, first, max_bytes)


def read_extension_header(stream: ByteStream, *, max_bytes: int = MAX_HEADER_BYTES) -> bytes | None:
    """The next extension's header blocks, or ``None`` at the end of the HDUs.

    Call it where a data unit (padding included) ends. The HDUs end at the end of the file or
    at a block that does not start with ``XTENSION``: FITS allows special records after the
    last HDU (FITS 3.5); that block is consumed and the rest of the stream left unread.
    """
    first = stream.read(BLOCK)
    if not first.startswith(b"XTENSION="):
        return None
    if len(first) < BLOCK:
        raise FitsFormatError(f"truncated FITS extension header: {len(first)} bytes")
    return _rest_of_header(stream, first, max_bytes)


def skip_data_unit(stream: ByteStream, size: int) -> None:
    """Read past a data unit of ``size`` bytes and its padding to the next block.

    A data unit shorter than ``size`` is truncated (FitsFormatError); missing padding after the
    last data unit is tolerated, as astropy does.
    """
    left = size
    while left > 0:
        chunk = stream.read(min(left, _READ_CHUNK))
        if not chunk:
            raise FitsFormatError(
                f"truncated FITS data: the header announces {size} bytes of data, "
                f"the file has {size - left}"
            )
        left -= len(chunk)
    padding = -size % BLOCK
    if padding:
        stream.read(padding)


def _rest_of_header(stream: ByteStream, first: bytes, max_bytes: int) -> bytes:
    blocks = [first]
    total = BLOCK
    block = first
    while not _has_end(block):
        if total >= max_bytes:
            raise FitsFormatError(f"FITS header larger than {max_bytes} bytes without an END card")
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            raise FitsFormatError("truncated FITS header: the file ends before the END card")
        blocks.append(block)
        total += BLOCK
    return b"".join(blocks)


def _has_end(block: bytes) -> bool:
    index = block.find(_END)
    while index >= 0:
        if index % CARD == 0:
            return True
        index = block.find(_END, index + 1)
    return False


def data_bytes(keywords: Mapping[str, Any]) -> int:
    """Bytes of a data unit as stored, from BITPIX, NAXISn, PCOUNT and GCOUNT (FITS 4.4.1.1)."""
    bitpix = _integer(keywords, "BITPIX")
    if bitpix not in _BITPIX:
        raise FitsFormatError(f"BITPIX = {bitpix} is not one of {sorted(_BITPIX)}")
    count = _axes_product(keywords, "NAXIS")
    if _integer(keywords, "NAXIS") == 0:
        return 0
    gcount = _integer(keywords, "GCOUNT", default=1)
    pcount = _integer(keywords, "PCOUNT", default=0)
    return abs(bitpix) // 8 * gcount * (pcount + count)


def decompressed_bytes(keywords: Mapping[str, Any]) -> int:
    """Bytes of a data unit once loaded: the image of a tile-compressed HDU (``ZIMAGE = T``,
    from ZBITPIX and ZNAXISn), otherwise the data unit as stored.

    astropy presents a compressed HDU's ``header`` as the image's own header, which this reads
    as an uncompressed image: the answer is the same.
    """
    if keywords.get("ZIMAGE") is not True:
        return data_bytes(keywords)
    bitpix = _integer(keywords, "ZBITPIX")
    if bitpix not in _BITPIX:
        raise FitsFormatError(f"ZBITPIX = {bitpix} is not one of {sorted(_BITPIX)}")
    return abs(bitpix) // 8 * _axes_product(keywords, "ZNAXIS")


def _axes_product(keywords: Mapping[str, Any], prefix: str) -> int:
    naxis = _integer(keywords, prefix)
    if not 0 <= naxis <= 999:
        raise FitsFormatError(f"{prefix} = {naxis} is outside 0..999")
    count = 1
    for i in range(1, naxis + 1):
        length = _integer(keywords, f"{prefix}{i}")
        if length < 0:
            raise FitsFormatError(f"{prefix}{i} = {length} is negative")
        count *= length
    return count


def _integer(keywords: Mapping[str, Any], keyword: str, *, default: int | None = None) -> int:
    value = keywords.get(keyword)
    if value is None:
        if default is None:
            raise FitsFormatError(f"missing mandatory keyword {keyword}")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise FitsFormatError(f"{keyword} = {value!r} is not an integer")
    return value


def read_header_file(path: Path) -> bytes:
    """Read the primary header blocks of the file at ``path``."""
    with path.open("rb") as stream:
        return read_header_bytes(stream)


def parse_header(raw: bytes) -> dict[str, Any]:
    """Decode header blocks into ``{keyword: value}``.

    Keywords are as astropy names them: ``HIERARCH ESO DPR CATG`` becomes ``ESO DPR CATG``.
    COMMENT/HISTORY/blank cards are skipped; a repeated keyword keeps its first value (as
    ``Header[key]`` does).
    """
    text = raw.decode("ascii", errors="replace")
    if "CONTINUE" in text:
        return _parse_with_astropy(text)
    values: dict[str, Any] = {}
    for start in range(0, len(text), CARD):
        card = text[start : start + CARD]
        key8 = card[:8]
        if key8 == "END     ":
            break
        if key8 == "HIERARCH":
            eq = card.find("=", 9)
            if eq < 0:
                continue
            keyword = card[9:eq].strip()
            field = card[eq + 1 :]
        elif card[8:10] == "= ":
            keyword = key8.rstrip()
            field = card[10:]
        else:
            continue  # COMMENT, HISTORY, blank: commentary, no value
        if keyword in values:
            continue
        try:
            values[keyword] = _parse_value(field)
        except _NeedAstropyError:
            values[keyword] = fits.Card.fromstring(card).value
    return values


def extract_keywords(raw: bytes, wanted: frozenset[str]) -> dict[str, Any]:
    """Decode only the ``wanted`` keywords (astropy names) from header blocks.

    The ingest hot path: skipping the value parse of the hundreds of cards ingest does not store
    halves the cost per file against :func:`parse_header`.
    """
    text = raw.decode("latin-1")
    if "CONTINUE" in text:
        return {k: v for k, v in _parse_with_astropy(text).items() if k in wanted}
    values: dict[str, Any] = {}
    for start in range(0, len(text), CARD):
        key8 = text[start : start + 8]
        if key8 == "HIERARCH":
            eq = text.find("=", start + 9, start + CARD)
            if eq < 0:
                continue
            keyword = text[start + 9 : eq].rstrip()
            field_start = eq + 1
        elif key8 == "END     ":
            break
        elif text[start + 8 : start + 10] == "= ":
            keyword = key8.rstrip()
            field_start = start + 10
        else:
            continue
        if keyword in wanted and keyword not in values:
            try:
                values[keyword] = _parse_value(text[field_start : start + CARD])
            except _NeedAstropyError:
                values[keyword] = fits.Card.fromstring(text[start : start + CARD]).value
    return values


class _NeedAstropyError(Exception):
    pass


def _parse_value(field: str) -> Any:
    field = field.lstrip()
    if not field:
        return None
    if field[0] == "'":
        end = 1
        parts = []
        while True:
            quote = field.find("'", end)
            if quote < 0:
                raise _NeedAstropyError
            parts.append(field[end:quote])
            if field[quote + 1 : quote + 2] == "'":  # '' is an escaped quote
                parts.append("'")
                end = quote + 2
                continue
            break
        return "".join(parts).rstrip()
    literal = field.split("/", 1)[0].strip()
    if literal == "T":
        return True
    if literal == "F":
        return False
    if not literal:
        return None
    if _INTEGER.match(literal):
        return int(literal)
    if _NUMBER.match(literal):
        return float(literal.replace("D", "E").replace("d", "e"))
    raise _NeedAstropyError


def _parse_with_astropy(text: str) -> dict[str, Any]:
    header = fits.Header.fromstring(text)
    values: dict[str, Any] = {}
    for card in header.cards:
        if card.keyword in ("", "COMMENT", "HISTORY") or card.keyword in values:
            continue
        values[card.keyword] = card.value
    return values
