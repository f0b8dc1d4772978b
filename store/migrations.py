"""Versioned schema migrations, safe when several hosts start at once.

Each migration runs once, in order, inside one transaction that first takes a
lock (a PostgreSQL advisory lock; SQLite's write lock from ``BEGIN IMMEDIATE``),
so two hosts running ``helpline db upgrade`` together apply it exactly once.
A later migration must be written against the schema as the earlier ones left
it (use ``playhouse.migrate``), never by editing an applied one.
"""
from __future__ import annotations

import logging
from typing import Callable

import peewee

from . import imap_state, models, slack_state, sms_state, webhook_state
from .db import database, is_sqlite, write_tx
from . import routing_state
from . import triage_state
from . import api_keys
from . import csat_state
from . import similarity_state
from .lifecycle import schema as lifecycle_schema
from . import kb_state
from . import search_schema
from . import agent_roles, pii_at_rest

log = logging.getLogger("helpline.store")

_LOCK_KEY = 0x48454C50  # "HELP"


def _v1_initial(db: peewee.Database) -> None:
    db.create_tables([m for m in models.ALL_MODELS if m is not models.SchemaVersion], safe=True)
    if not is_sqlite():
        db.execute_sql("CREATE SEQUENCE IF NOT EXISTS helpline_ticket_number")


def _v2_rate_counters(db: peewee.Database) -> None:
    db.create_tables([models.RateCounter], safe=True)


MIGRATIONS: list[tuple[int, str, Callable[[peewee.Database], None]]] = [
    (1, "initial schema", _v1_initial),
    (2, "rate counters", _v2_rate_counters),
    (3, "imap poller state", imap_state.upgrade_v2),
    (4, "sms opt-outs and mms media", sms_state.upgrade_v4),
    (5, "webhook api: api keys, replay guard, ticket fields and sources", webhook_state.upgrade_v5),
    (6, "slack threads and agents", slack_state.upgrade_v6),
    (7, "teams, agents, ticket routing and SLA clocks", routing_state.upgrade_v7),
    (8, "message language and sentiment, repeated-contact index", triage_state.upgrade_v8),
    (9, "ticket api: api keys bound to a team", api_keys.upgrade_v9),
    (10, "csat surveys and answers", csat_state.upgrade_v10),
    (11, "ticket fingerprints and band keys, merges, incidents", similarity_state.upgrade_v11),
    (12, "incident grouping off the pipeline: grouped mark, band rows dropped", similarity_state.upgrade_v12),
    (13, "imap status: last success and last error times", imap_state.upgrade_v13),
    (17, "data lifecycle: legal holds, erasure ledger, provider clean-up tasks", lifecycle_schema.upgrade_v17),
    (15, "knowledge base: articles, versions, images, macros, suggestions", kb_state.upgrade_v15),
    (14, "full-text search index, ticket tags, article index, empty searches", search_schema.upgrade_v14),
    (16, "agents' roles, teams' second-line restriction, API keys bound to an agent", agent_roles.upgrade_v16),
    (20, "messages' personal data redacted at rest (when)", pii_at_rest.upgrade_v20),
]

LATEST = max(version for version, _, _ in MIGRATIONS)


def current_version() -> int:
    db = database()
    if not db.table_exists("schema_version"):
        return 0
    return models.SchemaVersion.select(peewee.fn.COALESCE(peewee.fn.MAX(models.SchemaVersion.version), 0)).scalar()


def upgrade() -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    db = database()
    applied: list[int] = []
    with write_tx():
        if not is_sqlite():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        db.create_tables([models.SchemaVersion], safe=True)
        # By the set applied, not the highest: a migration merged after a later-
        # numbered one (parallel branches) still runs.
        have = {v for (v,) in models.SchemaVersion.select(models.SchemaVersion.version).tuples()}
        for version, name, fn in sorted(MIGRATIONS, key=lambda mig: mig[0]):  # in number order, however listed
            if version in have:
                continue
            fn(db)
            models.SchemaVersion.create(version=version, name=name)
            log.info("event=migration_applied version=%d name=%r", version, name)
            applied.append(version)
    return applied
