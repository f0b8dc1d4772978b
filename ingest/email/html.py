"""HTML bodies: sanitise for agents' screens, and turn into text when there is no text part.

Sanitising uses nh3 (ammonia) with an explicit allow-list, built once. Remote
images are tracking beacons and leak that an agent opened the mail, so an
``img`` keeps its ``src`` only for ``cid:`` references to the message's own
inline parts; no ``style`` attribute is allowed because CSS ``url()`` would
load remote content the same way.

``html_to_text`` is a small ``html.parser`` converter: block elements become
line breaks, script and style vanish, link text stays, and blockquotes are
prefixed with "> " so that ``quotes.strip_quotes`` removes quoted history in
HTML-only mail exactly as in plain text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Callable

import nh3

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
}
_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "p": {"align"},
    "div": {"align"},
}


def cleaner(image_scheme: str, keep_image: Callable[[str], bool]) -> nh3.Cleaner:
    """The allow-list sanitiser, with images kept only when ``keep_image(src)`` says so (``src`` in
    ``image_scheme:`` or a web scheme). The knowledge base's Markdown renderer uses it too, so an article and a
    mail are held to the same list."""

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src" and not keep_image(value):
            return None
        return value

    return nh3.Cleaner(
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", image_scheme},
        clean_content_tags={"script", "style", "title", "head", "noscript", "template", "object", "iframe"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Only cid: references to the message's own inline parts; remote (http, https, //host) and data: images: blocked.
_CLEANER = cleaner("cid", lambda src: src.strip().lower().startswith("cid:"))


def sanitise(html: str) -> str:
    """Allow-listed HTML with scripts, styles, event handlers and remote images removed."""
    return _CLEANER.clean(html).strip() if html.strip() else ""


_BLOCK = {
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
}
_SKIP = {"script", "style", "head", "title", "noscript", "template"}
_SPACES = re.compile(r"[ \t\r\n\f\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "pre", "hr"}


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0

    def _flush(self) -> None:
        """End the current line if it holds text."""
        line = "".join(self.current)
        if not self.pre:
            line = line.strip()
        if line:
            self.lines.append("> " * self.quote + line)
        self.current = []

    def _gap(self) -> None:
        """End the current line and leave one blank line (paragraph spacing)."""
        self._flush()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            if "".join(self.current).strip():
                self._flush()
            else:
                self.current = []
                self.lines.append("")
        elif tag in _BLOCK:
            self._gap() if tag in _PARAGRAPH else self._flush()
            if tag == "blockquote":
                self.quote += 1
            elif tag == "li":
                self.current.append("- ")
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th") and self.current:
            self.current.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            if tag == "pre":
                self._flush()
                self.pre = max(0, self.pre - 1)
            self._gap() if tag in _PARAGRAPH else self._flush()
            if tag == "blockquote":
                self.quote = max(0, self.quote - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            for i, part in enumerate(data.split("\n")):
                if i:
                    self._flush()
                self.current.append(part)
        else:
            self.current.append(_SPACES.sub(" ", data.replace("\u00a0", " ")))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML body."""
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # html.parser is lenient; this is belt and braces
        pass
    maker._flush()
    return _BLANKS.sub("\n\n", "\n".join(maker.lines)).strip()
