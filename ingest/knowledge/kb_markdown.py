"""Markdown of a knowledge-base article to HTML that is safe to serve to anyone.

markdown-it-py renders CommonMark (plus tables and strikethrough) with raw HTML
off, so ``<script>`` in a file is shown as text rather than passed through;
the result then goes through the same nh3 allow-list as an email's HTML
(``ingest/email/html.py``), which drops ``javascript:`` links, event handlers
and styles. Images: only those the sync kept (relative paths inside the
knowledge folder) survive, as ``kb-image:<sha256>`` references that the page
serving the article turns into its own URLs (``with_image_urls``); remote
images are dropped, as in mail, because they would tell a third party who read
the article.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Callable

from markdown_it import MarkdownIt

from helpline.ingest.email.html import cleaner

IMAGE_SCHEME = "kb-image:"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


# Only the images the sync kept (``kb-image:<sha256>``); remote ones are dropped.
_CLEANER = cleaner("kb-image", lambda src: re.fullmatch(r"kb-image:[0-9a-f]{64}", src) is not None)


def image_refs(markdown: str) -> list[str]:
    """The image sources a Markdown text uses, in order (markdown-it's own parse, not a regex)."""
    out: list[str] = []

    def walk(tokens) -> None:  # noqa: ANN001
        for t in tokens:
            if t.type == "image":
                out.append(str(t.attrGet("src") or ""))
            if t.children:
                walk(t.children)

    walk(_md.parse(markdown))
    return out


def render(markdown: str, image_for: Callable[[str], str | None]) -> str:
    """Sanitised HTML of ``markdown``; ``image_for(src)`` gives the sha256 of a kept image, or None to drop it."""
    tokens = _md.parse(markdown)

    def walk(tokens) -> None:  # noqa: ANN001
        for t in tokens:
            if t.type == "image":
                digest = image_for(str(t.attrGet("src") or ""))
                t.attrSet("src", f"{IMAGE_SCHEME}{digest}" if digest else "")
            if t.children:
                walk(t.children)

    walk(tokens)
    return _CLEANER.clean(_md.renderer.render(tokens, _md.options, {})).strip()


def with_image_urls(html: str, base: str, suffix: str = "") -> str:
    """The article's HTML with ``kb-image:<sha>`` replaced by ``{base}<sha>{suffix}`` (the serving route's URLs)."""
    return re.sub(
        r'src="kb-image:([0-9a-f]{64})"', lambda m: f'src="{htmllib.escape(base + m.group(1) + suffix)}"', html
    )
