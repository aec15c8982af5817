"""A parameter form generated from a recipe's JSON Schema.

``integer``/``number`` give bounded numeric fields (``minimum``/``maximum``), ``boolean`` a
checkbox, ``enum`` a dropdown, ``string`` a text box; ``default`` fills the field and
``description`` becomes its tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as w
import traitlets

__all__ = ["ParamForm", "field_for"]

_STYLE = {"description_width": "120px"}
_LAYOUT = {"width": "360px"}


def field_for(name: str, schema: Mapping[str, Any]) -> w.ValueWidget:
    """The input widget of one parameter."""
    kind = schema.get("type")
    common: dict[str, Any] = {
        "description": str(schema.get("title") or name),
        "tooltip": str(schema.get("description") or ""),
        "style": _STYLE,
        "layout": w.Layout(**_LAYOUT),
    }
    default = schema.get("default")
    if "enum" in schema:
        return w.Dropdown(options=list(schema["enum"]), value=default, **common)
    if kind == "boolean":
        return w.Checkbox(value=bool(default), indent=False, **common)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        integer = kind == "integer"
        if low is None and high is None:
            cls: type[w.ValueWidget] = w.IntText if integer else w.FloatText
            return cls(value=default or 0, **common)
        bounded: type[w.ValueWidget] = w.BoundedIntText if integer else w.BoundedFloatText
        big = 2**31 - 1 if integer else 1e300
        return bounded(
            value=default if default is not None else (low if low is not None else 0),
            min=low if low is not None else -big,
            max=high if high is not None else big,
            **common,
        )
    return w.Text(value="" if default is None else str(default), **common)


class ParamForm(w.VBox):
    """Fields for every parameter of a JSON Schema; ``values`` holds what they say.

    Attributes (traitlets)
    ----------------------
    values : dict
        Parameter name -> value, kept in step with the fields.
    """

    values = traitlets.Dict()

    def __init__(self, schema: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.fields: dict[str, w.ValueWidget] = {}
        self.set_schema(schema or {})

    def set_schema(self, schema: Mapping[str, Any]) -> None:
        """Rebuild the fields for ``schema`` (values back to the defaults)."""
        properties: Mapping[str, Any] = schema.get("properties", {})
        self.fields = {name: field_for(name, spec) for name, spec in properties.items()}
        for field in self.fields.values():
            field.observe(lambda _: self._sync(), "value")
        self.children = list(self.fields.values()) if self.fields else [w.Label("(no parameters)")]
        self._sync()

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Fill fields from ``values`` (unknown names raise ``KeyError``)."""
        for name, value in values.items():
            if name not in self.fields:
                raise KeyError(f"no parameter {name!r} (have: {', '.join(self.fields)})")
            self.fields[name].value = value
        self._sync()

    def _sync(self) -> None:
        self.values = {name: field.value for name, field in self.fields.items()}
