"""A paged, sortable table of browse items with a row selection (ipywidgets only).

Rows are shown as fixed-width text lines in a multiple-selection list: clickable and selectable
in any front end (JupyterLab, Voila) without a grid extension. The owner supplies ``fetch``,
which returns one page of items and the total.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as w
import traitlets

from hcdc_widgets.markup import format_html

__all__ = ["PageFetcher", "PagedTable", "format_cell"]

#: ``fetch(page, page_size, sort) -> (items, total)``.
PageFetcher = Callable[[int, int, str], tuple[list[dict[str, Any]], int]]

_STYLE = """<style>
.hcdc-table select, .hcdc-table pre { font-family: monospace; font-size: 12px; }
.hcdc-table pre { margin: 0 0 0 4px; white-space: pre; overflow-x: hidden; }
</style>"""


def format_cell(value: Any, width: int) -> str:
    """``value`` as text cut or padded to ``width`` characters."""
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value).replace("T", " ", 1) if _looks_like_datetime(value) else str(value)
    if len(text) > width:
        text = text[: max(width - 1, 0)] + "…"
    return text.ljust(width)


def _looks_like_datetime(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 16 and value[4] == "-" and value[10] == "T"


class PagedTable(w.VBox):
    """Items of one browse query, a page at a time.

    Attributes (traitlets)
    ----------------------
    page, page_size, total : int
    sort : str
        ``"<key> ASC|DESC"``.
    items : list of dict
        The page shown.
    selected_ids : list of int
        Ids of the selected rows (set it to select rows).
    """

    page = traitlets.Int(1)
    page_size = traitlets.Int(20)
    total = traitlets.Int(0)
    sort = traitlets.Unicode("id DESC")
    items = traitlets.List(traitlets.Dict())
    selected_ids = traitlets.List(traitlets.Int())

    def __init__(
        self,
        columns: Sequence[str],
        *,
        fetch: PageFetcher,
        widths: Mapping[str, int] | None = None,
        labels: Mapping[str, str] | None = None,
        page_size: int = 20,
        sort: str = "id DESC",
    ) -> None:
        self.columns = list(columns)
        self.widths = {c: (widths or {}).get(c, 12) for c in self.columns}
        self.labels = dict(labels or {})
        self._fetch = fetch
        self._header = w.HTML()
        self._rows = w.SelectMultiple(options=[], rows=page_size, layout=w.Layout(width="100%"))
        self._sort_key = w.Dropdown(
            options=[(self.labels.get(c, c), c) for c in self.columns],
            value=sort.split()[0],
            description="Sort by",
            layout=w.Layout(width="260px"),
        )
        self._sort_order = w.ToggleButtons(
            options=["DESC", "ASC"], value=sort.split()[-1].upper(), style={"button_width": "60px"}
        )
        self._prev = w.Button(description="◀ Prev", layout=w.Layout(width="80px"))
        self._next = w.Button(description="Next ▶", layout=w.Layout(width="80px"))
        self._page_label = w.Label()
        self._size = w.Dropdown(
            options=[10, 20, 50, 100],
            value=page_size if page_size in (10, 20, 50, 100) else 20,
            description="Rows",
            layout=w.Layout(width="140px"),
        )
        controls = w.HBox(
            [self._prev, self._page_label, self._next, self._size, self._sort_key, self._sort_order]
        )
        super().__init__([w.HTML(_STYLE), controls, self._header, self._rows])
        self.add_class("hcdc-table")
        self.page_size = self._size.value
        self.sort = sort
        self._prev.on_click(lambda _: self.go_to(self.page - 1))
        self._next.on_click(lambda _: self.go_to(self.page + 1))
        self._size.observe(lambda c: self.set_page_size(c["new"]), "value")
        self._sort_key.observe(lambda _: self.sort_by(self._sort_key.value), "value")
        self._sort_order.observe(lambda _: self.sort_by(self._sort_key.value), "value")
        self._rows.observe(self._on_rows, "value")
        self._header.value = self._header_html()

    # -- public --------------------------------------------------------------------------------

    @property
    def pages(self) -> int:
        """Number of pages (at least one)."""
        return max(1, math.ceil(self.total / self.page_size))

    def refresh(self) -> None:
        """Fetch the current page again."""
        items, total = self._fetch(self.page, self.page_size, self.sort)
        self.total = total
        self.items = items
        keep = [i for i in self.selected_ids if any(row.get("id") == i for row in items)]
        self._rows.options = [(self._line(row), int(row["id"])) for row in items]
        self._rows.rows = max(3, min(self.page_size, len(items)))
        self._rows.value = tuple(keep)
        self._page_label.value = f"page {self.page} / {self.pages} ({self.total} rows)"
        self._prev.disabled = self.page <= 1
        self._next.disabled = self.page >= self.pages

    def go_to(self, page: int) -> None:
        """Show ``page`` (clamped to the existing pages)."""
        self.page = min(max(1, page), self.pages)
        self.refresh()

    def sort_by(self, key: str, order: str | None = None) -> None:
        """Sort by item ``key`` (``order`` ``ASC`` or ``DESC``; default: the toggle's)."""
        if order is not None:
            self._sort_order.value = order.upper()
        if self._sort_key.value != key:
            self._sort_key.value = key
        self.sort = f"{key} {self._sort_order.value}"
        self.page = 1
        self.refresh()

    def set_page_size(self, size: int) -> None:
        """Show ``size`` rows per page (back to page 1)."""
        self.page_size = int(size)
        self.page = 1
        self.refresh()

    def select(self, ids: Sequence[int]) -> None:
        """Select the rows of ``ids`` that are on the page."""
        shown = {value for _, value in self._rows.options}
        self._rows.value = tuple(int(i) for i in ids if int(i) in shown)

    def row(self, item_id: int) -> dict[str, Any] | None:
        """The item of ``item_id`` on this page, if shown."""
        return next((row for row in self.items if row.get("id") == item_id), None)

    # -- rendering -----------------------------------------------------------------------------

    def _line(self, row: Mapping[str, Any]) -> str:
        # Option labels collapse runs of spaces: non-breaking ones keep the columns aligned.
        line = " ".join(format_cell(row.get(c), self.widths[c]) for c in self.columns)
        return line.replace(" ", "\u00a0")

    def _header_html(self) -> str:
        text = " ".join(format_cell(self.labels.get(c, c), self.widths[c]) for c in self.columns)
        return format_html("<pre><b>{}</b></pre>", text)

    def _on_rows(self, change: Mapping[str, Any]) -> None:
        self.selected_ids = [int(v) for v in change["new"]]
