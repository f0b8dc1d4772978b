"""Customer-facing text from Jinja2 templates: bundled defaults, operator overrides, one per language.

Every text a customer receives without an agent writing it (acknowledgements,
status notices, surveys, SMS answers) is a template, so operators can reword
it without a release: a file of the same name in the TOML ``templates_dir``
replaces the bundled one. ``de/status_resolved.txt`` is the German form of
``status_resolved.txt``; a language without its own file falls back to the
base language (``pt`` for ``pt-BR``) and then to the bundled default, so a
missing translation never stops a message.

The acknowledgement is rendered for every new ticket on the pipeline's hot
path, so templates are compiled once per process (one environment per
templates directory, each resolved template kept) and never re-read; an
operator's change takes effect when the workers restart. ``.html`` templates
are autoescaped: names and subjects come from whoever wrote in.

An email is a pair: ``NAME.txt`` and, beside it, ``NAME.html``, sent together
as multipart/alternative. The HTML part is taken only from the directory and
language its text came from: an operator who rewrites ``ack.txt`` without an
``ack.html``, or a translation without its HTML, sends text alone rather
than an HTML part that says something else.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, Template, TemplateNotFound, select_autoescape

BUNDLED = Path(__file__).resolve().parent / "templates"


class TemplateMissing(LookupError):
    """No template of that name exists, bundled or overridden."""


def _languages(language: str | None) -> list[str]:
    code = (language or "").strip().lower().replace("_", "-")
    if not code or not all(part.isalnum() for part in code.split("-")):
        return []  # never a path outside the templates directory
    base = code.split("-", 1)[0]
    return [code] if code == base else [code, base]


class Templates:
    """The templates of one directory of overrides over the bundled ones."""

    def __init__(self, override_dir: str = "") -> None:
        loaders = [FileSystemLoader(override_dir)] if override_dir else []
        loaders.append(FileSystemLoader(str(BUNDLED)))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._resolved: dict[tuple[str, str], Template | None] = {}
        self._pairs: dict[tuple[str, str], tuple[Template, Template | None] | None] = {}

    def find(self, name: str, language: str | None = None) -> Template | None:
        """The template for ``name`` in ``language`` (or its fallbacks); None when there is none at all."""
        key = (name, language or "")
        if key in self._resolved:
            return self._resolved[key]
        found = None
        for candidate in [f"{lang}/{name}" for lang in _languages(language)] + [name]:
            try:
                found = self.env.get_template(candidate)
                break
            except TemplateNotFound:
                continue
        self._resolved[key] = found
        return found

    def email_pair(self, name: str, language: str | None = None) -> tuple[Template, Template | None] | None:
        """The text template ``NAME.txt`` and the HTML one beside it (same directory and language),
        or None when there is no text template at all."""
        key = (name, language or "")
        if key in self._pairs:
            return self._pairs[key]
        text = self.find(name + ".txt", language)
        pair: tuple[Template, Template | None] | None = None
        if text is not None:
            html = None
            if text.filename and text.name and text.name.endswith(".txt"):
                try:
                    html = self.env.get_template(text.name[:-4] + ".html")
                except TemplateNotFound:
                    html = None
                want = os.path.normpath(text.filename[:-4] + ".html")
                if html is not None and os.path.normpath(html.filename or "") != want:
                    html = None  # found in another directory: it would not match this text
            pair = (text, html)
        self._pairs[key] = pair
        return pair

    def email(self, name: str, language: str | None = None, **context: Any) -> tuple[str, str]:
        """(text, html) of the email ``name`` (no extension); html is "" when the text has no HTML twin."""
        pair = self.email_pair(name, language)
        if pair is None:
            raise TemplateMissing(f"no template {name + '.txt'!r} in {BUNDLED} or the configured templates_dir")
        text, html = pair
        return text.render(**context), (html.render(**context) if html is not None else "")

    def has_email(self, name: str, language: str | None = None) -> bool:
        return self.email_pair(name, language) is not None

    def render(self, name: str, language: str | None = None, **context: Any) -> str:
        template = self.find(name, language)
        if template is None:
            raise TemplateMissing(f"no template {name!r} in {BUNDLED} or the configured templates_dir")
        return template.render(**context)


@lru_cache(maxsize=8)
def templates(override_dir: str = "") -> Templates:
    """The process-wide templates of ``override_dir`` (compiled once)."""
    return Templates(override_dir)
