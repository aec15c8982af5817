"""A small in-process cache whose entries die after a few seconds or at the next change stamp.

Used for facts every request needs and that rarely change: a checked token with its user's
workspaces, a recipe's spec. An entry is valid while it is younger than ``ttl_s``, its own
deadline (a token's expiry) has not passed, and the topic's change stamp
(:class:`~hcdc_server.storage.changes.ChangeStamps`) is the one it was made under; so a
revocation written by any process is seen on the next request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from hcdc_server.storage.changes import ChangeStamps, Stamp

V = TypeVar("V")


class StampedCache(Generic[V]):
    """Least-recently-used entries of one topic, each valid under its change stamp."""

    def __init__(
        self, stamps: ChangeStamps, topic: str, *, ttl_s: float, max_entries: int = 4096
    ) -> None:
        self._stamps = stamps
        self._topic = topic
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[Hashable, tuple[V, float, datetime | None, Stamp]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def get_or_load(
        self,
        key: Hashable,
        load: Callable[[], tuple[V, datetime | None]],
        *,
        now: Callable[[], datetime],
    ) -> V:
        """The cached value of ``key``, else ``load()``'s (value, deadline), then cached.

        The stamp is read before loading: a change committed while loading leaves an entry
        under the old stamp, which the next read refuses.
        """
        if not self.enabled:
            return load()[0]
        stamp = self._stamps.stamp(self._topic)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                value, born, deadline, made_under = entry
                fresh = time.monotonic() - born < self._ttl_s
                if fresh and made_under == stamp and (deadline is None or deadline > now()):
                    self._entries.move_to_end(key)
                    return value
                del self._entries[key]
        value, deadline = load()
        with self._lock:
            self._entries[key] = (value, time.monotonic(), deadline, stamp)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
