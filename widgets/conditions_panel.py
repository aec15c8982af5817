"""Conditions panel: seeing, tau0 and Strehl across a process's sequence, frames marked.

The panel draws the stored time series (AO telemetry from SPARTA, the site monitor's MASS-DIMM)
over the span of the process's science exposures, one small bqplot figure per parameter, each
exposure marked at the middle of its window with its mean value; a line above sums up the
aggregate the process carries (what the browse filters SEEING, TAU0 and STREHL select on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bqplot as bq
import ipywidgets as w
import numpy as np
import traitlets

from hcdc_kernel.client import HcdcClient
from hcdc_kernel.client.errors import HcdcError
from hcdc_widgets.markup import format_html, join

__all__ = ["PANEL_PARAMETERS", "ConditionsPanel"]

#: Drawn parameters: (key, axis label, factor to the drawn unit).
PANEL_PARAMETERS: tuple[tuple[str, str, float], ...] = (
    ("seeing", "seeing (arcsec)", 1.0),
    ("tau0", "tau0 (ms)", 1000.0),
    ("strehl", "Strehl", 1.0),
)
_COLOURS = {"sparta": "#1f77b4", "site": "#ff7f0e", "header": "#7f7f7f"}


def _times(values: Sequence[str]) -> np.ndarray:
    return np.array(
        [np.datetime64(str(v).replace("Z", "")) for v in values], dtype="datetime64[ms]"
    )


class ConditionsPanel(w.VBox):
    """A process's observing conditions (call :meth:`show`, or :meth:`set_conditions` with
    what ``HcdcClient.conditions`` returns).

    Attributes (traitlets)
    ----------------------
    process_id : int or None
        The process shown.
    conditions : dict
        The conditions shown (the API's ``/api/processes/{id}/conditions`` body).
    """

    process_id = traitlets.Int(None, allow_none=True)
    conditions = traitlets.Dict()

    def __init__(self, client: HcdcClient | None = None, *, height_px: int = 150) -> None:
        self.client = client
        self.summary = w.HTML()
        self.figures: dict[str, bq.Figure] = {}
        self.lines: dict[str, dict[str, bq.Lines]] = {}
        self.frames: dict[str, bq.Scatter] = {}
        for key, label, _ in PANEL_PARAMETERS:
            x, y = bq.DateScale(), bq.LinearScale()
            marks = bq.Scatter(
                x=np.array([], dtype="datetime64[ms]"),
                y=np.array([]),
                scales={"x": x, "y": y},
                colors=["black"],
                default_size=40,
                marker="diamond",
                labels=["science frames"],
                display_legend=True,
            )
            self.frames[key] = marks
            self.lines[key] = {}
            self.figures[key] = bq.Figure(
                marks=[marks],
                axes=[
                    bq.Axis(scale=x, label="UTC"),
                    bq.Axis(scale=y, orientation="vertical", label=label),
                ],
                layout=w.Layout(height=f"{height_px}px", width="100%"),
                fig_margin={"top": 10, "bottom": 35, "left": 60, "right": 10},
                legend_location="top-right",
            )
        super().__init__([self.summary, *self.figures.values()])
        self.add_class("hcdc-conditions-panel")
        self.observe(self._draw, "conditions")

    def show(self, process_id: int) -> None:
        """Read and draw the conditions of ``process_id`` (a service without conditions, or
        an error, leaves the panel empty with the reason)."""
        if self.client is None:
            raise ValueError("the panel has no client: give one, or call set_conditions")
        self.process_id = int(process_id)
        try:
            self.conditions = self.client.conditions(process_id)
        except HcdcError as exc:
            self.clear(f"conditions unavailable: {exc}")

    def set_conditions(self, conditions: Mapping[str, Any]) -> None:
        """Draw these conditions (as ``HcdcClient.conditions`` returns them)."""
        self.process_id = conditions.get("process_id")
        self.conditions = dict(conditions)

    def clear(self, message: str = "") -> None:
        """Draw nothing, with a message."""
        self.conditions = {}
        self.summary.value = format_html("<i>{}</i>", message) if message else ""

    def _draw(self, change: Mapping[str, Any] | None = None) -> None:
        data = self.conditions
        exposures = data.get("exposures", [])
        middles = [
            _times([e["window_start"]])[0]
            + (_times([e["window_end"]])[0] - _times([e["window_start"]])[0]) / 2
            for e in exposures
            if e.get("window_start") and e.get("window_end")
        ]
        for key, _, factor in PANEL_PARAMETERS:
            figure = self.figures[key]
            lines: list[bq.Lines] = []
            self.lines[key] = {}
            for series in data.get("series", []):
                if series["parameter"] != key:
                    continue
                source = series["source"]
                mark = bq.Lines(
                    x=_times(series["times"]),
                    y=np.asarray(series["values"], dtype=float) * factor,
                    scales=self.frames[key].scales,
                    colors=[_COLOURS.get(source, "#2ca02c")],
                    labels=[source],
                    display_legend=True,
                )
                self.lines[key][source] = mark
                lines.append(mark)
            timed = [e for e in exposures if e.get("window_start") and e.get("window_end")]
            points = [
                (middle, e["values"][key]["mean"] * factor)
                for middle, e in zip(middles, timed, strict=True)
                if key in e.get("values", {})
            ]
            self.frames[key].x = np.array([p[0] for p in points], dtype="datetime64[ms]")
            self.frames[key].y = np.array([p[1] for p in points], dtype=float)
            figure.marks = [*lines, self.frames[key]]
        self.summary.value = self._summary(data)

    @staticmethod
    def _summary(data: Mapping[str, Any]) -> str:
        if not data:
            return ""
        aggregate = data.get("aggregate", {})
        parts = []
        for key, _, factor in PANEL_PARAMETERS:
            value = aggregate.get(key)
            if value is None:
                continue
            spread = f" ± {value['std'] * factor:.3g}" if value.get("std") is not None else ""
            unit = " ms" if key == "tau0" else ('"' if key == "seeing" else "")
            parts.append(
                format_html(
                    "<b>{}</b> {}{}{} ({})",
                    key,
                    f"{value['mean'] * factor:.3g}",
                    spread,
                    unit,
                    value["source"],
                )
            )
        n = len(data.get("exposures", []))
        if not parts:
            return format_html("<i>no conditions known for process {}</i>", data.get("process_id"))
        return join(" · ", parts) + format_html(" — {} science exposure(s)", n)
