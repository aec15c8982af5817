"""ValidationReview: the queue of processes waiting validation, their products and the decision.

A :class:`~hcdc_widgets.ProcessBrowser` restricted to processes ``to_validate`` (filterable by
recipe, night, workspace and target) drives a :class:`ProductPanel` showing the selected
process's final image, S/N map, contrast curve, companion table and log excerpt. Accept, Reject
and To Reprocess (with a comment) are the browser's: the decision is recorded by the server with
who made it, and the queue refreshes without the decided process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import traitlets

from hcdc_kernel.client import HcdcClient, HcdcError, Process, connect
from hcdc_kernel.enums import ValidationStatus
from hcdc_widgets.conditions_panel import ConditionsPanel
from hcdc_widgets.fits_view import ImageView
from hcdc_widgets.image_viewer import ImageViewer
from hcdc_widgets.markup import Markup, pre, table
from hcdc_widgets.plots import contrast_png
from hcdc_widgets.process_browser import ProcessBrowser
from hcdc_widgets.status import StatusLine

__all__ = ["QUEUE_FILTERS", "ProductPanel", "ValidationReview", "contrast_png"]

#: The queue: processes whose validation is pending.
QUEUE_FILTERS: Mapping[str, Any] = {"PROCESS_VALIDATION_STATUS": ValidationStatus.TO_VALIDATE}
_FINAL, _SNR, _CURVE, _COMPANIONS = (
    "HCI_FINAL_IMAGE",
    "HCI_SNR_MAP",
    "HCI_CONTRAST_CURVE",
    "HCI_COMPANION_TABLE",
)


def _table_html(data: Any) -> Markup:
    names = list(data.colnames)
    return table(([_cell(row[n]) for n in names] for row in data), header=names)


def _cell(value: Any) -> str:
    number = getattr(value, "value", value)
    return f"{number:.4g}" if isinstance(number, float) else str(number)


class ProductPanel(w.VBox):
    """The products of one process, side by side, and the end of its log.

    Attributes (traitlets)
    ----------------------
    process_id : int or None
        The process shown.
    shown : list of str
        Product categories found and displayed.
    """

    process_id = traitlets.Int(None, allow_none=True)
    shown = traitlets.List(traitlets.Unicode())

    def __init__(self, client: HcdcClient | None = None, *, log_lines: int = 30) -> None:
        self.client = client or connect()
        self.log_lines = log_lines
        self.final_image = ImageView(width="320px")
        self.snr_map = ImageView(width="320px")
        self.contrast = w.Image(format="png", layout=w.Layout(width="480px"))
        #: The S/N map (or final image) to inspect: zoom, readout, detections marked.
        self.viewer = ImageViewer(size_px=380)
        self.companions = w.HTML()
        #: Seeing, tau0 and Strehl across the sequence: a reviewer judges a contrast by them.
        self.conditions = ConditionsPanel(self.client)
        self.log_view = w.HTML()
        self.status = StatusLine()
        titled = [
            w.VBox([w.HTML("<b>Final image</b>"), self.final_image]),
            w.VBox([w.HTML("<b>S/N map</b>"), self.snr_map]),
            w.VBox([w.HTML("<b>Contrast curve</b>"), self.contrast]),
        ]
        super().__init__(
            [
                w.HTML("<b>Products</b>"),
                self.status,
                w.HBox(titled),
                w.HTML("<b>Inspect</b> (S/N map with the detected companions)"),
                self.viewer,
                w.HTML("<b>Companions</b>"),
                self.companions,
                w.HTML("<b>Observing conditions</b>"),
                self.conditions,
                w.HTML("<b>Log (end)</b>"),
                self.log_view,
            ]
        )
        self.add_class("hcdc-products")

    def show(self, process_id: int | None) -> None:
        """Load and display the products of ``process_id`` (``None`` clears the panel)."""
        self.process_id = process_id
        self.shown = []
        for view in (self.final_image, self.snr_map):
            view.show(None)
        self.contrast.value = b""
        self.companions.value = self.log_view.value = ""
        if process_id is None:
            self.conditions.clear()
            return
        process = self.client.process(process_id)
        self.conditions.show(process_id)
        shown = []
        for category, view in ((_FINAL, self.final_image), (_SNR, self.snr_map)):
            hdu = _product(process, category)
            if hdu is not None:
                view.show(hdu.data, caption=f"process {process_id}")
                shown.append(category)
        curve = _product(process, _CURVE)
        if curve is not None:
            self.contrast.value = contrast_png(curve)
            shown.append(_CURVE)
        companions = _product(process, _COMPANIONS)
        if companions is not None:
            self.companions.value = _table_html(companions.table)
            shown.append(_COMPANIONS)
        else:
            self.companions.value = "<i>no companion table</i>"
        inspected = _product(process, _SNR)
        if inspected is None:
            inspected = _product(process, _FINAL)
        if inspected is not None and getattr(inspected, "data", None) is not None:
            self.viewer.show(inspected.data)
            self.viewer.set_markers(companion_markers(companions))
        self.log_view.value = pre(self._log_tail(process), style="font-size:11px")
        self.shown = shown
        self.status.say(f"process {process_id}: {len(shown)} products")

    def _log_tail(self, process: Process) -> str:
        try:
            lines = process.log().splitlines()
        except HcdcError as exc:
            return f"(log not available: {exc})"
        return "\n".join(lines[-self.log_lines :])


def companion_markers(companions: Any | None) -> list[dict[str, Any]]:
    """Viewer markers (``x``, ``y``, ``label``) for the rows of a companion table."""
    if companions is None:
        return []
    table = companions.table
    if "x" not in table.colnames or "y" not in table.colnames:
        return []
    markers = []
    for index, row in enumerate(table):
        x, y = (getattr(row[c], "value", row[c]) for c in ("x", "y"))
        markers.append({"x": float(x), "y": float(y), "label": f"c{index + 1}"})
    return markers


def _product(process: Process, category: str) -> Any | None:
    try:
        return process.product(category)
    except KeyError:
        return None


class ValidationReview(w.VBox):
    """Validate reductions: the queue, the selected process's products, the decision.

    Attributes (traitlets)
    ----------------------
    process_id : int or None
        The process under review.
    """

    process_id = traitlets.Int(None, allow_none=True)

    def __init__(
        self,
        client: HcdcClient | None = None,
        *,
        page_size: int = 12,
        live: bool = True,
        poll_s: float = 2.0,
    ) -> None:
        self.client = client or connect()
        # Live: processes that come to need validation join the queue without a click.
        self.browser = ProcessBrowser(
            self.client,
            filters=dict(QUEUE_FILTERS),
            page_size=page_size,
            live=live,
            poll_s=poll_s,
        )
        self.products = ProductPanel(self.client)
        self._night = w.Text(description="Night", placeholder="YYYY-MM-DD")
        self._workspace = w.Text(description="Workspace")
        self._target = w.Text(description="Target", placeholder="* wildcard")
        self._apply = w.Button(description="Filter", icon="filter")
        super().__init__(
            [
                w.HTML("<h3>Validation queue</h3>"),
                w.HBox([self._night, self._workspace, self._target, self._apply]),
                self.browser,
                self.products,
            ]
        )
        self.add_class("hcdc-validation")
        self._apply.on_click(lambda _: self.browser.status.run(self.apply_filters))
        self.browser.observe(self._on_process, "process_id")

    def filter(
        self,
        *,
        recipe: str | None = None,
        night: str | None = None,
        workspace: str | None = None,
        target: str | None = None,
    ) -> None:
        """Show the queue for these criteria (``None``: any)."""
        self._night.value = night or ""
        self._workspace.value = workspace or ""
        self._target.value = target or ""
        self.browser.set_filter("RECIPE_NAME", recipe)
        self.apply_filters()

    def apply_filters(self) -> None:
        """Search the queue with the night, workspace and target boxes (and the recipe)."""
        for name, box in (
            ("OBS_NIGHT_DATE", self._night),
            ("WORKSPACE", self._workspace),
            ("TARGET_NAME", self._target),
        ):
            self.browser.set_filter(name, box.value.strip() or None)
        self.browser.search()

    @property
    def queue(self) -> list[int]:
        """Ids of the processes on the queue's current page."""
        return [int(row["id"]) for row in self.browser.table.items]

    def review(self, process_id: int) -> None:
        """Select ``process_id`` in the queue: its products are shown."""
        self.browser.select(process_id)

    def decide(self, verdict: str, comment: str | None = None) -> None:
        """Record ``accept``, ``reject`` or ``to_reprocess`` (the last two need a comment)."""
        self.browser.set_comment(comment or "")
        actions = {
            "accept": self.browser.accept,
            "reject": self.browser.reject,
            "to_reprocess": self.browser.to_reprocess,
        }
        actions[verdict]()

    def _on_process(self, change: Mapping[str, Any]) -> None:
        self.process_id = change["new"]
        self.browser.status.run(lambda: self.products.show(change["new"]))
