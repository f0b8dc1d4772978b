"""Migration 15: the knowledge base's articles, their versions and images, macros and suggestions.

Frozen: never edit; write the next migration instead."""

from __future__ import annotations

import peewee as pw

from helpline.store.db import is_sqlite

NAME = "knowledge base: articles, versions, images, macros, suggestions"


def upgrade(db: pw.Database) -> None:
    """Migration 15: knowledge-base articles, versions, images, macros, suggestions (frozen DDL)."""
    ident = "INTEGER PRIMARY KEY AUTOINCREMENT" if is_sqlite() else "SERIAL PRIMARY KEY"
    ts = "DATETIME" if is_sqlite() else "TIMESTAMP"
    real = "REAL" if is_sqlite() else "DOUBLE PRECISION"
    for stmt in (
        f'CREATE TABLE IF NOT EXISTS "kb_article" ("id" {ident}, "slug" TEXT NOT NULL, "language" TEXT NOT NULL, '
        f'"title" TEXT NOT NULL, "tags" TEXT NOT NULL, "audience" TEXT NOT NULL, "team" TEXT, '
        f'"questions" TEXT NOT NULL, "body" TEXT NOT NULL, "html" TEXT NOT NULL, "source_path" TEXT NOT NULL, '
        f'"checksum" TEXT NOT NULL, "version" INTEGER NOT NULL, "status" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL, "updated_at" {ts} NOT NULL, "retired_at" {ts})',
        'CREATE UNIQUE INDEX IF NOT EXISTS "kb_article_slug_language" ON "kb_article" ("slug", "language")',
        'CREATE INDEX IF NOT EXISTS "kb_article_status" ON "kb_article" ("status")',
        f'CREATE TABLE IF NOT EXISTS "kb_article_version" ("id" {ident}, "article_id" INTEGER NOT NULL '
        f'REFERENCES "kb_article" ("id") ON DELETE CASCADE, "version" INTEGER NOT NULL, "title" TEXT NOT NULL, '
        f'"body" TEXT NOT NULL, "meta" TEXT NOT NULL, "checksum" TEXT NOT NULL, "replaced_at" {ts} NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "kb_article_version_article" ON "kb_article_version" ("article_id", "version")',
        f'CREATE TABLE IF NOT EXISTS "kb_image" ("id" {ident}, "article_id" INTEGER NOT NULL '
        f'REFERENCES "kb_article" ("id") ON DELETE CASCADE, "sha256" TEXT NOT NULL, "path" TEXT NOT NULL, '
        f'"content_type" TEXT NOT NULL, "size" INTEGER NOT NULL, "blob_key" TEXT NOT NULL)',
        'CREATE INDEX IF NOT EXISTS "kb_image_article" ON "kb_image" ("article_id", "sha256")',
        f'CREATE TABLE IF NOT EXISTS "kb_macro" ("id" {ident}, "name" TEXT NOT NULL, "language" TEXT NOT NULL, '
        f'"team" TEXT NOT NULL, "actions" TEXT NOT NULL, "body" TEXT NOT NULL, "source_path" TEXT NOT NULL, '
        f'"checksum" TEXT NOT NULL, "status" TEXT NOT NULL, "updated_at" {ts} NOT NULL)',
        'CREATE UNIQUE INDEX IF NOT EXISTS "kb_macro_name" ON "kb_macro" ("name", "language", "team")',
        f'CREATE TABLE IF NOT EXISTS "kb_suggestion" ("id" {ident}, "ticket_id" INTEGER NOT NULL '
        f'REFERENCES "ticket" ("id") ON DELETE CASCADE, "kind" TEXT NOT NULL, "ref" TEXT NOT NULL, '
        f'"language" TEXT NOT NULL, "rank" INTEGER NOT NULL, "score" {real} NOT NULL, "why" TEXT NOT NULL, '
        f'"created_at" {ts} NOT NULL, "action" TEXT NOT NULL, "acted_by" TEXT NOT NULL, "acted_at" {ts})',
        'CREATE INDEX IF NOT EXISTS "kb_suggestion_ticket" ON "kb_suggestion" ("ticket_id", "rank")',
    ):
        db.execute_sql(stmt)
