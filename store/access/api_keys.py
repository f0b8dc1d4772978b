"""API keys: bearer credentials for the public HTTP API, stored only as a hash.

A key is ``hlk_`` followed by 32 random bytes (URL-safe base64). Only its
SHA-256 is stored. A slow password hash (bcrypt, scrypt, argon2) exists to make
guessing *low-entropy* secrets expensive; a 256-bit random key cannot be guessed
at any speed, so a slow hash would only add tens of milliseconds to every
request. A plain hash also makes the lookup an index probe on ``key_hash``
instead of a scan over every key. Someone who reads the table learns nothing
that lets them call the API.

``list`` shows the first characters of each key (``prefix``) so an operator
can tell which key a client holds without the key itself being kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Iterable, cast

import peewee as pw

from helpline.store import fastsql
from helpline.store.db import DatabaseUnavailable, run_tx
from helpline.store.models import Base, utcnow

KEY_PREFIX = "hlk_"
# Scopes a key may carry: ``ingest`` posts messages (POST /api/v1/messages); ``read``,
# ``write`` and ``admin`` use the ticket API, each including the ones before it.
# ``pii`` (on its own, implied by none) lets the API's answers carry personal data unmasked (store/privacy/pii.py).
SCOPES = frozenset({"ingest", "read", "write", "admin", "pii"})
IMPLIED = {
    "admin": ("admin", "write", "read"),
    "write": ("write", "read"),
    "read": ("read",),
    "ingest": ("ingest",),
    "pii": ("pii",),
}
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # last_used_at is written at most this often per key


class ApiKey(Base):
    id = pw.AutoField()
    name = pw.CharField(max_length=200)
    prefix = pw.CharField(max_length=16)
    key_hash = pw.CharField(max_length=64, unique=True)
    scopes = pw.CharField(default="")  # comma-separated
    created_at = pw.DateTimeField(default=utcnow)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)
    team = pw.CharField(max_length=64, null=True)  # a key bound to a team sees only that team's tickets
    agent = pw.CharField(max_length=254, null=True)  # migration 16: a personal key acts as this agent (email)


def granted(scopes: Iterable[str]) -> frozenset[str]:
    """Every scope a key holding ``scopes`` may act with (admin includes write, write includes read)."""
    return frozenset(g for s in scopes for g in IMPLIED.get(s, ()))


class ApiKeyError(ValueError):
    """A request to create or revoke a key that cannot be done; the message says why."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    scopes: tuple[str, ...]
    key: str  # shown once, never stored
    team: str | None = None
    agent: str | None = None  # a personal key: acts as this agent, within the agent's role


def create(name: str, scopes: Iterable[str], team: str | None = None, agent: str | None = None) -> NewKey:
    """A new key; with ``agent`` (an active configured agent's email) a personal key, whose every action is
    also bounded by that agent's role and authored by them."""
    name = name.strip()
    wanted = tuple(dict.fromkeys(s.strip().lower() for s in scopes if s.strip()))
    if not name or len(name) > 200:
        raise ApiKeyError("a key needs a --name of 1 to 200 characters (who or what uses it)")
    if not wanted:
        raise ApiKeyError(f"a key needs at least one --scope ({', '.join(sorted(SCOPES))})")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise ApiKeyError(f"unknown scope {', '.join(unknown)}; known scopes: {', '.join(sorted(SCOPES))}")
    team = (team or "").strip() or None
    if team is not None and len(team) > 64:
        raise ApiKeyError("a --team name has at most 64 characters")
    agent = (agent or "").strip().lower() or None
    key = KEY_PREFIX + secrets.token_urlsafe(32)

    def tx() -> int:
        if (
            agent is not None
            and fastsql.fetchone('SELECT id FROM "agent" WHERE email = ? AND active = ?', [agent, True]) is None
        ):
            raise ApiKeyError(
                f"no active agent {agent!r} (agents come from [[agents]] of the configuration file; "
                "`helpline agents list` shows them)"
            )
        return ApiKey.create(
            name=name, prefix=key[:12], key_hash=hash_key(key), scopes=",".join(wanted), team=team, agent=agent
        ).id

    row_id = run_tx(tx)
    return NewKey(row_id, name, wanted, key, team, agent)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def list_keys(include_revoked: bool = True) -> list[dict[str, Any]]:
    q = ApiKey.select().order_by(ApiKey.id)
    if not include_revoked:
        q = q.where(ApiKey.revoked_at.is_null())
    return [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "scopes": k.scopes.split(",") if k.scopes else [],
            "team": k.team,
            "agent": k.agent,
            "created_at": _iso(k.created_at),
            "last_used_at": _iso(k.last_used_at),
            "revoked_at": _iso(k.revoked_at),
        }
        for k in q
    ]


def revoke(key_id: int) -> bool:
    """Revoke a key; False when it was already revoked. Takes effect on the next request."""

    def tx() -> int:
        if ApiKey.get_or_none(ApiKey.id == key_id) is None:
            raise ApiKeyError(f"no API key with id {key_id}; `helpline api-keys list` shows them")
        return int(ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == key_id, ApiKey.revoked_at.is_null()).execute())

    return bool(run_tx(tx))


@dataclass(frozen=True)
class KeyCheck:
    verdict: str  # ok, unknown, revoked, scope
    key_id: int | None = None
    name: str = ""
    team: str | None = None
    scopes: frozenset[str] = frozenset()  # what the key may do, implied scopes included
    agent: str | None = None  # a personal key's agent (email)


def check(key: str, scope: str, now: dt.datetime | None = None) -> KeyCheck:
    """Whether ``key`` may be used for ``scope``. Raises the database's error when it is unreachable."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return KeyCheck("unknown")
    row = fastsql.fetchone(
        'SELECT id, name, scopes, revoked_at, last_used_at, team, agent FROM "api_key" WHERE key_hash = ?',
        [hash_key(key)],
    )
    if row is None:
        return KeyCheck("unknown")
    key_id, name, scopes, revoked_at, last_used, team, agent = row
    if revoked_at is not None:
        return KeyCheck("revoked", key_id, name)
    may = granted((scopes or "").split(","))
    if scope not in may:
        return KeyCheck("scope", key_id, name, team, may, agent)
    now = now or utcnow()
    if last_used is None or cast(dt.datetime, _as_dt(last_used)) < now - LAST_USED_RESOLUTION:
        # Not every request: a write per request would serialise API clients on SQLite's one writer.
        try:
            run_tx(
                lambda: fastsql.execute('UPDATE "api_key" SET last_used_at = ? WHERE id = ?', [now, key_id]),
                retries=0,
                durable=False,
            )
        except DatabaseUnavailable:  # the key is good; its last-use time can wait for the next request
            pass
    return KeyCheck("ok", key_id, name, team, may, agent)


_as_dt = fastsql.as_datetime  # SQLite hands back text, PostgreSQL a datetime
