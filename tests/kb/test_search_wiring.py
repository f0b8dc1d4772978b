"""Articles synced from the knowledge folder are found by full-text search, and retired ones are not."""

from __future__ import annotations

from helpline.store.db import run_tx
from helpline.store.fulltext.search import search_articles
from helpline.store.fulltext.search_syntax import parse

from .helpers import article, run_sync, write


def _slugs(text: str) -> list[str]:
    return [hit.slug for hit in run_tx(lambda: search_articles(parse(text)))]


def test_synced_articles_are_searchable_until_retired(backend, tmp_path):
    root = tmp_path / "kb"
    write(
        root,
        "reset-password.md",
        article(
            "Reset your password", ["I forgot my password"], body="Open the login page and choose *Forgot password*."
        ),
    )
    write(root, "refunds.md", article("Refunds", ["Where is my refund?"], body="Refunds take five days."))
    run_sync(backend, root)
    assert _slugs("forgot password") == ["reset-password"]
    assert _slugs("refund") == ["refunds"]

    write(
        root,
        "refunds.md",
        article(
            "Refunds and returns", ["Where is my refund?"], body="Refunds take five working days; returns are free."
        ),
    )
    run_sync(backend, root)
    assert _slugs("returns free") == ["refunds"]  # the changed text, not the old one

    (root / "refunds.md").unlink()
    run_sync(backend, root)
    assert _slugs("refund") == []
    assert _slugs("forgot password") == ["reset-password"]
