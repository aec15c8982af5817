"""Background polling for widgets that follow the service by themselves.

One daemon thread per widget calls ``tick`` every ``interval_s`` seconds until ``tick`` returns
``False`` or :meth:`Poller.stop` is called. Widgets update their traitlets from that thread;
ipywidgets sends the changes to the page (JupyterLab and Voila) as it does for a button click.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Poller"]

_log = logging.getLogger(__name__)


class Poller:
    """Call ``tick`` every ``interval_s`` seconds in a daemon thread.

    Parameters
    ----------
    tick
        Called from the thread; returns ``True`` to go on, ``False`` to stop. An exception
        stops nothing: the widget's status line shows it (``StatusLine.run``) and the next
        tick tries again, so a service restart does not end the following.
    interval_s
        Seconds between two ticks.
    name
        Thread name (shown by debuggers and ``threading.enumerate``).
    """

    def __init__(
        self, tick: Callable[[], bool], *, interval_s: float = 2.0, name: str = "hcdc-poll"
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self._tick = tick
        self.interval_s = interval_s
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling (no-op while already polling)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                if not self._tick():
                    return
            except Exception:
                # A failed tick (service restarting, network blip) is retried at the next one.
                _log.debug("%s: tick failed", self._name, exc_info=True)
