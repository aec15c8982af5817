"""Static plots of products for the browsers (PNG): what a user would rather look at than read."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["contrast_png"]


def contrast_png(curve: Any, *, width_in: float = 5.0, height_in: float = 3.2) -> bytes:
    """A contrast curve (``ContrastCurve``) drawn as PNG: separation in arcsec, log contrast."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=100)
    axes = figure.add_subplot()
    curve.plot(ax=axes)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
