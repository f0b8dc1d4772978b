"""``helpline kb sync DIR``: make the knowledge base what the folder says.

Every ``*.md`` under DIR (recursively, symlinked folders not followed, files
that resolve outside DIR refused) is an article, except those under
``DIR/macros/``, which are macros. New ones are added, changed ones updated
(the store keeps the text they replace), and articles whose file is gone are
retired. A broken file is reported with its path and line and skipped; what it
held before stays as it was (neither updated nor retired), so one typo does
not take an article offline. The database writes happen in one transaction,
so a reader never sees half a sync.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from helpline.store.knowledge import kb_state
from helpline.store.fulltext import search_index
from helpline.store.db import run_tx
from helpline.store.clock import utcnow

from helpline.ingest.knowledge.kb_files import KbFileError, read_article, read_macro

log = logging.getLogger("helpline.kb")


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    macros: dict[str, list[str]] = field(default_factory=dict)
    errors: list[KbFileError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "retired": self.retired,
            "macros": self.macros,
            "errors": [{"path": e.path, "line": e.line, "error": e.message} for e in self.errors],
        }


def hand_to_search(article: Any, *, retired: bool) -> None:
    """The one place an article is handed to the full-text search index (inside the sync's transaction,
    so an article is searchable exactly when its change commits). The suggestion ranker
    (``router/kb/kb_rank.py``) reads the kb tables directly and needs no index."""
    if retired:
        search_index.remove_article(article.slug, article.language)
        return
    search_index.index_article(
        article.slug,
        article.language,
        article.title,
        article.body,
        questions=article.questions,
        tags=article.tags,
        audience=article.audience,
        team=article.team or None,
    )


def _files(root: Path) -> tuple[list[Path], list[Path]]:
    """(article files, macro files) under ``root``, sorted, never leaving it through a symlink."""
    articles: list[Path] = []
    macros: list[Path] = []
    macro_dir = root / "macros"
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in sorted(filenames):
            if not name.endswith(".md") or name.startswith("."):
                continue
            (macros if here == macro_dir else articles if not here.is_relative_to(macro_dir) else []).append(
                here / name
            )
    return articles, macros


def sync(root: str | Path, put_blob: Callable[[bytes], str]) -> SyncReport:
    """Read the folder and apply it to the store; ``put_blob`` keeps an image's bytes and gives its key."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of Markdown articles")
    root_real = root.resolve()
    report = SyncReport()
    article_files, macro_files = _files(root)
    parsed: list[kb_state.ArticleIn] = []
    broken: set[str] = set()
    seen: dict[tuple[str, str], str] = {}
    for f in article_files:
        rel = f.relative_to(root).as_posix()
        try:
            if not f.resolve().is_relative_to(root_real) or not f.resolve().is_file():
                raise KbFileError(rel, None, "a link to a file outside the knowledge folder")
            a = read_article(f, root, put_blob)
            if (a.slug, a.language) in seen:
                raise KbFileError(
                    rel,
                    None,
                    f"slug {a.slug!r} ({a.language}) is already used by "
                    f"{seen[(a.slug, a.language)]}; set another 'slug'",
                )
        except KbFileError as exc:
            report.errors.append(exc)
            broken.add(rel)
            continue
        except OSError as exc:
            report.errors.append(KbFileError(rel, None, f"cannot read: {exc.strerror or exc}"))
            broken.add(rel)
            continue
        seen[(a.slug, a.language)] = rel
        parsed.append(a)
    macros: list[kb_state.MacroIn] = []
    broken_macros: set[str] = set()
    for f in macro_files:
        rel = f.relative_to(root).as_posix()
        try:
            if not f.resolve().is_relative_to(root_real) or not f.resolve().is_file():
                raise KbFileError(rel, None, "a link to a file outside the knowledge folder")
            macros.append(read_macro(f, root))
        except KbFileError as exc:
            report.errors.append(exc)
            broken_macros.add(rel)
        except OSError as exc:
            report.errors.append(KbFileError(rel, None, f"cannot read: {exc.strerror or exc}"))
            broken_macros.add(rel)

    def apply() -> None:  # run_tx may run it again after a dropped connection: start each try afresh
        now = utcnow()
        for got in (report.added, report.updated, report.unchanged, report.retired):
            got.clear()
        for a in parsed:
            outcome, aid = kb_state.upsert_article(a, now)
            name = a.slug if a.language == "en" else f"{a.slug} ({a.language})"
            {"added": report.added, "restored": report.added, "updated": report.updated, "unchanged": report.unchanged}[
                outcome
            ].append(name)
            if outcome != "unchanged":
                hand_to_search(a, retired=False)
        keep = {(a.slug, a.language) for a in parsed}
        keep |= {(r.slug, r.language) for r in kb_state.list_articles() if r.source_path in broken}
        for slug, language in kb_state.retire_missing(keep, now):
            report.retired.append(slug if language == "en" else f"{slug} ({language})")
            hand_to_search(SimpleNamespace(slug=slug, language=language), retired=True)
        mac: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "retired": []}
        for m in macros:
            mac[kb_state.upsert_macro(m, now)].append(m.name)
        keep_m = {(m.name, m.language, m.team) for m in macros}
        keep_m |= {(r.name, r.language, r.team) for r in kb_state.list_macros() if r.source_path in broken_macros}
        mac["retired"] = kb_state.retire_missing_macros(keep_m, now)
        report.macros = mac

    run_tx(apply)
    log.info(
        "event=kb_synced added=%d updated=%d retired=%d errors=%d",
        len(report.added),
        len(report.updated),
        len(report.retired),
        len(report.errors),
    )
    return report
