"""Scanning one file for ingest: its headers, checksum, size and extension count.

Two readers give the same :class:`ScannedFile`: :func:`scan_file` streams any file through a
hashing reader, block by block; :func:`scan_file_fast`, for the small files that are most of a
raw archive, reads the whole file with one system call, hashes it in one pass and decodes the
header through the card cache. Both walk the HDUs with the same functions, so a file is
accepted or refused for the same reason by either.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcdc_kernel.frames.card_cache import extract_keywords_cached
from hcdc_kernel.frames.header_io import (
    SIZE_KEYWORDS,
    ByteStream,
    FitsFormatError,
    data_bytes,
    decompressed_bytes,
    extract_keywords,
    read_extension_header,
    read_header_bytes,
    skip_data_unit,
)
from hcdc_kernel.frames.info import WANTED_KEYWORDS, FrameInfo, frame_info_from_header
from hcdc_server.services.fits_checks import (
    FileLimits,
    check_dates,
    check_header_bytes,
    check_storable,
)

INGEST_KEYWORDS = WANTED_KEYWORDS | SIZE_KEYWORDS
CHUNK = 1 << 20
#: Files up to this size are read whole by :func:`scan_file_fast`; larger ones are streamed.
SMALL_FILE_BYTES = 8 << 20

Extractor = Callable[[bytes, frozenset[str]], dict[str, Any]]


@dataclass(frozen=True)
class ScannedFile:
    """A readable FITS file ready to be stored."""

    path: Path
    size: int
    checksum: str
    info: FrameInfo
    extensions: int


class _HashingReader:
    """A binary stream that feeds every byte read to a digest and counts them."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int, /) -> bytes:
        data = self._stream.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def read_rest(self) -> None:
        while self.read(CHUNK):
            pass


def scan_file(path: Path, limits: FileLimits) -> ScannedFile:
    """Read a file's headers and checksum; raise FitsFormatError/OSError naming the problem.

    Every HDU's header is read (its data unit only read past) so that the extensions are
    counted once, here, and the data's decompressed size is known before anyone loads it;
    a file beyond ``limits`` is refused with :class:`FitsLimitError`.
    """
    if not stat.S_ISREG(path.stat().st_mode):
        # A FIFO or a device would block or never end; only regular files are data files.
        raise FitsFormatError("not a regular file")
    with path.open("rb") as raw:
        stream = _HashingReader(raw)
        keywords, extensions = _walk(stream, limits, extract_keywords)
        stream.read_rest()
    return _scanned(path, keywords, extensions, stream.size, stream.digest.hexdigest())


def scan_file_fast(path: Path, limits: FileLimits) -> ScannedFile:
    """:func:`scan_file` with one read and one hash per small file, and cached card decoding."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as raw:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FitsFormatError("not a regular file")
        if info.st_size > SMALL_FILE_BYTES:
            stream = _HashingReader(raw)
            keywords, extensions = _walk(stream, limits, extract_keywords_cached)
            stream.read_rest()
            size, checksum = stream.size, stream.digest.hexdigest()
        else:
            content = raw.read()
            keywords, extensions = _walk(io.BytesIO(content), limits, extract_keywords_cached)
            size, checksum = len(content), hashlib.sha256(content).hexdigest()
    return _scanned(path, keywords, extensions, size, checksum)


def _walk(stream: ByteStream, limits: FileLimits, extract: Extractor) -> tuple[dict[str, Any], int]:
    """The primary header's keywords and the number of extensions, checking the limits."""
    header = read_header_bytes(stream)
    check_header_bytes(header)
    keywords = extract(header, INGEST_KEYWORDS)
    skip_data_unit(stream, data_bytes(keywords))
    decompressed = decompressed_bytes(keywords)
    limits.check_decompressed(decompressed, 0)
    extensions = 0
    while (extension := read_extension_header(stream)) is not None:
        extensions += 1
        limits.check_extensions(extensions)
        sizes = extract(extension, SIZE_KEYWORDS)
        skip_data_unit(stream, data_bytes(sizes))
        decompressed += decompressed_bytes(sizes)
        limits.check_decompressed(decompressed, extensions)
    return keywords, extensions


def _scanned(
    path: Path, keywords: dict[str, Any], extensions: int, size: int, checksum: str
) -> ScannedFile:
    check_dates(keywords)
    info = frame_info_from_header(keywords)
    check_storable(info)
    return ScannedFile(path=path, size=size, checksum=checksum, info=info, extensions=extensions)
