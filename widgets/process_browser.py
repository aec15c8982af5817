"""ProcessBrowser: the seed's Process Browse table, Info panel, raw inputs and actions.

Actions are the seed's buttons: Accept, Reject, To Reprocess (with a comment), Launch (run again
with edited parameters) and Download SOF. The table follows the service by itself (``live``, on
by default): new processes appear and running ones move on without a click; a cache hit says
which process's result it reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import traitlets

from hcdc_kernel.client import PROCESS_COLUMNS, HcdcClient, Process, connect
from hcdc_kernel.client.filters import browse_filters
from hcdc_kernel.enums import ACTIVE_STATUSES, ProcessStatus
from hcdc_widgets.conditions_panel import ConditionsPanel
from hcdc_widgets.live import Poller
from hcdc_widgets.markup import data_link, format_html, pre, table
from hcdc_widgets.schema_form import ParamForm
from hcdc_widgets.status import StatusLine
from hcdc_widgets.table import PagedTable

__all__ = ["INFO_FIELDS", "ProcessBrowser", "info_rows"]

_WIDTHS = {
    "id": 6,
    "batch_id": 6,
    "process_date": 16,
    "obs_night_date": 10,
    "recipe_name": 18,
    "pipeline_version": 8,
    "user": 12,
    "prog_id": 14,
    "reference": 18,
    "progress": 5,
    "process_status": 18,
    "process_validation_status": 12,
}
_LABELS = {
    "id": "ID",
    "batch_id": "Batch",
    "process_date": "Process date",
    "obs_night_date": "Obs. night",
    "recipe_name": "Recipe",
    "pipeline_version": "Version",
    "user": "User",
    "prog_id": "Prog. ID",
    "reference": "Reference",
    "progress": "Prog.",
    "process_status": "Status",
    "process_validation_status": "Validation",
}


def _duration(seconds: Any) -> str:
    if seconds is None:
        return ""
    total = round(abs(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs:02d}s"


def _estimated(info: Mapping[str, Any]) -> str:
    text = _duration(info.get("estimated_duration_s"))
    faster = info.get("faster_by_s")
    if text and faster is not None:
        text += f" ({_duration(faster)} {'faster' if faster >= 0 else 'slower'})"
    return text


#: The seed's Info panel: label -> how to read it from the process detail.
INFO_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Process ID", lambda i: i.get("id")),
    ("Reference", lambda i: i.get("reference")),
    ("Status", lambda i: i.get("status")),
    ("Validation status", lambda i: i.get("validation_status")),
    ("Start", lambda i: i.get("start")),
    ("End", lambda i: i.get("end")),
    ("Duration", lambda i: _duration(i.get("duration_s"))),
    ("Estimated duration", _estimated),
    ("Progress", lambda i: f"{float(i.get('progress') or 0):.0f}%"),
    ("Reused", lambda i: reused_text(i)),
    ("Server", lambda i: i.get("server")),
    ("Observation night", lambda i: i.get("obs_night")),
    ("Observation date", lambda i: i.get("obs_date")),
    ("Observation ID", lambda i: i.get("obs_id")),
    ("Program ID", lambda i: i.get("prog_id")),
    ("Recipe name", lambda i: i.get("recipe_name")),
    ("Pipeline version", lambda i: i.get("pipeline_version")),
    ("User", lambda i: i.get("user")),
)


def reused_text(info: Mapping[str, Any]) -> str | None:
    """``reused the result of process N`` for a cache hit, else ``None``."""
    source = info.get("cache_of_id")
    return None if source is None else f"reused the result of process {source}"


def info_rows(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The Info panel's (label, text) pairs for a process detail."""
    rows = []
    for label, read in INFO_FIELDS:
        value = read(info)
        rows.append((label, "" if value is None else str(value)))
    return rows


class ProcessBrowser(w.VBox):
    """Browse processes, read their Info panel and inputs, validate and re-run them.

    Attributes (traitlets)
    ----------------------
    filters : dict
        Filters of the table (seed process filter names).
    selected_ids : list of int
        Selected processes; the Info panel shows the first.
    process_id : int or None
        The process in the Info panel.
    """

    filters = traitlets.Dict()
    selected_ids = traitlets.List(traitlets.Int())
    process_id = traitlets.Int(None, allow_none=True)

    def __init__(
        self,
        client: HcdcClient | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        page_size: int = 20,
        live: bool = True,
        poll_s: float = 2.0,
    ) -> None:
        self.client = client or connect()
        self.status = StatusLine()
        self.process: Process | None = None
        self._status_filter = w.Dropdown(
            options=["", *(status.value for status in ProcessStatus)],
            description="Status",
        )
        self._recipe_filter = w.Text(description="Recipe", placeholder="* wildcard")
        self._need_validation = w.Checkbox(description="Needs validation", indent=False)
        self._mine = w.Checkbox(description="Mine only", indent=False)
        self._search = w.Button(description="Search", button_style="primary", icon="search")
        self.table = PagedTable(
            PROCESS_COLUMNS,
            fetch=self._fetch,
            widths=_WIDTHS,
            labels=_LABELS,
            page_size=page_size,
        )
        self._info = w.HTML()
        self._inputs = w.HTML(layout=w.Layout(max_height="240px", overflow="auto"))
        self._comment = w.Text(description="Comment", layout=w.Layout(width="420px"))
        self._accept = w.Button(description="Accept", button_style="success")
        self._reject = w.Button(description="Reject", button_style="danger")
        self._to_reprocess = w.Button(description="To Reprocess", button_style="warning")
        self._launch = w.Button(description="Launch", icon="play")
        self._sof = w.Button(description="Download SOF", icon="download")
        self._progress = w.FloatProgress(min=0.0, max=100.0, description="Progress")
        self.form = ParamForm()
        self._launch_box = w.VBox()
        self._sof_box = w.HTML()
        self.conditions = ConditionsPanel(self.client)
        panel = w.Tab(children=[self._info, self._inputs, self.conditions])
        panel.set_title(0, "Info")
        panel.set_title(1, "Raw Inputs")
        panel.set_title(2, "Conditions")
        super().__init__(
            [
                w.HTML("<b>Process browse</b>"),
                w.HBox([self._status_filter, self._recipe_filter]),
                w.HBox([self._need_validation, self._mine, self._search]),
                self.status,
                self.table,
                panel,
                self._progress,
                self._comment,
                w.HBox([self._accept, self._reject, self._to_reprocess, self._launch, self._sof]),
                self._launch_box,
                self._sof_box,
            ]
        )
        self.add_class("hcdc-process-browser")
        self._search.on_click(lambda _: self.status.run(self.search))
        self._accept.on_click(lambda _: self.status.run(self.accept))
        self._reject.on_click(lambda _: self.status.run(self.reject))
        self._to_reprocess.on_click(lambda _: self.status.run(self.to_reprocess))
        self._launch.on_click(lambda _: self.status.run(self.edit_and_launch))
        self._sof.on_click(lambda _: self.status.run(self.download_sof))
        self.table.observe(self._on_selection, "selected_ids")
        self._extra_filters = dict(filters or {})
        self._poller = Poller(self._poll, interval_s=poll_s, name="hcdc-process-poll")
        self._seen: tuple[int, int | None] | None = None
        self.status.run(self.search)
        if live:
            self.start_live(poll_s=poll_s)

    # -- table ---------------------------------------------------------------------------------

    def form_filters(self) -> dict[str, Any]:
        """The filters the controls hold now."""
        chosen: dict[str, Any] = dict(self._extra_filters)
        if self._status_filter.value:
            chosen["PROCESS_STATUS"] = self._status_filter.value
        if self._recipe_filter.value.strip():
            chosen["RECIPE_NAME"] = self._recipe_filter.value.strip()
        if self._need_validation.value:
            chosen["FILTER_PROCESS_NEED_VALIDATION"] = True
        if self._mine.value:
            chosen["FILTER_RESTRICT_USER"] = True
        return browse_filters(chosen)

    def search(self) -> None:
        """Apply the filters (page 1)."""
        self.filters = self.form_filters()
        self.table.page = 1
        self.table.refresh()
        self.status.say(f"{self.table.total} processes")

    def set_filter(self, name: str, value: Any) -> None:
        """Set a filter by its seed name (``None`` removes it); call :meth:`search` after."""
        key = name.upper()
        controls = {"PROCESS_STATUS": self._status_filter, "RECIPE_NAME": self._recipe_filter}
        if key in controls:
            controls[key].value = value or ""
        elif key == "FILTER_PROCESS_NEED_VALIDATION":
            self._need_validation.value = bool(value)
        elif key == "FILTER_RESTRICT_USER":
            self._mine.value = bool(value)
        elif value is None:
            self._extra_filters.pop(key, None)
        else:
            self._extra_filters[key] = value

    def _fetch(self, page: int, size: int, sort: str) -> tuple[list[dict[str, Any]], int]:
        filters = dict(self.filters)
        reply = self.client.browse(
            "processes", browse_filters=filters, page=page, limit=size, sort=sort
        )
        total = self.client.browse("processes", browse_filters=filters, count=True)
        return list(reply["items"]), int(total["count"])

    def select(self, process_id: int) -> None:
        """Select a process of the current page (the Info panel shows it)."""
        self.table.select([process_id])

    def _on_selection(self, change: Mapping[str, Any]) -> None:
        self.selected_ids = list(change["new"])
        if self.selected_ids:
            self.status.run(lambda: self.show(self.selected_ids[0]))

    # -- info panel ----------------------------------------------------------------------------

    def show(self, process_id: int) -> Process:
        """Show ``process_id`` in the Info panel and the raw inputs table."""
        self.process = self.client.process(process_id)
        self.process_id = self.process.id
        self._render()
        self.conditions.show(self.process.id)
        return self.process

    def _render(self) -> None:
        if self.process is None:
            return
        info = self.process.info
        self._info.value = table((format_html("<b>{}:</b>", k), v) for k, v in info_rows(info))
        inputs = self.process.inputs
        columns = [
            c
            for c in (
                "data_file_id",
                "file_name",
                "frame_type",
                "ra",
                "dec",
                "size",
                "obs_night",
                "sof_tag",
            )
            if c in inputs.colnames
        ]
        self._inputs.value = table(([row[c] for c in columns] for row in inputs), header=columns)
        self._progress.value = self.process.progress
        status = self.process.status
        styles = {ProcessStatus.DONE: "success", ProcessStatus.ERROR: "danger"}
        self._progress.bar_style = styles.get(status, "info")
        # Any run that went to its end can be labelled, whether its recipe asks for it or not.
        for button in (self._accept, self._reject, self._to_reprocess):
            button.disabled = not self.process.labellable

    def refresh(self) -> None:
        """Re-read the table page and the shown process (live progress uses this)."""
        self.table.refresh()
        if self.process is not None:
            self.process.refresh()
            self._render()

    def start_live(self, *, poll_s: float | None = None) -> None:
        """Follow the service every ``poll_s`` seconds (default: the constructor's)."""
        if poll_s is not None:
            self._poller.interval_s = poll_s
        self._poller.start()

    def stop_live(self) -> None:
        """Stop the background refresh."""
        self._poller.stop()

    @property
    def live(self) -> bool:
        """Whether the browser follows the service by itself."""
        return self._poller.running

    def _newest(self) -> tuple[int, int | None]:
        """(count, newest id) of the processes the filters match: changes when one is added."""
        filters = dict(self.filters)
        count = int(self.client.browse("processes", browse_filters=filters, count=True)["count"])
        first = self.client.browse(
            "processes", browse_filters=filters, page=1, limit=1, sort="id DESC"
        )["items"]
        return count, (int(first[0]["id"]) if first else None)

    def _poll(self) -> bool:
        """One tick of the live view: refresh when processes were added or are moving."""
        shown = {row.get("process_status") for row in self.table.items}
        moving = bool(shown & ACTIVE_STATUSES) or bool(
            self.process and self.process.status in ACTIVE_STATUSES
        )
        newest = self._newest()
        if moving or newest != self._seen:
            self._seen = newest
            self.status.run(self.refresh)
        return True

    # -- actions -------------------------------------------------------------------------------

    def _current(self) -> Process:
        if self.process is None:
            raise ValueError("select a process first")
        return self.process

    def _comment_text(self, *, required: bool) -> str | None:
        text = self._comment.value.strip()
        if required and not text:
            raise ValueError("say why in the comment")
        return text or None

    def set_comment(self, text: str) -> None:
        """The comment sent with the next validation."""
        self._comment.value = text

    def _after_validation(self, verb: str) -> None:
        self._comment.value = ""
        self._render()
        self.table.refresh()
        self.status.say(f"process {self._current().id} {verb}")

    def accept(self) -> None:
        """Accept the shown process (validation ``valid``)."""
        self._current().accept(self._comment_text(required=False))
        self._after_validation("accepted")

    def reject(self) -> None:
        """Reject the shown process; the comment says why."""
        self._current().reject(self._comment_text(required=True) or "")
        self._after_validation("rejected")

    def to_reprocess(self) -> None:
        """Mark the shown process to reprocess; the comment says why."""
        self._current().to_reprocess(self._comment_text(required=True) or "")
        self._after_validation("marked to reprocess")

    def edit_and_launch(self) -> None:
        """Open the parameter form of the shown process, filled with its parameters."""
        process = self._current()
        recipe = self.client.recipe(str(process.info["recipe_name"]))
        self.form.set_schema(recipe.params_schema)
        known = {k: v for k, v in process.info.get("params", {}).items() if k in self.form.fields}
        self.form.set_values(known)
        run = w.Button(description="Run again", button_style="success", icon="play")
        run.on_click(lambda _: self.status.run(self.relaunch))
        self._launch_box.children = [w.HTML("<b>Parameters of the new run</b>"), self.form, run]

    def relaunch(self, params: Mapping[str, Any] | None = None) -> Process:
        """Run the shown process again with ``params`` (default: the form's values)."""
        new = self._current().reprocess(params=dict(params or self.form.values))
        self._launch_box.children = ()
        self.table.refresh()
        self.status.say(f"process {new.id} launched (re-run of {self._current().id})")
        return new

    def download_sof(self) -> str:
        """The SOF of the shown process, offered as a download link."""
        text = self._current().sof()
        name = f"process-{self._current().id}.sof"
        self._sof_box.value = format_html(
            "{}{}",
            data_link(name, "text/plain", text.encode(), text=f"Save {name}"),
            pre(text, style="font-size:11px"),
        )
        return text
