"""Migration 14 (frozen: never edit; write the next migration instead): the full-text index, ticket tags, the article index and the record of empty searches.

Frozen DDL, one list per engine. The index is kept in step by triggers, not by
the pipeline's Python code: every path that writes a message (the pipeline's
single and batch paths, replies, notes, Slack edits, notices, imports) is
covered without a statement of its own, and a trigger costs no round trip (on
SQLite it runs inside the worker's own call; on PostgreSQL on the server).

SQLite: ``message_fts`` is an FTS5 table over the view ``message_search_src``
(external content: the index stores no copy of the texts; snippets read them
back from ``message``), rowid = message id. System messages (acknowledgements,
notices) are left out: they repeat the same words on every ticket.
``ticket_fts`` holds subject, tags and the customer's name and addresses of the
tickets where one of them changed after opening (the first message has them). ``article_fts`` indexes ``search_article``.

PostgreSQL (tickets' vectors, as ``ticket_fts`` rows, only once one of their
fields changed after opening): ``message`` and ``ticket`` gain ``search_simple`` (the ``simple``
configuration: every word as written) and ``search_lang`` (stemmed in the
configuration of the detected language; NULL when unknown), each with a GIN
index, filled by BEFORE triggers. A query is run against both, so a word is
found whatever language was detected.

A message's ticket is read through ``message.ticket_id`` at query time, so a
merge or a split (which only re-point ``ticket_id``) needs no index change.
"""

from __future__ import annotations

import peewee as pw

from helpline.store.db import is_sqlite

NAME = "full-text search index, ticket tags, article index, empty searches"

# ---- SQLite ------------------------------------------------------------------------------------
_SQLITE_QUOTED = "CASE WHEN {p}.full_text = {p}.text THEN '' ELSE {p}.full_text END"
_SQLITE_WHO = "{p}.author || ' ' || {p}.sender"
_SQLITE_CUSTOMER = (
    "(SELECT c.name || ' ' || COALESCE((SELECT group_concat(i.address, ' ') FROM identity i "
    "WHERE i.customer_id = c.id), '') FROM customer c WHERE c.id = {cid})"
)
_SQLITE_TAGS = "COALESCE((SELECT group_concat(tag, ' ') FROM ticket_tag WHERE ticket_id = {tid}), '')"


# (re)write the ticket_fts rows of the tickets ``where`` selects (alias t)
_SQLITE_TICKET_ROW = (
    "INSERT OR REPLACE INTO ticket_fts (rowid, subject, tags, customer) SELECT t.id, t.subject, "
    + _SQLITE_TAGS.format(tid="t.id")
    + ", COALESCE("
    + _SQLITE_CUSTOMER.format(cid="t.customer_id")
    + ", '') FROM ticket t WHERE {where}"
)


def _msg_values(p: str) -> str:
    return f"{p}.id, {p}.subject, {p}.text, {_SQLITE_QUOTED.format(p=p)}, {_SQLITE_WHO.format(p=p)}"


_SQLITE = [
    'CREATE TABLE IF NOT EXISTS "ticket_tag" ("ticket_id" INTEGER NOT NULL REFERENCES "ticket" ("id") '
    'ON DELETE CASCADE, "tag" VARCHAR(64) NOT NULL, "actor" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, '
    'PRIMARY KEY ("ticket_id", "tag"))',
    'CREATE INDEX IF NOT EXISTS "ticket_tag_tag" ON "ticket_tag" ("tag")',
    'CREATE TABLE IF NOT EXISTS "search_article" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "slug" VARCHAR(255) NOT NULL, '
    '"language" VARCHAR(16) NOT NULL, "title" TEXT NOT NULL, "body" TEXT NOT NULL, "questions" TEXT NOT NULL, '
    '"tags" TEXT NOT NULL, "audience" VARCHAR(16) NOT NULL, "team" VARCHAR(255), "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX IF NOT EXISTS "search_article_slug" ON "search_article" ("slug", "language")',
    'CREATE TABLE IF NOT EXISTS "search_miss" ("query" VARCHAR(500) PRIMARY KEY, "count" INTEGER NOT NULL, '
    '"first_at" DATETIME NOT NULL, "last_at" DATETIME NOT NULL)',
    'CREATE INDEX IF NOT EXISTS "search_miss_last" ON "search_miss" ("last_at")',
    # messages
    'CREATE VIEW IF NOT EXISTS "message_search_src" AS SELECT id, subject, text, '
    f"{_SQLITE_QUOTED.format(p='message')} AS quoted, {_SQLITE_WHO.format(p='message')} AS who "
    "FROM message WHERE author_role <> 'system'",
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(subject, text, quoted, who, "
    "content='message_search_src', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ai AFTER INSERT ON message WHEN new.author_role <> 'system' BEGIN "
    f"INSERT INTO message_fts (rowid, subject, text, quoted, who) VALUES ({_msg_values('new')}); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ad AFTER DELETE ON message WHEN old.author_role <> 'system' BEGIN "
    f"INSERT INTO message_fts (message_fts, rowid, subject, text, quoted, who) VALUES ('delete', {_msg_values('old')}); "
    "END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_au AFTER UPDATE OF subject, text, full_text, author, sender, author_role "
    "ON message BEGIN "
    f"INSERT INTO message_fts (message_fts, rowid, subject, text, quoted, who) SELECT 'delete', {_msg_values('old')} "
    "WHERE old.author_role <> 'system'; "
    f"INSERT INTO message_fts (rowid, subject, text, quoted, who) SELECT {_msg_values('new')} "
    "WHERE new.author_role <> 'system'; END",
    # tickets: subject, tags, customer. A row is written only when one of them changes after the ticket
    # was opened: at opening, the first message's document already holds the subject and the customer's
    # name and address, and a second FTS5 table written in every pipeline transaction would double the
    # index's cost per message (each commit flushes a segment per table).
    "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_fts USING fts5(subject, tags, customer, "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS ticket_fts_au AFTER UPDATE OF subject, customer_id ON ticket BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.id = new.id')}; END",
    "CREATE TRIGGER IF NOT EXISTS ticket_fts_ad AFTER DELETE ON ticket BEGIN "
    "DELETE FROM ticket_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS ticket_tag_ai AFTER INSERT ON ticket_tag BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.id = new.ticket_id')}; END",
    "CREATE TRIGGER IF NOT EXISTS ticket_tag_ad AFTER DELETE ON ticket_tag BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.id = old.ticket_id')}; END",
    "CREATE TRIGGER IF NOT EXISTS customer_fts_au AFTER UPDATE OF name ON customer BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.customer_id = new.id')}; END",
    "CREATE TRIGGER IF NOT EXISTS identity_fts_ai AFTER INSERT ON identity BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.customer_id = new.customer_id')}; END",
    "CREATE TRIGGER IF NOT EXISTS identity_fts_au AFTER UPDATE OF customer_id, address ON identity BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.customer_id IN (old.customer_id, new.customer_id)')}; END",
    "CREATE TRIGGER IF NOT EXISTS identity_fts_ad AFTER DELETE ON identity BEGIN "
    f"{_SQLITE_TICKET_ROW.format(where='t.customer_id = old.customer_id')}; END",
    # articles
    "CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5(title, questions, body, tags, "
    "content='search_article', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS article_fts_ai AFTER INSERT ON search_article BEGIN "
    "INSERT INTO article_fts (rowid, title, questions, body, tags) VALUES "
    "(new.id, new.title, new.questions, new.body, new.tags); END",
    "CREATE TRIGGER IF NOT EXISTS article_fts_ad AFTER DELETE ON search_article BEGIN "
    "INSERT INTO article_fts (article_fts, rowid, title, questions, body, tags) VALUES "
    "('delete', old.id, old.title, old.questions, old.body, old.tags); END",
    "CREATE TRIGGER IF NOT EXISTS article_fts_au AFTER UPDATE ON search_article BEGIN "
    "INSERT INTO article_fts (article_fts, rowid, title, questions, body, tags) VALUES "
    "('delete', old.id, old.title, old.questions, old.body, old.tags); "
    "INSERT INTO article_fts (rowid, title, questions, body, tags) VALUES "
    "(new.id, new.title, new.questions, new.body, new.tags); END",
]

# ---- PostgreSQL --------------------------------------------------------------------------------
# Longest text put into a vector: a tsvector holds at most 1 MB, and positions stop at 16,383.
_PG_CAP = 100000

_PG = [
    'CREATE TABLE IF NOT EXISTS "ticket_tag" ("ticket_id" INTEGER NOT NULL REFERENCES "ticket" ("id") '
    'ON DELETE CASCADE, "tag" VARCHAR(64) NOT NULL, "actor" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, '
    'PRIMARY KEY ("ticket_id", "tag"))',
    'CREATE INDEX IF NOT EXISTS "ticket_tag_tag" ON "ticket_tag" ("tag")',
    'CREATE TABLE IF NOT EXISTS "search_article" ("id" SERIAL PRIMARY KEY, "slug" VARCHAR(255) NOT NULL, '
    '"language" VARCHAR(16) NOT NULL, "title" TEXT NOT NULL, "body" TEXT NOT NULL, "questions" TEXT NOT NULL, '
    '"tags" TEXT NOT NULL, "audience" VARCHAR(16) NOT NULL, "team" VARCHAR(255), "updated_at" TIMESTAMP NOT NULL, '
    '"search_simple" TSVECTOR, "search_lang" TSVECTOR)',
    'CREATE UNIQUE INDEX IF NOT EXISTS "search_article_slug" ON "search_article" ("slug", "language")',
    'CREATE TABLE IF NOT EXISTS "search_miss" ("query" VARCHAR(500) PRIMARY KEY, "count" INTEGER NOT NULL, '
    '"first_at" TIMESTAMP NOT NULL, "last_at" TIMESTAMP NOT NULL)',
    'CREATE INDEX IF NOT EXISTS "search_miss_last" ON "search_miss" ("last_at")',
    # ISO 639-1 code -> text search configuration ('simple' when unknown or not shipped)
    """CREATE OR REPLACE FUNCTION helpline_ts_config(lang TEXT) RETURNS regconfig LANGUAGE sql IMMUTABLE AS $$
    SELECT (CASE lower(coalesce(lang, '')) WHEN 'en' THEN 'english' WHEN 'fr' THEN 'french' WHEN 'de' THEN 'german'
      WHEN 'es' THEN 'spanish' WHEN 'it' THEN 'italian' WHEN 'pt' THEN 'portuguese' WHEN 'nl' THEN 'dutch'
      WHEN 'sv' THEN 'swedish' WHEN 'da' THEN 'danish' WHEN 'no' THEN 'norwegian' WHEN 'nb' THEN 'norwegian'
      WHEN 'fi' THEN 'finnish' WHEN 'ru' THEN 'russian' WHEN 'hu' THEN 'hungarian' WHEN 'ro' THEN 'romanian'
      WHEN 'tr' THEN 'turkish' ELSE 'simple' END)::regconfig $$""",
    f"""CREATE OR REPLACE FUNCTION helpline_message_vector(cfg regconfig, subject TEXT, body TEXT, full_body TEXT,
      who TEXT) RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector(cfg, left(coalesce(subject, ''), 1000)), 'B')
        || setweight(to_tsvector(cfg, left(coalesce(body, ''), {_PG_CAP})), 'A')
        || setweight(to_tsvector(cfg, CASE WHEN full_body = body THEN '' ELSE left(coalesce(full_body, ''), {_PG_CAP})
           END), 'D')
        || setweight(to_tsvector('simple', coalesce(who, '') || ' ' || translate(coalesce(who, ''), '@.+_-', '     ')),
           'C') $$""",
    """CREATE OR REPLACE FUNCTION helpline_message_search() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE cfg regconfig;
    BEGIN
      IF NEW.author_role = 'system' THEN
        NEW.search_simple := NULL; NEW.search_lang := NULL; RETURN NEW;
      END IF;
      NEW.search_simple := helpline_message_vector('simple', NEW.subject, NEW.text, NEW.full_text,
                                                   NEW.author || ' ' || NEW.sender);
      cfg := helpline_ts_config(NEW.language);
      IF cfg = 'simple'::regconfig THEN NEW.search_lang := NULL;
      ELSE NEW.search_lang := helpline_message_vector(cfg, NEW.subject, NEW.text, NEW.full_text,
                                                      NEW.author || ' ' || NEW.sender);
      END IF;
      RETURN NEW;
    END $$""",
    'ALTER TABLE "message" ADD COLUMN IF NOT EXISTS "search_simple" TSVECTOR',
    'ALTER TABLE "message" ADD COLUMN IF NOT EXISTS "search_lang" TSVECTOR',
    'CREATE INDEX IF NOT EXISTS "message_search_simple" ON "message" USING GIN ("search_simple")',
    'CREATE INDEX IF NOT EXISTS "message_search_lang" ON "message" USING GIN ("search_lang")',
    'DROP TRIGGER IF EXISTS "message_search" ON "message"',
    'CREATE TRIGGER "message_search" BEFORE INSERT OR UPDATE OF subject, text, full_text, author, sender, language, '
    'author_role ON "message" FOR EACH ROW EXECUTE FUNCTION helpline_message_search()',
    # tickets: subject, tags, customer's name and addresses
    """CREATE OR REPLACE FUNCTION helpline_ticket_text(tid INTEGER, subject TEXT, cid INTEGER) RETURNS TEXT
    LANGUAGE sql STABLE AS $$
    SELECT coalesce(subject, '') || ' ' || coalesce((SELECT string_agg(tag, ' ') FROM ticket_tag WHERE ticket_id = tid), '')
      || ' ' || coalesce((SELECT c.name || ' ' || coalesce(string_agg(i.address || ' ' || translate(i.address,
         '@.+_-', '     '), ' '), '') FROM customer c LEFT JOIN identity i ON i.customer_id = c.id WHERE c.id = cid
         GROUP BY c.name), '') $$""",
    """CREATE OR REPLACE FUNCTION helpline_ticket_search() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE body TEXT; cfg regconfig;
    BEGIN
      IF TG_OP = 'INSERT' THEN  -- the first message's vector holds the subject and the customer
        NEW.search_simple := NULL; NEW.search_lang := NULL; RETURN NEW;
      END IF;
      body := helpline_ticket_text(NEW.id, NEW.subject, NEW.customer_id);
      NEW.search_simple := to_tsvector('simple', body);
      cfg := helpline_ts_config(NEW.language);
      IF cfg = 'simple'::regconfig THEN NEW.search_lang := NULL; ELSE NEW.search_lang := to_tsvector(cfg, body); END IF;
      RETURN NEW;
    END $$""",
    'ALTER TABLE "ticket" ADD COLUMN IF NOT EXISTS "search_simple" TSVECTOR',
    'ALTER TABLE "ticket" ADD COLUMN IF NOT EXISTS "search_lang" TSVECTOR',
    'CREATE INDEX IF NOT EXISTS "ticket_search_simple" ON "ticket" USING GIN ("search_simple")',
    'CREATE INDEX IF NOT EXISTS "ticket_search_lang" ON "ticket" USING GIN ("search_lang")',
    'DROP TRIGGER IF EXISTS "ticket_search" ON "ticket"',
    'CREATE TRIGGER "ticket_search" BEFORE INSERT OR UPDATE OF subject, customer_id ON "ticket" '
    "FOR EACH ROW EXECUTE FUNCTION helpline_ticket_search()",
    # a tag, a customer's name or address changed: touch the tickets so their BEFORE trigger recomputes
    """CREATE OR REPLACE FUNCTION helpline_tag_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE ticket SET subject = subject WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD.ticket_id ELSE NEW.ticket_id END);
      RETURN NULL;
    END $$""",
    'DROP TRIGGER IF EXISTS "ticket_tag_search" ON "ticket_tag"',
    'CREATE TRIGGER "ticket_tag_search" AFTER INSERT OR DELETE ON "ticket_tag" FOR EACH ROW '
    "EXECUTE FUNCTION helpline_tag_touch()",
    """CREATE OR REPLACE FUNCTION helpline_customer_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_TABLE_NAME = 'customer' THEN
        UPDATE ticket SET subject = subject WHERE customer_id = NEW.id;
      ELSIF TG_OP = 'DELETE' THEN
        UPDATE ticket SET subject = subject WHERE customer_id = OLD.customer_id;
      ELSIF TG_OP = 'UPDATE' THEN
        UPDATE ticket SET subject = subject WHERE customer_id IN (OLD.customer_id, NEW.customer_id);
      ELSE
        UPDATE ticket SET subject = subject WHERE customer_id = NEW.customer_id;
      END IF;
      RETURN NULL;
    END $$""",
    'DROP TRIGGER IF EXISTS "customer_search" ON "customer"',
    'CREATE TRIGGER "customer_search" AFTER UPDATE OF name ON "customer" FOR EACH ROW '
    "EXECUTE FUNCTION helpline_customer_touch()",
    'DROP TRIGGER IF EXISTS "identity_search" ON "identity"',
    'CREATE TRIGGER "identity_search" AFTER INSERT OR DELETE OR UPDATE OF customer_id, address ON "identity" '
    "FOR EACH ROW EXECUTE FUNCTION helpline_customer_touch()",
    # articles
    """CREATE OR REPLACE FUNCTION helpline_article_search() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE cfg regconfig;
    BEGIN
      NEW.search_simple := setweight(to_tsvector('simple', NEW.title), 'A') || setweight(to_tsvector('simple',
        NEW.questions), 'B') || setweight(to_tsvector('simple', left(NEW.body, 100000)), 'D')
        || setweight(to_tsvector('simple', NEW.tags), 'C');
      cfg := helpline_ts_config(NEW.language);
      IF cfg = 'simple'::regconfig THEN NEW.search_lang := NULL;
      ELSE NEW.search_lang := setweight(to_tsvector(cfg, NEW.title), 'A') || setweight(to_tsvector(cfg, NEW.questions),
        'B') || setweight(to_tsvector(cfg, left(NEW.body, 100000)), 'D') || setweight(to_tsvector(cfg, NEW.tags), 'C');
      END IF;
      RETURN NEW;
    END $$""",
    'CREATE INDEX IF NOT EXISTS "search_article_simple" ON "search_article" USING GIN ("search_simple")',
    'CREATE INDEX IF NOT EXISTS "search_article_lang" ON "search_article" USING GIN ("search_lang")',
    'DROP TRIGGER IF EXISTS "search_article_search" ON "search_article"',
    'CREATE TRIGGER "search_article_search" BEFORE INSERT OR UPDATE ON "search_article" FOR EACH ROW '
    "EXECUTE FUNCTION helpline_article_search()",
]


def upgrade(db: pw.Database) -> None:
    """Migration 14: full-text index (FTS5 / tsvector), ticket tags, article index, empty searches.

    Rows written before this migration are indexed by ``helpline search reindex``; on SQLite
    the FTS5 ``rebuild`` runs here as well, since it reads the content straight from ``message``."""
    for stmt in _SQLITE if is_sqlite() else _PG:
        db.execute_sql(stmt)
    if is_sqlite():
        db.execute_sql("INSERT INTO message_fts (message_fts) VALUES ('rebuild')")
