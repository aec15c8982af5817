"""Header keywords through a cache of decoded cards: the ingest hot path.

Frames of one instrument repeat most of their header cards byte for byte (instrument set-up,
detector, telescope), so each distinct 80-character card is decoded once per process (and set
of wanted keywords) and every later occurrence costs a dictionary look-up; the cards are split
by numpy and looked up with ``map``, so a header costs few Python-level steps. The decode of a
card not seen yet is exactly :func:`~hcdc_kernel.frames.header_io.extract_keywords`'s (same
keyword naming, same value parser, same astropy fallback), so the values are the same; headers
with CONTINUE cards (values spanning cards) or NUL bytes go to that function whole.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from astropy.io import fits

from hcdc_kernel.frames.header_io import (
    CARD,
    _NeedAstropyError,
    _parse_value,
    extract_keywords,
)

#: Cards kept per process and keyword set; past it the cache starts over (about 25 MB at most).
MAX_CACHED_CARDS = 100_000

_END_CARD: Final = b"END" + b" " * 77
_NOTHING: Final = ()  # a card whose keyword is not wanted, or has no value: falsy, skipped
_STOP: Final = ("END", None)  # a card starting with END that is not the blank END card

#: keyword set -> card bytes -> (keyword, value), _NOTHING or _STOP
_caches: dict[frozenset[str], dict[bytes, tuple[str, Any] | tuple[()]]] = {}
_stops_seen = False  # whether any cached card is _STOP (then every header is checked for one)


def extract_keywords_cached(raw: bytes, wanted: frozenset[str]) -> dict[str, Any]:
    """The ``wanted`` keywords of header blocks, as :func:`extract_keywords` answers them."""
    global _stops_seen
    if b"CONTINUE" in raw or b"\0" in raw:
        # CONTINUE values span cards; NUL bytes would be lost by the fixed-width split below.
        return extract_keywords(raw, wanted)
    cache = _caches.setdefault(wanted, {})
    if len(cache) > MAX_CACHED_CARDS:
        cache.clear()
    end = _end_card(raw)
    # The cards before END, split in C (a numpy view of fixed-width byte strings).
    cards: list[bytes] = np.frombuffer(raw, dtype=f"S{CARD}", count=end // CARD).tolist()
    entries = list(map(cache.get, cards))
    if None in entries:
        for index, entry in enumerate(entries):
            if entry is None:
                entries[index] = cache[cards[index]] = _decode(cards[index], wanted)
                _stops_seen = _stops_seen or entries[index] is _STOP
    if _stops_seen:
        # By identity: a HIERARCH card may well decode to an equal tuple.
        stop = next((i for i, entry in enumerate(entries) if entry is _STOP), None)
        entries = entries[:stop]
    # Reversed, so that the first card of a repeated keyword is the one kept.
    return dict(filter(None, reversed(entries)))  # type: ignore[arg-type]


def _end_card(raw: bytes) -> int:
    """Offset of the first END card (read_header_bytes only returns headers that have one)."""
    index = raw.find(_END_CARD)
    while index >= 0 and index % CARD:
        index = raw.find(_END_CARD, index + 1)
    return index if index >= 0 else len(raw)


def _decode(raw_card: bytes, wanted: frozenset[str]) -> tuple[str, Any] | tuple[()]:
    card = raw_card.decode("latin-1")
    key8 = card[:8]
    if key8 == "HIERARCH":
        eq = card.find("=", 9)
        if eq < 0:
            return _NOTHING
        keyword = card[9:eq].rstrip()
        field = card[eq + 1 :]
    elif key8 == "END     ":
        return _STOP
    elif card[8:10] == "= ":
        keyword = key8.rstrip()
        field = card[10:]
    else:
        return _NOTHING  # COMMENT, HISTORY, blank: no value
    if keyword not in wanted:
        return _NOTHING
    try:
        return keyword, _parse_value(field)
    except _NeedAstropyError:
        return keyword, fits.Card.fromstring(card).value
