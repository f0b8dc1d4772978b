"""THE hook where erasure and retention tell the full-text search index what to forget.

``forget_tickets`` is called after a transaction that blanked or deleted the
texts of ``ticket_ids``. The index's triggers (``store/migrations/v014_search.py``) already
changed its content with the texts; ``search_index.forget`` purges the old
terms from SQLite's FTS5 pages (see there).
"""

from __future__ import annotations

from typing import Sequence


def forget_tickets(ticket_ids: Sequence[int]) -> None:
    """Remove the search entries of these tickets' messages and rebuild the index (see module doc)."""
    from helpline.store.fulltext import search_index  # the lifecycle package is imported by the CLI without search

    search_index.forget(ticket_ids)
