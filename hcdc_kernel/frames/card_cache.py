"""Header keywords through a cache of decoded cards: the ingest hot path.

Frames of one instrument repeat most of their header cards byte for byte (instrument set-up,
detector, telescope), so each distinct 80-character card is decoded once per process and every
later occurrence costs a dictionary look-up. The decode of a card not seen yet is exactly
:func:`~hcdc_kernel.frames.header_io.extract_keywords`'s (same keyword naming, same value
parser, same astropy fallback), so the values are the same; headers with CONTINUE cards, whose
values span several cards, go to that function whole.
"""

from __future__ import annotations

import re
from typing import Any, Final

from astropy.io import fits

from hcdc_kernel.frames.header_io import (
    CARD,
    _NeedAstropyError,
    _parse_value,
    extract_keywords,
)

#: Cards kept per process; past it the cache starts over (about 25 MB at most).
MAX_CACHED_CARDS = 100_000

_END: Final = object()  # the value of the END card (which has no keyword)
_UNPARSED: Final = object()  # value not decoded yet (the keyword was not wanted so far)
_CARDS = re.compile(f".{{{CARD}}}", re.DOTALL)

#: card text -> (keyword, value or _UNPARSED); keyword None: commentary, or END (value _END)
_cache: dict[str, tuple[str | None, Any]] = {}


def extract_keywords_cached(raw: bytes, wanted: frozenset[str]) -> dict[str, Any]:
    """The ``wanted`` keywords of header blocks, as :func:`extract_keywords` answers them."""
    text = raw.decode("latin-1")
    if "CONTINUE" in text:
        return extract_keywords(raw, wanted)
    if len(_cache) > MAX_CACHED_CARDS:
        _cache.clear()
    values: dict[str, Any] = {}
    cards = _CARDS.findall(text)
    for card, entry in zip(cards, map(_cache.get, cards), strict=True):
        if entry is None:
            entry = _cache[card] = _decode(card, wanted)
        keyword, value = entry
        if keyword is None:
            if value is _END:
                break
            continue
        if keyword in wanted and keyword not in values:
            if value is _UNPARSED:
                entry = _cache[card] = _decode(card, wanted)
                value = entry[1]
            values[keyword] = value
    return values


def _decode(card: str, wanted: frozenset[str]) -> tuple[str | None, Any]:
    key8 = card[:8]
    if key8 == "HIERARCH":
        eq = card.find("=", 9)
        if eq < 0:
            return None, None
        keyword = card[9:eq].rstrip()
        field = card[eq + 1 :]
    elif key8 == "END     ":
        return None, _END
    elif card[8:10] == "= ":
        keyword = key8.rstrip()
        field = card[10:]
    else:
        return None, None  # COMMENT, HISTORY, blank: no value
    if keyword not in wanted:
        return keyword, _UNPARSED
    try:
        return keyword, _parse_value(field)
    except _NeedAstropyError:
        return keyword, fits.Card.fromstring(card).value
