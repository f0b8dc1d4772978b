"""Migrations 16 and 20 on a database made before them: the columns of roles, personal keys and redaction at
rest are added, existing rows get the defaults (no role: agent; no agent: an integration key)."""

from __future__ import annotations

from helpline.store import migrations
from helpline.store import models as m
from helpline.store.db import database


def test_columns_added_to_an_older_database(backend):
    db = database()
    for table, column in (
        ("agent", "role"),
        ("team", "restrict_second_line"),
        ("api_key", "agent"),
        ("message", "pii_redacted_at"),
    ):
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    db.execute_sql(
        'INSERT INTO "agent" (email, name, slack_user, tier, capacity, availability, skills, open_count, '
        "active, updated_at) VALUES ('old@example.com', 'Old', '', 1, 10, 'available', '{}', 0, "
        "true, CURRENT_TIMESTAMP)"
    )
    m.SchemaVersion.delete().where(m.SchemaVersion.version.in_([16, 20])).execute()
    assert migrations.upgrade() == [16, 20]
    cols = {t: {c.name for c in db.get_columns(t)} for t in ("agent", "team", "api_key", "message")}
    assert "role" in cols["agent"] and "restrict_second_line" in cols["team"]
    assert "agent" in cols["api_key"] and "pii_redacted_at" in cols["message"]
    assert db.execute_sql("SELECT role FROM \"agent\" WHERE email = 'old@example.com'").fetchone()[0] == ""
    assert migrations.upgrade() == []
