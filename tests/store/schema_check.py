"""The schema a database has, the schema the peewee models describe, and the difference.

``differences(db)`` lists, as readable lines, every table, column (type,
nullability, server default), index and unique constraint that the models
have and the database lacks or has otherwise, and every object the database
has that no model describes, except the engine-specific objects a migration
creates on purpose, named in ``ENGINE_OBJECTS``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

import peewee as pw

import helpline.store
from helpline.store.models import Base

# Objects a migration creates on purpose that no peewee model describes, per engine: (kind, name pattern).
# kind is "table", "column" ("table.column"), "index" ("table:col1,col2"), "sequence", "view" or "trigger".
# A search index adds its FTS5 tables (sqlite) or tsvector column and GIN index (postgres) here.
ENGINE_OBJECTS: dict[str, list[tuple[str, str]]] = {
    "sqlite": [
        ("table", r"sqlite_sequence"),  # AUTOINCREMENT's counters (migration 11)
        # the full-text index (migration 14): FTS5 tables and their shadow tables, the view they index,
        # and the triggers that keep them in step
        ("table", r"(message|ticket|article)_fts(_(config|content|data|docsize|idx))?"),
        ("view", r"message_search_src"),
        ("trigger", r"(message|ticket|article|customer|identity|ticket_tag)_fts_a[idu]|ticket_tag_a[idu]"),
    ],
    "postgres": [
        ("sequence", r"helpline_ticket_number"),  # ticket numbers (migration 1)
        ("sequence", r"\w+_id_seq"),  # SERIAL columns' sequences
        # the full-text index (migration 14): tsvector columns, their GIN indexes, the triggers filling them
        ("column", r"(message|ticket|search_article)\.search_(simple|lang)"),
        ("index", r"(message|ticket|search_article):search_(simple|lang)"),
        ("trigger", r"\w*search\w*"),
    ],
}


@dataclass(frozen=True)
class Column:
    type: str
    null: bool
    default: str | None


@dataclass
class Table:
    columns: dict[str, Column]
    indexes: set[tuple[tuple[str, ...], bool, bool]]  # (columns, unique, partial)


def store_models() -> list[type[Base]]:
    """Every model of helpline.store, found by importing its modules (a new module's models count too)."""
    for info in pkgutil.walk_packages(helpline.store.__path__, "helpline.store."):
        if not info.name.startswith("helpline.store.migrations"):
            importlib.import_module(info.name)
    seen: list[type[Base]] = []
    todo = list(Base.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model.__module__.startswith("helpline.store.") and model not in seen:
            seen.append(model)
    return seen


def _engine(db: pw.Database) -> str:
    return "sqlite" if isinstance(db, pw.SqliteDatabase) else "postgres"


_PG_TYPES = {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT"}


def _field_type(db: pw.Database, field: pw.Field) -> str:
    ctx = db.get_sql_context()
    sql, _ = ctx.sql(field.ddl_datatype(ctx)).query()
    sql = sql.upper().replace(" ", "")
    return _PG_TYPES.get(sql, sql)


def normal_default(value: str | None) -> str | None:
    """A column default as both engines and the models can be compared: PostgreSQL's casts
    (``''::character varying``) dropped, booleans as 0 and 1 (SQLite has no boolean type)."""
    if value is None:
        return None
    value = re.sub(r"::[a-z ]+$", "", value.strip())
    return {"false": "0", "true": "1"}.get(value.lower(), value)


def _field_default(field: pw.Field) -> str | None:
    for c in field.constraints or ():
        if isinstance(c, pw.SQL) and c.sql.upper().startswith("DEFAULT "):
            return normal_default(c.sql[len("DEFAULT ") :].strip())
    return None


def expected(db: pw.Database, models: list[type[Base]]) -> dict[str, Table]:
    out: dict[str, Table] = {}
    for model in models:
        cols = {}
        for f in model._meta.sorted_fields:
            pk = f is model._meta.primary_key or (
                isinstance(model._meta.primary_key, pw.CompositeKey) and f.name in model._meta.primary_key.field_names
            )
            cols[f.column_name] = Column(_field_type(db, f), bool(f.null) and not pk, _field_default(f))
        indexes = set()
        for idx in model._meta.fields_to_index():
            names = tuple(e.column_name if isinstance(e, pw.Field) else str(e) for e in idx._expressions)
            indexes.add((names, bool(idx._unique), idx._where is not None))
        out[model._meta.table_name] = Table(cols, indexes)
    return out


_PG_NAMES = {
    "character varying": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "text": "TEXT",
    "timestamp without time zone": "TIMESTAMP",
    "boolean": "BOOLEAN",
    "bytea": "BYTEA",
    "real": "REAL",
    "double precision": "DOUBLEPRECISION",
    "smallint": "SMALLINT",
    "numeric": "NUMERIC",
    "date": "DATE",
}


def actual(db: pw.Database) -> tuple[dict[str, Table], list[tuple[str, str]]]:
    """(tables with their columns and indexes, other objects as (kind, name))."""
    tables: dict[str, Table] = {}
    others: list[tuple[str, str]] = []
    if _engine(db) == "sqlite":
        for kind, name in db.execute_sql(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') ORDER BY name"
        ).fetchall():
            if kind != "table" or name.startswith("sqlite_"):
                others.append((kind, name))
                continue
            cols = {}
            for _, col, typ, notnull, dflt, pk in db.execute_sql(f'PRAGMA table_info("{name}")').fetchall():
                cols[col] = Column(typ.upper().replace(" ", ""), not notnull and not pk, normal_default(dflt))
            indexes = set()
            for _, iname, unique, origin, partial in db.execute_sql(f'PRAGMA index_list("{name}")').fetchall():
                if origin == "pk":
                    continue
                icols = tuple(r[2] for r in sorted(db.execute_sql(f'PRAGMA index_info("{iname}")').fetchall()))
                indexes.add((icols, bool(unique), bool(partial)))
            tables[name] = Table(cols, indexes)
        return tables, others
    for (name,) in db.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    ).fetchall():
        cols = {}
        for col, typ, length, nullable, dflt in db.execute_sql(
            "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
            (name,),
        ):
            typ = _PG_NAMES.get(typ, typ.upper())
            if length is not None:
                typ = f"{typ}({length})"
            if dflt is not None and dflt.startswith("nextval("):
                dflt = None  # SERIAL
            cols[col] = Column(typ, nullable == "YES", normal_default(dflt))
        indexes = set()
        for unique, partial, icols in db.execute_sql(
            "SELECT ix.indisunique, ix.indpred IS NOT NULL, ARRAY(SELECT a.attname FROM unnest(ix.indkey) "
            "WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "ORDER BY k.ord) FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = 'public' AND t.relname = %s AND NOT ix.indisprimary",
            (name,),
        ):
            indexes.add((tuple(icols), bool(unique), bool(partial)))
        tables[name] = Table(cols, indexes)
    for kind, q in (
        ("sequence", "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'"),
        ("view", "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'"),
        ("trigger", "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = 'public'"),
    ):
        others += [(kind, name) for (name,) in db.execute_sql(q).fetchall()]
    return tables, others


def _allowed(engine: str, kind: str, name: str) -> bool:
    return any(k == kind and re.fullmatch(p, name) for k, p in ENGINE_OBJECTS[engine])


def differences(db: pw.Database, models: list[type[Base]] | None = None) -> list[str]:
    engine = _engine(db)
    want = expected(db, models if models is not None else store_models())
    have, others = actual(db)
    out: list[str] = []
    for table in sorted(set(want) | set(have)):
        if table not in have:
            out.append(f"missing table {table}")
            continue
        if table not in want:
            if not _allowed(engine, "table", table):
                out.append(f"table {table} has no model")
            continue
        w, h = want[table], have[table]
        for col in sorted(set(w.columns) | set(h.columns)):
            if col not in h.columns:
                out.append(f"missing column {table}.{col} {w.columns[col]}")
            elif col not in w.columns:
                if not _allowed(engine, "column", f"{table}.{col}"):
                    out.append(f"column {table}.{col} has no field")
            elif w.columns[col] != h.columns[col]:
                out.append(f"column {table}.{col}: model says {w.columns[col]}, database has {h.columns[col]}")
        for idx in sorted(w.indexes - h.indexes):
            out.append(f"missing index on {table} {idx}")
        for idx in sorted(h.indexes - w.indexes):
            if not _allowed(engine, "index", f"{table}:{','.join(idx[0])}"):
                out.append(f"index on {table} {idx} is not in the model")
    out += [
        f"{kind} {name} is neither a model's nor a named engine object"
        for kind, name in others
        if not _allowed(engine, kind, name)
    ]
    return out
