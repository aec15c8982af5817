"""ContrastReview: overlay the contrast curves of a target's processes against a reference.

Controls are ipywidgets; the figures are HoloViews (Bokeh) in Panel panes (``plots``), so that
hovering a curve shows its process, algorithm, parameters and pipeline version. The reference's
curve is drawn dashed and every curve's ratio to it is plotted below; the S/N maps sit side by
side. ``export`` writes the overlay as PNG (Matplotlib) and every curve as CSV, offered as links.

The panes are embedded as an ipywidget (jupyter_bokeh), not through Panel's own notebook comms:
Voila has no pyviz lab extension, so those figures would draw once and never redraw. Call
``pn.extension(inline=True)`` first so that it works offline.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
import traitlets

from hcdc_kernel.client import HcdcClient, connect
from hcdc_widgets.markup import data_link, join
from hcdc_widgets.status import StatusLine

__all__ = ["ContrastReview", "CurveEntry", "curves_csv", "ratio_to_reference"]

CURVE = "HCI_CONTRAST_CURVE"
SNR_MAP = "HCI_SNR_MAP"


@dataclass(frozen=True)
class CurveEntry:
    """One process's contrast curve and what the hover shows about it."""

    process_id: int
    label: str
    separation_arcsec: np.ndarray
    contrast: np.ndarray
    algorithm: str
    params: str
    version: str


def ratio_to_reference(entry: CurveEntry, reference: CurveEntry) -> np.ndarray:
    """``entry``'s contrast over the reference's, interpolated at ``entry``'s separations.

    Outside the reference's separations the ratio is NaN (no extrapolation).
    """
    order = np.argsort(reference.separation_arcsec)
    ref = np.interp(
        entry.separation_arcsec,
        reference.separation_arcsec[order],
        reference.contrast[order],
        left=np.nan,
        right=np.nan,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(entry.contrast / ref)


def curves_csv(entries: Sequence[CurveEntry]) -> str:
    """Every curve as CSV rows: process, algorithm, params, version, separation, contrast."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["process_id", "algorithm", "params", "version", "separation_arcsec", "contrast"]
    )
    for entry in entries:
        for sep, value in zip(entry.separation_arcsec, entry.contrast, strict=True):
            writer.writerow(
                [entry.process_id, entry.algorithm, entry.params, entry.version, sep, value]
            )
    return buffer.getvalue()


class ContrastReview(w.VBox):
    """Pick a target and processes, overlay their contrast curves, compare to a reference.

    Attributes (traitlets)
    ----------------------
    target : str
        The target whose processes are offered.
    process_ids : list of int
        The processes compared.
    reference_id : int or None
        The process the others are compared against.
    """

    target = traitlets.Unicode("")
    process_ids = traitlets.List(traitlets.Int())
    reference_id = traitlets.Int(None, allow_none=True)

    def __init__(
        self, client: HcdcClient | None = None, *, height: int = 380, width: int = 860
    ) -> None:
        import panel as pn

        self.client = client or connect()
        self.entries: dict[int, CurveEntry] = {}
        self.snr_maps: dict[int, np.ndarray] = {}
        self.status = StatusLine()
        self._target = w.Dropdown(description="Target", options=[""])
        self._processes = w.SelectMultiple(
            description="Processes", rows=6, layout=w.Layout(width="480px")
        )
        self._reference = w.Dropdown(description="Reference", options=[("", None)])
        self._compare_button = w.Button(
            description="Compare", button_style="primary", icon="line-chart"
        )
        self._export_button = w.Button(description="Export PNG + CSV", icon="download")
        self.downloads = w.HTML()
        # Fixed sizes: a responsive Bokeh figure inside an ipywidgets box gets no width.
        self._size = (width, height)
        self.plots: pn.Column | None = None
        self.plots_box = w.Box(layout=w.Layout(flex_flow="column"))
        super().__init__(
            [
                w.HTML("<h3>Contrast-curve review</h3>"),
                self._target,
                self._processes,
                w.HBox([self._reference, self._compare_button, self._export_button]),
                self.status,
                self.downloads,
                self.plots_box,
            ]
        )
        self.add_class("hcdc-contrast-review")
        self._target.observe(
            lambda ch: self.status.run(lambda: self.choose_target(ch["new"])), "value"
        )
        self._compare_button.on_click(lambda _: self.status.run(self.compare))
        self._export_button.on_click(lambda _: self.status.run(self.export))
        self.status.run(self.load_targets)

    # -- choices -------------------------------------------------------------------------------

    def load_targets(self) -> list[str]:
        """Targets that have processes, most processed first."""
        counts = self.client.distinct("processes", "target_name")
        names = sorted((n for n in counts if n and n != "None"), key=lambda n: -counts[n])
        self._target.options = ["", *names]
        return names

    def choose_target(self, name: str) -> list[int]:
        """Offer ``name``'s processes (newest first); returns their ids."""
        self.target = name or ""
        if not name:
            self._processes.options = []
            return []
        table = self.client.processes(target_name=name, progress=False)
        options = [
            (f"{row['id']} · {row['recipe_name']} · {row['reference'] or ''}", int(row["id"]))
            for row in table
        ]
        self._processes.options = options
        return [value for _, value in options]

    def show_target(self, name: str) -> None:
        """Choose ``name``, select all its processes and compare them (the first is reference)."""
        self._target.value = name  # the observer offers the target's processes
        self._processes.value = tuple(value for _, value in self._processes.options)
        self.compare()

    # -- comparison ----------------------------------------------------------------------------

    def compare(
        self, process_ids: Sequence[int] | None = None, *, reference: int | None = None
    ) -> None:
        """Overlay the curves of ``process_ids`` (default: the selection) against ``reference``."""
        ids = [int(i) for i in (process_ids if process_ids is not None else self._processes.value)]
        if not ids:
            raise ValueError("choose one or more processes")
        for process_id in ids:
            if process_id not in self.entries:
                self._load(process_id)
        self.process_ids = [i for i in ids if i in self.entries]
        if not self.process_ids:
            raise ValueError("none of these processes has a contrast curve")
        self._reference.options = [(self.entries[i].label, i) for i in self.process_ids]
        chosen = reference if reference in self.process_ids else self._reference.value
        self.reference_id = chosen if chosen in self.process_ids else self.process_ids[0]
        self._reference.value = self.reference_id
        self._draw()
        self.status.say(f"{len(self.process_ids)} curves, reference {self.reference_id}")

    def _load(self, process_id: int) -> None:
        process = self.client.process(process_id)
        try:
            curve = process.product(CURVE)
        except KeyError:
            return
        info = process.info
        self.entries[process_id] = CurveEntry(
            process_id=process_id,
            label=f"{process_id} {curve.algorithm}",
            separation_arcsec=np.asarray(curve.separation_arcsec.value, dtype=float),
            contrast=np.asarray(curve.contrast, dtype=float),
            algorithm=str(curve.algorithm),
            params=json.dumps(dict(curve.params or info.get("params") or {}), sort_keys=True),
            version=str(info.get("pipeline_version") or ""),
        )
        with contextlib.suppress(KeyError):
            self.snr_maps[process_id] = np.asarray(process.product(SNR_MAP).data, dtype=float)

    def _hv_curve(self, entry: CurveEntry, *, y: np.ndarray, name: str, dashed: bool) -> Any:
        import holoviews as hv

        rows = {
            "separation": entry.separation_arcsec,
            name: y,
            "process": np.full(y.size, entry.process_id),
            "algorithm": np.full(y.size, entry.algorithm),
            "params": np.full(y.size, entry.params),
            "version": np.full(y.size, entry.version),
        }
        return hv.Curve(
            rows,
            kdims=[hv.Dimension("separation", label="Separation", unit="arcsec")],
            vdims=[name, "process", "algorithm", "params", "version"],
            label=entry.label,
        ).opts(tools=["hover"], line_dash="dashed" if dashed else "solid", line_width=2)

    def figures(self) -> tuple[Any, Any, Any]:
        """The overlay, the ratios to the reference and the S/N maps (HoloViews objects)."""
        import holoviews as hv

        if "bokeh" not in hv.Store.renderers:
            # Plot options need the Bokeh plotting extension: load it (nothing is displayed)
            # where the notebook has not called ``hv.extension`` itself.
            hv.renderer("bokeh")
        reference = self.entries[int(self.reference_id or self.process_ids[0])]
        entries = [self.entries[i] for i in self.process_ids]
        width, height = self._size
        ids = ", ".join(str(i) for i in self.process_ids)
        curves = hv.Overlay(
            [
                self._hv_curve(e, y=e.contrast, name="contrast", dashed=e is reference)
                for e in entries
            ]
        ).opts(
            logy=True,
            ylabel="Contrast (5σ)",
            title=f"{self.target}: contrast curves of {ids}",
            legend_position="top_right",
            width=width,
            height=height,
        )
        ratios = hv.Overlay(
            [
                self._hv_curve(
                    e, y=ratio_to_reference(e, reference), name="ratio", dashed=e is reference
                )
                for e in entries
            ]
        ).opts(
            logy=True,
            ylabel=f"Ratio to {reference.process_id}",
            show_legend=False,
            width=width,
            height=height // 2,
        )
        maps = (
            hv.Layout(
                [
                    hv.Image(self.snr_maps[i], label=f"S/N {i}").opts(
                        cmap="viridis", colorbar=True, width=260, height=240, xaxis=None, yaxis=None
                    )
                    for i in self.process_ids
                    if i in self.snr_maps
                ]
            ).cols(4)
            if any(i in self.snr_maps for i in self.process_ids)
            else None
        )
        return curves, ratios, maps

    def _draw(self) -> None:
        import panel as pn

        width, height = self._size
        curves, ratios, maps = self.figures()
        panes = [
            pn.pane.HoloViews(curves, width=width, height=height),
            pn.pane.HoloViews(ratios, width=width, height=height // 2),
        ]
        if maps is not None:
            panes.append(pn.pane.HoloViews(maps, width=width))
        # A new figure widget per comparison: panes that change from empty to a figure inside
        # a live jupyter_bokeh widget fail in the browser ("reading 'connect'").
        self.plots = pn.Column(*panes, width=width)
        previous = self.plots_box.children
        self.plots_box.children = [pn.ipywidget(self.plots)]
        for widget in previous:
            widget.close()

    # -- export --------------------------------------------------------------------------------

    def png(self) -> bytes:
        """The overlay as a PNG (Matplotlib), reference dashed."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(7, 4.5), dpi=100)
        axes = figure.add_subplot()
        for process_id in self.process_ids:
            entry = self.entries[process_id]
            style = "--" if process_id == self.reference_id else "-"
            axes.plot(entry.separation_arcsec, entry.contrast, style, label=entry.label)
        axes.set_yscale("log")
        axes.set_xlabel("Separation [arcsec]")
        axes.set_ylabel("Contrast (5σ)")
        axes.set_title(self.target)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def export(self) -> Mapping[str, bytes]:
        """PNG and CSV of the comparison, offered as download links; returns their bytes."""
        if not self.process_ids:
            raise ValueError("compare some processes first")
        stem = f"contrast_{(self.target or 'target').replace(' ', '_')}"
        files = {
            f"{stem}.png": self.png(),
            f"{stem}.csv": curves_csv([self.entries[i] for i in self.process_ids]).encode(),
        }
        mimes = {".png": "image/png", ".csv": "text/csv"}
        self.downloads.value = join(
            " · ", (data_link(name, mimes[name[-4:]], payload) for name, payload in files.items())
        )
        return files
