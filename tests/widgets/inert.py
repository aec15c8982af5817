"""Check that HTML built by the widgets holds no element or attribute that came from data."""

from __future__ import annotations

from html.parser import HTMLParser

#: Tags and attributes the widgets themselves write; anything else came from data.
OWN_TAGS = frozenset(
    {"a", "b", "br", "code", "h3", "i", "pre", "small", "span", "style", "table", "td", "th", "tr"}
)
OWN_ATTRIBUTES = frozenset({"download", "href", "style"})
SAFE_HREF = ("data:image/png;", "data:text/csv;", "data:text/plain;", "http:", "https:")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def inert_text(markup: str) -> str:
    """The text of ``markup`` once the assertions pass that no element came from data.

    Only the widgets' own tags and attributes may appear; links point to data or http(s)
    URLs. The returned text (entities decoded) is what a reader sees.
    """
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in OWN_TAGS, f"<{tag}> from data in {markup[:300]!r}"
        for name, value in attrs:
            assert name in OWN_ATTRIBUTES, f"attribute {name} from data in {markup[:300]!r}"
            if name == "href":
                assert (value or "").startswith(SAFE_HREF), f"href {value!r}"
    return "".join(parser.text)
