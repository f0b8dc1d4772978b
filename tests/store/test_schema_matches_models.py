"""A database built by the migrations is exactly the schema the models describe, on both engines."""

from __future__ import annotations

import peewee as pw

from helpline.store import db
from helpline.store.models import Base

from .schema_check import differences, store_models


def test_migrations_build_what_the_models_describe(backend):
    assert differences(db.database()) == []


def test_every_table_has_a_model(backend):
    tables = {m._meta.table_name for m in store_models()}
    assert {
        "ticket_fingerprint",
        "ticket_merge",
        "incident",
        "incident_ticket",
        "rate_counter",
        "schema_version",
    } <= tables


def test_the_check_sees_a_column_the_migrations_lack(backend):
    class Extra(Base):
        wanted = pw.CharField(null=True)

        class Meta:
            table_name = "ticket"

    found = differences(db.database(), [Extra])
    assert any("missing column ticket.wanted" in line for line in found)
    assert any("column ticket.number has no field" in line for line in found)


def test_the_check_sees_an_object_no_model_describes(backend):
    database = db.database()
    database.execute_sql('CREATE TABLE "stray" ("id" INTEGER PRIMARY KEY)')
    database.execute_sql('CREATE INDEX "message_subject_x" ON "message" ("author")')
    found = differences(database)
    assert "table stray has no model" in found
    assert any(line.startswith("index on message (('author',), False, False)") for line in found)
