"""One knowledge-base file (an article, or a macro under ``macros/``) read into what the store keeps.

The files come from a folder a team keeps in git, so they are trusted to be
meant but not to be well-formed: every problem becomes a ``KbFileError`` with
the file's path and line, which the sync reports and moves on from. YAML is
read with ``safe_load``'s loader and refuses anchors and aliases outright (the
"billion laughs" bomb is built from them and no front matter needs them); a
file over 1 MiB, an image outside the knowledge folder, or a template that does
not compile is refused the same way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

import yaml

from helpline.store.knowledge.kb_state import AUDIENCES, ArticleIn, ImageIn, MacroIn

from helpline.ingest.knowledge import kb_markdown

MAX_FILE_BYTES = 1 << 20
MAX_FRONT_MATTER_BYTES = 64 << 10
MAX_IMAGE_BYTES = 5 << 20
MAX_QUESTIONS = 500
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Raster formats only, recognised by their first bytes: SVG can carry scripts.
_IMAGE_MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
}
_IMAGE_EXT = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MACRO_ACTIONS = ("status", "priority", "tags", "team", "assignee")
MACRO_STATUSES = ("open", "in_progress", "waiting_customer", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")


class KbFileError(ValueError):
    """A file the sync could not take, with where the problem is."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class _NoAliasLoader(yaml.SafeLoader):
    """``safe_load``'s loader, refusing anchors and aliases (YAML bombs are made of them)."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                "while reading the front matter", None, "aliases (*name) are not allowed", event.start_mark
            )
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(
                "while reading the front matter", None, "anchors (&name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class Parsed:
    meta: dict[str, Any]
    lines: dict[str, int]  # front-matter key -> its line in the file (1-based)
    body: str
    body_line: int


def split(path: str, raw: bytes) -> Parsed:
    """Front matter and body of a file, or a KbFileError saying where it is broken."""
    if len(raw) > MAX_FILE_BYTES:
        raise KbFileError(path, None, f"the file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise KbFileError(path, line, "not UTF-8 text") from None
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        raise KbFileError(path, 1, "no front matter: the file must start with a line '---'")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r\n").rstrip() in ("---", "...")), None)
    if end is None:
        raise KbFileError(path, 1, "the front matter is not closed by a line '---'")
    front = "".join(lines[1:end])
    if len(front.encode()) > MAX_FRONT_MATTER_BYTES:
        raise KbFileError(path, 2, f"the front matter is over {MAX_FRONT_MATTER_BYTES} bytes")
    loader = _NoAliasLoader(front)
    try:
        node = loader.get_single_node()
        meta = loader.construct_document(node) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark else 2
        raise KbFileError(path, line, f"front matter: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise KbFileError(path, 2, f"front matter: {exc}") from None
    except RecursionError:
        raise KbFileError(path, 2, "front matter: nested too deeply") from None
    finally:
        loader.dispose()
    if not isinstance(meta, dict):
        raise KbFileError(path, 2, "the front matter must be a mapping of keys (title: …)")
    key_lines = {}
    if isinstance(node, yaml.MappingNode):
        key_lines = {str(k.value): k.start_mark.line + 2 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return Parsed(meta, key_lines, "".join(lines[end + 1 :]), end + 2)


def _str(
    p: Parsed, path: str, key: str, default: str | None = None, *, pattern: re.Pattern | None = None, limit: int = 500
) -> str | None:
    value = p.meta.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise KbFileError(path, p.lines.get(key), f"{key!r} must be text")
    value = str(value).strip()
    if len(value) > limit:
        raise KbFileError(path, p.lines.get(key), f"{key!r} is over {limit} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise KbFileError(path, p.lines.get(key), f"{key!r} {value!r} must match {pattern.pattern}")
    return value


def _item(v: Any) -> Any:
    """A list entry as its author meant it: YAML reads ``- is there a fee: for transfers?`` as a one-key
    mapping and ``- yes`` as true; a question is text, so both are turned back into it."""
    if isinstance(v, dict) and len(v) == 1:
        ((k, val),) = v.items()
        if isinstance(k, (str, int, float)) and isinstance(val, (str, int, float)) and not isinstance(val, bool):
            return f"{k}: {val}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return v


def _str_list(p: Parsed, path: str, key: str, *, limit: int, each: int = 1000) -> tuple[str, ...]:
    value = p.meta.get(key) or []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = [_item(v) for v in value]
    if not isinstance(value, list) or not all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        raise KbFileError(path, p.lines.get(key), f"{key!r} must be a list of texts")
    if len(value) > limit:
        raise KbFileError(path, p.lines.get(key), f"{key!r} has {len(value)} entries; the limit is {limit}")
    out = tuple(str(v).strip() for v in value if str(v).strip())
    if any(len(v) > each for v in out):
        raise KbFileError(path, p.lines.get(key), f"an entry of {key!r} is over {each} characters")
    return out


def _line_of(text: str, needle: str, first_line: int) -> int:
    at = text.find(needle)
    return first_line + (text[:at].count("\n") if at >= 0 else 0)


def read_article(file: Path, root: Path, put_blob: Callable[[bytes], str]) -> ArticleIn:
    """The article in ``file`` (under the knowledge folder ``root``), its images stored with ``put_blob``."""
    rel = file.relative_to(root).as_posix()
    raw = file.read_bytes()
    p = split(rel, raw)
    known = {"title", "slug", "language", "tags", "audience", "team", "questions"}
    unknown = sorted(set(map(str, p.meta)) - known)
    if unknown:
        raise KbFileError(
            rel, p.lines.get(unknown[0]), f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    slug = _str(p, rel, "slug", file.name[:-3], pattern=SLUG) or ""
    if not SLUG.fullmatch(slug):
        raise KbFileError(
            rel,
            None,
            f"the file name gives the slug {slug!r}, which must match {SLUG.pattern}; rename the file or set 'slug'",
        )
    # No title: the slug as words, rather than an article missing from search over one omission.
    title = _str(p, rel, "title", limit=300) or re.sub(r"[-_.]+", " ", slug).strip().capitalize()
    language = (_str(p, rel, "language", "en", pattern=LANGUAGE) or "en").lower()
    audience = _str(p, rel, "audience", "public") or "public"
    if audience not in AUDIENCES:
        raise KbFileError(rel, p.lines.get("audience"), f"'audience' is public or internal, not {audience!r}")
    team = _str(p, rel, "team", None, pattern=NAME, limit=100)
    tags = _str_list(p, rel, "tags", limit=50, each=100)
    questions = _str_list(p, rel, "questions", limit=MAX_QUESTIONS)
    images, digest_of = _images(file, root, rel, p, put_blob)
    html = kb_markdown.render(p.body, digest_of.get)
    checksum = hashlib.sha256(raw + b"".join(i.sha256.encode() for i in images)).hexdigest()
    return ArticleIn(
        slug=slug,
        language=language,
        title=title,
        body=p.body,
        html=html,
        checksum=checksum,
        source_path=rel,
        tags=tags,
        audience=audience,
        team=team,
        questions=questions,
        images=tuple(images),
    )


def _images(
    file: Path, root: Path, rel: str, p: Parsed, put_blob: Callable[[bytes], str]
) -> tuple[list[ImageIn], dict[str, str]]:
    """Keep the images the article references by relative path; refuse any that leave the folder."""
    images: dict[str, ImageIn] = {}
    digest_of: dict[str, str] = {}
    root_real = root.resolve()
    for src in kb_markdown.image_refs(p.body):
        parts = urlsplit(src)
        if parts.scheme or parts.netloc or not parts.path:
            continue  # remote or data: images are dropped when rendering, never fetched
        line = _line_of(p.body, src, p.body_line)
        target = (file.parent / unquote(parts.path)).resolve()
        if parts.path.startswith("/") or not target.is_relative_to(root_real):
            raise KbFileError(rel, line, f"image {src!r} is outside the knowledge folder")
        if not target.is_file():
            raise KbFileError(rel, line, f"image {src!r} does not exist")
        ctype = _IMAGE_EXT.get(target.suffix.lower())
        if ctype is None:
            raise KbFileError(rel, line, f"image {src!r}: only {', '.join(sorted(_IMAGE_EXT))} images are kept")
        size = target.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise KbFileError(rel, line, f"image {src!r} is {size} bytes; the limit is {MAX_IMAGE_BYTES}")
        data = target.read_bytes()
        if not data.startswith(_IMAGE_MAGIC[ctype]):
            raise KbFileError(rel, line, f"image {src!r} is not a {ctype} file")
        sha = hashlib.sha256(data).hexdigest()
        digest_of[src] = sha
        if sha not in images:
            images[sha] = ImageIn(
                path=target.relative_to(root_real).as_posix(),
                sha256=sha,
                content_type=ctype,
                size=size,
                blob_key=put_blob(data),
            )
    return list(images.values()), digest_of


def read_macro(file: Path, root: Path) -> MacroIn:
    """The macro in ``file`` (under ``root/macros/``); its body must compile as a sandboxed template."""
    from helpline.notifier import macro_render

    rel = file.relative_to(root).as_posix()
    raw = file.read_bytes()
    p = split(rel, raw)
    known = {"name", "team", "language", "actions"}
    unknown = sorted(set(map(str, p.meta)) - known)
    if unknown:
        raise KbFileError(
            rel, p.lines.get(unknown[0]), f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    name = _str(p, rel, "name", file.name[:-3], pattern=NAME) or ""
    team = _str(p, rel, "team", "", limit=100) or ""
    if team and not NAME.fullmatch(team):
        raise KbFileError(rel, p.lines.get("team"), f"'team' {team!r} must match {NAME.pattern}")
    language = (_str(p, rel, "language", "en", pattern=LANGUAGE) or "en").lower()
    actions = _actions(p, rel)
    if not p.body.strip():
        raise KbFileError(rel, p.body_line, "the macro's reply (the text after the front matter) is empty")
    try:
        macro_render.compile_body(p.body)
    except macro_render.MacroError as exc:
        raise KbFileError(rel, p.body_line - 1 + (exc.line or 1), str(exc)) from None
    return MacroIn(
        name=name,
        language=language,
        team=team,
        actions=actions,
        body=p.body,
        checksum=hashlib.sha256(raw).hexdigest(),
        source_path=rel,
    )


def _actions(p: Parsed, rel: str) -> dict[str, Any]:
    value = p.meta.get("actions") or {}
    line = p.lines.get("actions")
    if not isinstance(value, dict):
        raise KbFileError(rel, line, "'actions' must be a mapping (status: resolved, tags: [...])")
    bad = sorted(set(map(str, value)) - set(MACRO_ACTIONS))
    if bad:
        raise KbFileError(rel, line, f"unknown action {bad[0]!r} (known: {', '.join(MACRO_ACTIONS)})")
    out: dict[str, Any] = {}
    for key, val in value.items():
        if key == "tags":
            tags = [val] if isinstance(val, str) else val
            if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 100 for t in tags):
                raise KbFileError(rel, line, "'actions.tags' must be a list of short texts")
            out["tags"] = [t.strip() for t in tags]
            continue
        if not isinstance(val, str) or len(val) > 200:
            raise KbFileError(rel, line, f"'actions.{key}' must be text")
        if key == "status" and val not in MACRO_STATUSES:
            raise KbFileError(rel, line, f"'actions.status' is one of {', '.join(MACRO_STATUSES)}, not {val!r}")
        if key == "priority" and val not in PRIORITIES:
            raise KbFileError(rel, line, f"'actions.priority' is one of {', '.join(PRIORITIES)}, not {val!r}")
        out[key] = val.strip()
    return out
