"""HTML built from data: the one place where hcdc widgets escape text and check links.

Widget values that are HTML (``ipywidgets.HTML``, Aladin Lite marker popups) are built here
and nowhere else. Data (file names, OBJECT and target names, process references, parameters,
descriptions, table cells, logs) always goes through :func:`escape`; only :class:`Markup`,
the HTML this module returns, is inserted as it is. Templates and separators are the calling
code's own constants, never data.

>>> format_html("<b>Data {} detail</b>: {}", 7, "<svg/onload=alert(1)>")
'<b>Data 7 detail</b>: &lt;svg/onload=alert(1)&gt;'
>>> link("javascript:alert(1)", "click")
'click'
"""

from __future__ import annotations

import base64
import html
import re
import string
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "PASSIVE_DATA_TYPES",
    "SAFE_SCHEMES",
    "Markup",
    "data_link",
    "escape",
    "format_html",
    "join",
    "link",
    "pre",
    "safe_url",
    "table",
]

#: URL schemes a link may use; any other (``javascript:``, ``vbscript:``...) is refused.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Media types a ``data:`` link may carry: none of them is run by a browser.
PASSIVE_DATA_TYPES = frozenset(
    {
        "application/fits",
        "application/json",
        "application/octet-stream",
        "image/jpeg",
        "image/png",
        "text/csv",
        "text/plain",
    }
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


class Markup(str):
    """HTML to insert as it is: returned by this module's functions, never made from data."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as text for an element or a quoted attribute (``& < > " '`` escaped).

    ``None`` is the empty string; :class:`Markup` is returned unchanged.
    """
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        # The format spec applies to the value first (``{:.0f}``, ``{:<30}``), then the text
        # is escaped: no spec can turn data into markup.
        if isinstance(value, Markup):
            return str.__format__(value, format_spec)
        return escape(format("" if value is None else value, format_spec))


_FORMATTER = _EscapingFormatter()


def format_html(template: str, /, *args: object, **kwargs: object) -> Markup:
    """``template.format(...)`` with every argument escaped (:class:`Markup` kept).

    ``template`` is the caller's HTML (a constant); ``{}`` fields take data.
    """
    return Markup(_FORMATTER.vformat(template, args, kwargs))


def join(separator: str, parts: Iterable[object]) -> Markup:
    """``parts`` escaped (:class:`Markup` kept) and joined by ``separator`` (the caller's HTML)."""
    return Markup(separator.join(escape(part) for part in parts))


def safe_url(url: str) -> str | None:
    """``url`` if following it runs nothing, else ``None``.

    Allowed: relative URLs, :data:`SAFE_SCHEMES`, and ``data:`` URLs of a
    :data:`PASSIVE_DATA_TYPES` type. Whitespace and control characters (which browsers drop
    from a scheme, ``java\\tscript:``) refuse the URL.
    """
    text = str(url)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return None
    head = re.split(r"[/?#]", text, maxsplit=1)[0]
    if ":" not in head:
        return text  # relative: no scheme
    scheme = _SCHEME.match(head)
    if scheme is None or len(scheme.group(0)) != head.index(":") + 1:
        return None
    name = scheme.group(1).lower()
    if name in SAFE_SCHEMES:
        return text
    if name == "data":
        media_type = text[5:].split(",", 1)[0].split(";", 1)[0].lower()
        return text if media_type in PASSIVE_DATA_TYPES else None
    return None


def link(href: str, text: object, *, download: str | None = None) -> Markup:
    """An ``<a>`` to ``href`` showing ``text``; only ``text`` when ``href`` is not safe.

    ``download`` names the file a click saves (the ``download`` attribute).
    """
    url = safe_url(href)
    if url is None:
        return escape(text)
    if download is None:
        return format_html('<a href="{}">{}</a>', url, text)
    return format_html('<a download="{}" href="{}">{}</a>', download, url, text)


def data_link(name: str, media_type: str, payload: bytes, *, text: object = None) -> Markup:
    """A link that saves ``payload`` as file ``name`` (a base64 ``data:`` URL).

    ``media_type`` must be one of :data:`PASSIVE_DATA_TYPES`; ``text`` defaults to ``name``.
    """
    if media_type not in PASSIVE_DATA_TYPES:
        raise ValueError(f"{media_type!r} is not a passive media type for a data: link")
    encoded = base64.b64encode(payload).decode("ascii")
    return link(
        f"data:{media_type};base64,{encoded}", name if text is None else text, download=name
    )


def pre(text: object, *, style: str = "") -> Markup:
    """``text`` in a ``<pre>`` (``style``: the CSS declarations of the caller)."""
    if not style:
        return format_html("<pre>{}</pre>", text)
    return format_html('<pre style="{}">{}</pre>', style, text)


def table(rows: Iterable[Sequence[object]], *, header: Sequence[object] | None = None) -> Markup:
    """A ``<table>``: an optional header row of ``<th>``, then one ``<tr>`` of ``<td>`` per row.

    Cells are escaped unless :class:`Markup` (e.g. a :func:`format_html` label in bold).
    """
    head = (
        format_html("<tr>{}</tr>", join("", (format_html("<th>{}</th>", h) for h in header)))
        if header is not None
        else Markup()
    )
    body = join(
        "",
        (
            format_html("<tr>{}</tr>", join("", (format_html("<td>{}</td>", c) for c in row)))
            for row in rows
        ),
    )
    return format_html("<table>{}{}</table>", head, body)
