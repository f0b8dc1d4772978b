"""THE hook where erasure and retention tell the full-text search index what to forget.

``forget_tickets`` is called after a transaction that blanked or deleted the
texts of ``ticket_ids``. The search index (migration 14, FTS5 on SQLite,
tsvector on PostgreSQL) lives on another branch; at merge its module's
removal of these tickets' entries, followed on SQLite by an FTS5
``INSERT INTO idx(idx) VALUES('rebuild')`` (so no deleted term survives in the
index's own pages), is wired in here and nowhere else. Until then the index
does not exist and there is nothing to forget.
"""
from __future__ import annotations

from typing import Sequence


def forget_tickets(ticket_ids: Sequence[int]) -> None:
    """Remove the search entries of these tickets' messages and rebuild the index (see module doc)."""
    return None
