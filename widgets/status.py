"""A status line shared by the widgets: what happened last, or the server's error message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as w

from hcdc_kernel.client import HcdcError
from hcdc_widgets.markup import format_html

__all__ = ["StatusLine"]

T = TypeVar("T")


class StatusLine(w.HTML):
    """One line of text; errors in red. ``run`` calls an action and reports its failure."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("hcdc-status")

    def say(self, text: str) -> None:
        """Show ``text``."""
        self.value = format_html("<span>{}</span>", text)

    def error(self, text: str) -> None:
        """Show ``text`` as an error."""
        self.value = format_html('<span style="color:#b00020">{}</span>', text)

    def run(self, action: Callable[[], T]) -> T | None:
        """Call ``action``; an hcdc error (or a bad value) is shown rather than raised.

        Button callbacks go through here, so a refused request leaves the page usable and
        says why; the public methods themselves raise, for scripts and tests.
        """
        try:
            return action()
        except (HcdcError, ValueError, KeyError) as exc:
            self.error(str(exc))
            return None
