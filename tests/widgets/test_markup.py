"""hcdc_widgets.markup, the one escaping helper, and the widgets that need no server.

Hostile strings go into the helper and into every widget that renders them without a client;
the HTML produced must parse to the widgets' own elements only (``inert_text``), the hostile
text showing as text. A source check keeps HTML building in the helper.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import astropy.units as u
import pytest
from astropy.table import QTable

from hcdc_widgets.fits_view import HeaderView
from hcdc_widgets.markup import (
    Markup,
    data_link,
    escape,
    format_html,
    join,
    link,
    pre,
    safe_url,
    table,
)
from hcdc_widgets.status import StatusLine
from hcdc_widgets.validation_review import _table_html
from tests.widgets.inert import inert_text

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"

HOSTILE = [
    "<svg/onload=alert(1)>",
    '"><img src=x onerror=alert(1)>',
    "'><img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</pre><img src=x onerror=alert(1)>",
    "&lt;img src=x onerror=alert(1)&gt;",
    '" onmouseover="alert(1)',
]
UNSAFE_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg/onload=alert(1)>",
    "1javascript:alert(1)",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_and_format_html_keep_hostile_text_as_text(text):
    assert inert_text(escape(text)) == text
    built = format_html('<span style="{}">{}</span> {:<40}|', text, text, text)
    assert inert_text(built) == f"{text} {text:<40}|"
    assert inert_text(join("<br>", [text, text])) == text + text
    assert inert_text(pre(text, style="font-size:11px")) == text


def test_markup_is_kept_and_everything_else_escaped():
    bold = format_html("<b>{}</b>", "<i>x</i>")
    assert bold == "<b>&lt;i&gt;x&lt;/i&gt;</b>"
    assert isinstance(bold, Markup) and escape(bold) is bold
    assert format_html("{}{}", bold, "<i>") == "<b>&lt;i&gt;x&lt;/i&gt;</b>&lt;i&gt;"
    assert escape(None) == "" and escape(3) == "3"
    assert format_html("{:.0f}% {:>4}", 12.6, 7) == "13%    7"


@pytest.mark.parametrize("text", HOSTILE)
def test_table_cells_and_header_are_text(text):
    built = table([[text, 1.5, None], [format_html("<b>{}</b>", text), text, text]], header=[text])
    assert inert_text(built) == text + f"{text}1.5" + text * 3


@pytest.mark.parametrize("url", UNSAFE_URLS)
def test_links_to_unsafe_urls_are_plain_text(url):
    assert safe_url(url) is None
    built = link(url, "open <me>")
    assert built == "open &lt;me&gt;"
    assert "href" not in built


@pytest.mark.parametrize(
    "url",
    [
        "https://hcdc.invalid/api/data/1",
        "http://127.0.0.1:8080/docs?a=javascript:x",
        "/services/hcdc/docs",
        "products/x.fits",
        "data:text/csv;base64,YSxi",
    ],
)
def test_links_to_safe_urls_keep_quotes_out_of_attributes(url):
    assert safe_url(url) == url
    built = link(url, '"><img src=x onerror=alert(1)>', download='a" onclick="alert(1).csv')
    assert built == (
        f'<a download="a&quot; onclick=&quot;alert(1).csv" href="{url}">'
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</a>"
    )


def test_data_links_only_carry_passive_media_types():
    built = data_link('<svg/onload=alert(1)>".csv', "text/csv", b"a,b\n")
    assert inert_text(built) == '<svg/onload=alert(1)>".csv'
    assert 'href="data:text/csv;base64,YSxiCg=="' in built
    with pytest.raises(ValueError, match="passive"):
        data_link("x.html", "text/html", b"<script>alert(1)</script>")


def test_status_line_shows_hostile_messages_as_text():
    status = StatusLine()
    for text in HOSTILE:
        status.say(text)
        assert inert_text(status.value) == text
        status.error(text)
        assert inert_text(status.value) == text


def test_header_view_shows_hostile_cards_as_text():
    view = HeaderView()
    view.show({HOSTILE[0]: HOSTILE[1], "OBJECT": HOSTILE[3]})
    shown = inert_text(view._text.value)
    assert HOSTILE[0] in shown and HOSTILE[1] in shown and HOSTILE[3] in shown
    view.search = "svg"
    assert inert_text(view._text.value).startswith(HOSTILE[0])


def test_companion_table_names_and_cells_are_text():
    data = QTable({HOSTILE[0]: [1.0] * u.pix, "note": [HOSTILE[1]]})
    shown = inert_text(_table_html(data))
    assert HOSTILE[0] in shown and HOSTILE[1] in shown


def test_skyview_marker_popups_get_escaped_text(monkeypatch):
    from hcdc_widgets.skyview import SkyView

    sky = SkyView()
    sent: list[dict] = []
    monkeypatch.setattr(sky, "_send_or_queue", lambda message, *a, **k: sent.append(message))
    rows = [
        {"id": i, "coord_ra": 10.0, "coord_dec": -20.0, "file_name": t, "data_frame_type": t}
        for i, t in enumerate(HOSTILE)
    ]
    assert sky.show_pointings(rows) == len(HOSTILE)
    assert [p["title"] for p in sky.pointings] == HOSTILE
    markers = next(m for m in sent if m.get("event_name") == "add_marker")["markers"]
    assert [inert_text(m["title"]) for m in markers] == HOSTILE
    assert [inert_text(m["description"]) for m in markers] == HOSTILE


_TAG = re.compile(r"<[A-Za-z/!]")


def _builds_html(node: ast.AST) -> bool:
    """An f-string, ``+``, ``%`` or ``.format`` that puts a value next to a literal tag."""
    if isinstance(node, ast.JoinedStr):
        literal = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        return bool(_TAG.search(literal)) and any(
            isinstance(v, ast.FormattedValue) for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        sides = (node.left, node.right)
        tagged = any(
            isinstance(s, ast.Constant) and isinstance(s.value, str) and _TAG.search(s.value)
            for s in sides
        )
        return tagged and not all(isinstance(s, ast.Constant) for s in sides)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join")
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return bool(_TAG.search(node.func.value.value))
    return False


@pytest.mark.parametrize(
    "path", sorted(p for p in WIDGETS.glob("*.py") if p.name != "markup.py"), ids=lambda p: p.name
)
def test_html_is_built_only_by_the_markup_module(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert "html" not in {a.name for a in node.names}, f"{path.name}: import html"
        if isinstance(node, ast.ImportFrom):
            assert node.module != "html", f"{path.name}: from html import"
        assert not _builds_html(node), (
            f"{path.name}:{getattr(node, 'lineno', '?')}: HTML built from values outside "
            "hcdc_widgets.markup (use format_html, table, link, pre)"
        )
