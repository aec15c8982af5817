"""DataBrowser: filter form, paged sortable table, detail pane (header, image), selection.

The form is built from :data:`DATA_FILTER_FIELDS`, a subset of the seed's data filters with a
widget kind each; any other filter of the vocabulary goes in the free "more filters" box as
``NAME=value`` lines. Choices (frame types, instruments, filters) are the values present on the
service, with their counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ipywidgets as w
import traitlets

from hcdc_kernel.client import DATA_COLUMNS, HcdcClient, connect
from hcdc_kernel.client.filters import browse_filters
from hcdc_kernel.client.products import CONTRAST_CURVE_CATEGORY, load_product, product_category
from hcdc_widgets.fits_view import HeaderView, ImageView
from hcdc_widgets.image_viewer import ImageViewer
from hcdc_widgets.markup import format_html
from hcdc_widgets.plots import contrast_png
from hcdc_widgets.status import StatusLine
from hcdc_widgets.table import PagedTable

__all__ = ["DATA_FILTER_FIELDS", "DataBrowser", "FilterField"]

FieldKind = Literal["text", "choice", "date_range", "number_range", "flag"]


@dataclass(frozen=True)
class FilterField:
    """One field of the filter form: a seed filter name, its label and widget kind."""

    name: str
    label: str
    kind: FieldKind


DATA_FILTER_FIELDS: tuple[FilterField, ...] = (
    FilterField("WORKSPACE", "Workspace", "choice"),
    FilterField("INSTRUMENT", "Instrument", "choice"),
    FilterField("DATA_FRAME_TYPE", "Frame type", "choice"),
    FilterField("INSTRUMENT_FILTER", "Filter", "choice"),
    FilterField("OBJECT", "Object", "text"),
    FilterField("TARGET_NAME", "Target", "text"),
    FilterField("PROG_ID", "Prog. ID", "text"),
    FilterField("OBS_NIGHT_DATE", "Obs. night", "date_range"),
    FilterField("EXP_TIME", "Exp. time [s]", "number_range"),
    FilterField("SEEING", 'Seeing ["]', "number_range"),
    FilterField("TAU0", "tau0 [s]", "number_range"),
    FilterField("STREHL", "Strehl", "number_range"),
    FilterField("RAW", "Raw only", "flag"),
)

#: The seed's Data Browse columns and their widths in characters.
_WIDTHS = {
    "id": 6,
    "file_name": 28,
    "size": 8,
    "data_frame_type": 20,
    "observation_date": 19,
    "coord_ra": 10,
    "coord_dec": 10,
    "instrument_filter": 10,
    "exp_time": 8,
    "prog_id": 15,
}
_LABELS = {
    "id": "ID",
    "file_name": "File name",
    "size": "Size",
    "data_frame_type": "Frame type",
    "observation_date": "Obs. date",
    "coord_ra": "RA",
    "coord_dec": "DEC",
    "instrument_filter": "Filter",
    "exp_time": "Exp. time",
    "prog_id": "Prog. ID",
}
_ANY = ""


class _Field:
    """The widget(s) of one FilterField and the filter value they hold."""

    def __init__(self, spec: FilterField) -> None:
        self.spec = spec
        layout = w.Layout(width="300px")
        style = {"description_width": "90px"}
        self.low: Any
        self.high: Any = None
        if spec.kind == "choice":
            self.low = w.Dropdown(
                options=[("any", _ANY)], description=spec.label, style=style, layout=layout
            )
            self.widget: w.Widget = self.low
        elif spec.kind == "text":
            self.low = w.Text(
                description=spec.label, placeholder="* wildcard", style=style, layout=layout
            )
            self.widget = self.low
        elif spec.kind == "date_range":
            self.low = w.DatePicker(
                description=spec.label, style=style, layout=w.Layout(width="230px")
            )
            self.high = w.DatePicker(
                description="to",
                style={"description_width": "20px"},
                layout=w.Layout(width="160px"),
            )
            self.widget = w.HBox([self.low, self.high])
        elif spec.kind == "number_range":
            self.low = w.Text(
                description=spec.label,
                placeholder="min",
                style=style,
                layout=w.Layout(width="180px"),
            )
            self.high = w.Text(placeholder="max", layout=w.Layout(width="80px"))
            self.widget = w.HBox([self.low, self.high])
        else:
            self.low = w.Checkbox(description=spec.label, indent=False)
            self.widget = self.low

    def value(self) -> Any:
        """The filter value, or ``None`` when the field is empty."""
        kind = self.spec.kind
        if kind == "choice":
            return self.low.value or None
        if kind == "text":
            return self.low.value.strip() or None
        if kind == "flag":
            return True if self.low.value else None
        low, high = self.low.value, self.high.value
        if kind == "number_range":
            low = float(low) if str(low).strip() else None
            high = float(high) if str(high).strip() else None
        if low is None and high is None:
            return None
        return (low, high)

    def set(self, value: Any) -> None:
        """Fill the field from a filter value (``None`` clears it)."""
        kind = self.spec.kind
        if kind == "choice":
            options = [v for _, v in self.low.options]
            if value is not None and value not in options:
                self.low.options = [*self.low.options, (str(value), value)]
            self.low.value = value or _ANY
        elif kind == "text":
            self.low.value = "" if value is None else str(value)
        elif kind == "flag":
            self.low.value = bool(value)
        else:
            low, high = value if isinstance(value, tuple) else (value, value)
            if kind == "date_range":
                self.low.value = dt.date.fromisoformat(low) if isinstance(low, str) else low
                self.high.value = dt.date.fromisoformat(high) if isinstance(high, str) else high
            else:
                self.low.value = "" if low is None else str(low)
                self.high.value = "" if high is None else str(high)


def _parse_extra(text: str) -> dict[str, Any]:
    """``NAME=value`` lines (``a,b`` for any of, ``lo..hi`` for a range)."""
    extra: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, raw = line.partition("=")
        if not sep:
            raise ValueError(f"'{line.strip()}' is not NAME=value")
        raw = raw.strip()
        value: Any = raw
        if raw.lower() == "true":
            value = True
        elif ".." in raw:
            low, _, high = raw.partition("..")
            value = (low.strip() or None, high.strip() or None)
        elif "," in raw:
            value = [v.strip() for v in raw.split(",")]
        extra[name.strip().upper()] = value
    return extra


class DataBrowser(w.VBox):
    """Browse data files: filters, a paged table, the FITS header and image of a row.

    Attributes (traitlets)
    ----------------------
    filters : dict
        The filters of the table (seed names -> values), set by :meth:`search`.
    selected_ids : list of int
        The selected data files: what a :class:`~hcdc_widgets.RecipeLauncher` launches on.
    detail_id : int or None
        The data file in the detail pane.
    """

    filters = traitlets.Dict()
    selected_ids = traitlets.List(traitlets.Int())
    detail_id = traitlets.Int(None, allow_none=True)

    def __init__(
        self,
        client: HcdcClient | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        fields: Sequence[FilterField] = DATA_FILTER_FIELDS,
        page_size: int = 20,
        load_choices: bool = True,
    ) -> None:
        self.client = client or connect()
        self.status = StatusLine()
        self._fields = {f.name: _Field(f) for f in fields}
        self._extra = w.Textarea(
            placeholder="More filters, one per line: NAME=value (a,b any of; lo..hi range)",
            layout=w.Layout(width="600px", height="50px"),
        )
        self._search = w.Button(description="Search", button_style="primary", icon="search")
        self._clear = w.Button(description="Clear")
        self.table = PagedTable(
            DATA_COLUMNS[:10],
            fetch=self._fetch,
            widths=_WIDTHS,
            labels=_LABELS,
            page_size=page_size,
        )
        self.header_view = HeaderView()
        self.image_view = ImageView()
        #: The interactive viewer (zoom, pan, stretch, colour bar, cursor readout).
        self.viewer = ImageViewer(size_px=420)
        self.curve_view = w.Image(format="png", layout=w.Layout(width="520px"))
        self._load_image = w.Button(description="Show image", icon="image")
        self._detail_title = w.HTML()
        detail = w.Tab(
            children=[
                self.header_view,
                w.VBox([self._load_image, self.viewer, self.curve_view]),
                self.image_view,
            ],
        )
        detail.set_title(0, "FITS header")
        detail.set_title(1, "Image")
        detail.set_title(2, "Quick look")
        boxes = [f.widget for f in self._fields.values()]
        form = w.GridBox(boxes, layout=w.Layout(grid_template_columns="repeat(2, 420px)"))
        super().__init__(
            [
                w.HTML("<b>Data browse</b>"),
                form,
                self._extra,
                w.HBox([self._search, self._clear]),
                self.status,
                self.table,
                self._detail_title,
                detail,
            ]
        )
        self._search.on_click(lambda _: self.status.run(self.search))
        self._clear.on_click(lambda _: self.status.run(self.clear))
        self._load_image.on_click(lambda _: self.status.run(self.show_image))
        self.table.observe(self._on_selection, "selected_ids")
        if load_choices:
            self.status.run(self.load_choices)
        for name, value in (filters or {}).items():
            self.set_filter(name, value)
        self.status.run(self.search)

    # -- filters -------------------------------------------------------------------------------

    def load_choices(self) -> None:
        """Fill the choice fields with the values present on the service (and counts)."""
        for name, field in self._fields.items():
            if field.spec.kind != "choice":
                continue
            if name == "WORKSPACE":
                values = {ws["name"]: None for ws in self.client.me()["workspaces"]}
                options = [(n, n) for n in values]
            else:
                counts = self.client.distinct("data", name.lower())
                options = [(f"{v} ({n})", v) for v, n in sorted(counts.items()) if v != "None"]
            current = field.low.value
            field.low.options = [("any", _ANY), *options]
            field.low.value = current if current in [v for _, v in field.low.options] else _ANY

    def set_filter(self, name: str, value: Any) -> None:
        """Set one filter (a form field, or a ``NAME=value`` line); ``None`` clears it."""
        key = name.upper()
        if key in self._fields:
            self._fields[key].set(value)
            return
        extra = _parse_extra(self._extra.value)
        extra.pop(key, None)
        if value is not None:
            extra[key] = value
        self._extra.value = "\n".join(f"{k}={_format_extra(v)}" for k, v in extra.items())

    def form_filters(self) -> dict[str, Any]:
        """The filters the form holds now (seed names -> browse values)."""
        chosen = {n: f.value() for n, f in self._fields.items()}
        chosen.update(_parse_extra(self._extra.value))
        return browse_filters({k: v for k, v in chosen.items() if v is not None})

    def search(self) -> None:
        """Apply the form's filters: back to page 1 of the new result."""
        self.filters = self.form_filters()
        self.table.page = 1
        self.table.refresh()
        self.status.say(f"{self.table.total} data files")

    def clear(self) -> None:
        """Empty the form and search again."""
        for field in self._fields.values():
            field.set(None)
        self._extra.value = ""
        self.search()

    def _fetch(self, page: int, size: int, sort: str) -> tuple[list[dict[str, Any]], int]:
        reply = self.client.browse(
            "data", browse_filters=dict(self.filters), page=page, limit=size, sort=sort
        )
        total = self.client.browse("data", browse_filters=dict(self.filters), count=True)
        return list(reply["items"]), int(total["count"])

    # -- selection and detail ------------------------------------------------------------------

    def select(self, ids: Sequence[int]) -> None:
        """Select rows of the current page (the detail pane shows the first)."""
        self.table.select(ids)

    def _on_selection(self, change: Mapping[str, Any]) -> None:
        self.selected_ids = list(change["new"])
        if self.selected_ids:
            self.status.run(lambda: self.show_detail(self.selected_ids[0]))

    def show_detail(self, data_id: int) -> None:
        """Show the header of ``data_id`` (the image loads on demand: it downloads the file)."""
        header = self.client.header(data_id)
        row = self.table.row(int(data_id)) or self.client.data_info(data_id)
        self.detail_id = int(data_id)
        self._detail_title.value = format_html(
            "<b>Data {} detail</b>: {}", data_id, row["file_name"]
        )
        self.header_view.show(dict(header.items()))
        self.image_view.show(None)
        self.curve_view.value = b""

    def show_image(self) -> None:
        """Download (once, cached) and display the detail file: an image in the viewer, a
        contrast curve as a plot."""
        if self.detail_id is None:
            raise ValueError("select a data file first")
        path = self.client.download(self.detail_id)
        if product_category(path) == CONTRAST_CURVE_CATEGORY:
            self.curve_view.value = contrast_png(load_product(path))
            self.status.say(f"data file {self.detail_id}: contrast curve")
            return
        with self.client.open(self.detail_id) as hdul:
            # From the headers: no data unit is loaded before its size is checked.
            hdu = next((h for h in hdul if h.is_image and h.header.get("NAXIS", 0) > 0), None)
            if hdu is None:
                raise ValueError(f"data file {self.detail_id} holds no image")
            self.image_view.show_hdu(hdu, caption=f"{hdu.name} {hdu.shape}")
            self.viewer.show(_first_planes(hdu.data), star=_star(hdu.header))


def _first_planes(data: Any) -> Any:
    """A 2-D image or a cube: higher dimensions keep their first index."""
    array = data
    while getattr(array, "ndim", 0) > 3:
        array = array[0]
    return array


def _star(header: Any) -> tuple[float, float] | None:
    """The star position a product header records (0-based pixels), if any."""
    for x_key, y_key in (("HIERARCH HCDC STAR X", "HIERARCH HCDC STAR Y"), ("CRPIX1", "CRPIX2")):
        if x_key in header and y_key in header:
            try:
                offset = 1.0 if x_key == "CRPIX1" else 0.0  # FITS pixels are 1-based
                return float(header[x_key]) - offset, float(header[y_key]) - offset
            except (TypeError, ValueError):
                return None
    return None


def _format_extra(value: Any) -> str:
    if value is True:
        return "true"
    if isinstance(value, tuple):
        return f"{'' if value[0] is None else value[0]}..{'' if value[1] is None else value[1]}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
