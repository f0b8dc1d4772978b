"""The search index's ordinary tables as models (their DDL is migration 14's): ticket tags, the
article index and the record of searches that found nothing. The engine-specific parts of the index
(FTS5 tables, tsvector columns, triggers) have no model: tests/store/schema_check.py names them."""

from __future__ import annotations

import peewee as pw

from helpline.store.models import Base, Ticket, utcnow


class TicketTag(Base):
    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE", index=False)
    tag = pw.CharField(max_length=64)
    actor = pw.CharField(max_length=255)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "ticket_tag"
        primary_key = pw.CompositeKey("ticket", "tag")
        indexes = ((("tag",), False),)


class SearchArticle(Base):
    slug = pw.CharField(max_length=255)
    language = pw.CharField(max_length=16)
    title = pw.TextField()
    body = pw.TextField()
    questions = pw.TextField()
    tags = pw.TextField()
    audience = pw.CharField(max_length=16)
    team = pw.CharField(max_length=255, null=True)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "search_article"
        indexes = ((("slug", "language"), True),)


class SearchMiss(Base):
    query = pw.CharField(max_length=500, primary_key=True)
    count = pw.IntegerField()
    first_at = pw.DateTimeField(default=utcnow)
    last_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "search_miss"
        indexes = ((("last_at",), False),)
