"""The outbox table's reads and writes (ARCHITECTURE.md, "No double sends, no silent drops").

``notifier/outbox.py`` is the state machine (when a row is claimed, retried,
given up); the statements it runs live here. Every function runs inside the
caller's transaction (``db.run_tx``), so the caller decides what commits
together and how durably. Row locks are taken on PostgreSQL only: SQLite's
write transaction already excludes other writers.

The hot paths (a row written in every new ticket's transaction, a reply's
single-row claim, the 'sent' marks) are plain SQL through ``fastsql``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, cast

import peewee as pw

from helpline.store import db, fastsql
from helpline.store.models import Event, Message, Outbox, OutboxStatus, Ticket

FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SUPPRESSED)
MAX_ERROR_CHARS = 1000


# ---- writing rows ---------------------------------------------------------
def add(values: dict[str, Any]) -> Outbox | None:
    """Write one row (``values`` by column name); None when its ``unique_key`` already exists."""
    # Plain SQL: this runs inside every new ticket's transaction (see store.fastsql).
    row_id = fastsql.insert("outbox", values, on_conflict="ON CONFLICT DO NOTHING")
    if row_id is None:
        return None
    return Outbox(
        id=row_id,
        **{k.removesuffix("_id") if k in ("ticket_id", "out_message_id") else k: v for k, v in values.items()},
    )


def pending_update_of(ticket_id: int) -> int | None:
    """The id of the ticket's Slack parent update still waiting to be sent, if any."""
    row = fastsql.fetchone(
        "SELECT id FROM \"outbox\" WHERE ticket_id = ? AND channel = 'slack' AND kind = 'slack_update' "
        "AND status = 'pending'",
        [ticket_id],
    )
    return int(row[0]) if row else None


def parent_post_on_its_way(ticket_id: int) -> bool:
    """Whether the ticket's Slack parent post is still pending or being sent (not in Slack yet)."""
    return bool(
        Outbox.select()
        .where(
            (Outbox.ticket == ticket_id)
            & (Outbox.channel == "slack")
            & (Outbox.kind == "slack_ticket")
            & Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
        )
        .exists()
    )


def by_id(row_id: int) -> Outbox | None:
    got: Outbox | None = Outbox.get_or_none(Outbox.id == row_id)
    return got


def sms_row(ref: str, sid: str) -> Outbox | None:
    """The SMS row a Twilio status callback is about: by its unique key (``ref``), else by message SID."""
    row: Outbox | None = Outbox.get_or_none(Outbox.unique_key == ref) if ref else None
    if row is None and sid:
        row = Outbox.get_or_none((Outbox.channel == "sms") & (Outbox.provider_id == sid))
    return row if row is not None and row.channel == "sms" else None


def set_failed(row_id: int, error: str, now: dt.datetime) -> None:
    """Mark a row failed after the fact (a late delivery report), whatever its status."""
    Outbox.update(status=OutboxStatus.FAILED, last_error=error, updated_at=now).where(Outbox.id == row_id).execute()


# ---- claiming -------------------------------------------------------------
def _lock(query: pw.Select, *, skip_locked: bool) -> pw.Select:
    """Row locks on PostgreSQL; SQLite's write transaction already excludes other writers."""
    if db.is_sqlite():
        return query
    return query.for_update(skip_locked=skip_locked) if skip_locked else query.for_update()


def claim_due(channel: str, limit: int, now: dt.datetime) -> list[Outbox]:
    """Up to ``limit`` due ``pending`` rows of ``channel`` turned ``sending``, attempt counted; rows another
    claimer holds are skipped (``SKIP LOCKED``)."""
    query = (
        Outbox.select(Outbox.id)
        .where(Outbox.channel == channel, Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(limit)
    )
    ids = [r.id for r in _lock(query, skip_locked=True)]
    if not ids:
        return []
    (
        Outbox.update(status=OutboxStatus.SENDING, attempts=Outbox.attempts + 1, updated_at=now)
        .where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.PENDING)
        .execute()
    )
    return list(Outbox.select().where(Outbox.id.in_(ids)).order_by(Outbox.next_attempt_at, Outbox.id))


_CLAIM_ONE = (
    "UPDATE \"outbox\" SET status = 'sending', attempts = attempts + 1, updated_at = ? "
    "WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?"
)
_FIELDS = Outbox._meta.sorted_fields  # noqa: SLF001  (the model's own columns, in table order)
_COLUMNS = [f.column_name for f in _FIELDS]
_RETURNING = " RETURNING " + ", ".join(f'"{c}"' for c in _COLUMNS)


def claim_one(outbox_id: int, now: dt.datetime, channel: str | None = None) -> Outbox | None:
    """Claim one row by id; None unless pending and due (and of ``channel`` when given).

    One ``UPDATE … RETURNING`` statement: on PostgreSQL a concurrent claimer
    waits for the row lock, then finds the row no longer pending."""
    query = _CLAIM_ONE + (" AND channel = ?" if channel is not None else "") + _RETURNING
    params = [now, outbox_id, now] + ([channel] if channel is not None else [])
    got = fastsql.fetchone(query, params)
    if got is None:
        return None
    return Outbox(**{f.name: f.python_value(v) for f, v in zip(_FIELDS, got, strict=True)})


# ---- outcomes -------------------------------------------------------------
def add_failure_event(row: Outbox, reason: str, error: str, now: dt.datetime, kind: str = "outbox_failed") -> None:
    """Tell the ticket (agents) that a message did not go out; no payload, no bodies."""
    if row.ticket_id is None:
        return
    Event.create(
        ticket=row.ticket_id,
        kind=kind,
        created_at=now,
        data={
            "outbox_id": row.id,
            "channel": row.channel,
            "kind": row.kind,
            "recipient": row.recipient,
            "reason": reason,
            "attempts": row.attempts,
            "error": error[:300],
        },
    )


def _get_locked(row_id: int) -> Outbox | None:
    got: Outbox | None = _lock(Outbox.select().where(Outbox.id == row_id), skip_locked=False).first()
    return got


def mark_sent(row_id: int, provider_id: str, now: dt.datetime) -> bool:
    """The provider took the row; False when it was already final."""
    return bool(
        fastsql.execute(
            "UPDATE \"outbox\" SET status = 'sent', provider_id = ?, sent_at = ?, updated_at = ?, last_error = '' "
            "WHERE id = ? AND status NOT IN ('sent', 'failed', 'suppressed')",
            [provider_id, now, now, row_id],
        ).rowcount
    )


def fail_temporary(
    row_id: int,
    error: str,
    now: dt.datetime,
    *,
    max_attempts: int,
    backoff: Callable[[int], float],
    delay_s: float | None,
    count_attempt: bool,
) -> str | None:
    """A ``sending`` row back to ``pending`` (after ``delay_s``, else ``backoff(attempts)`` seconds), or
    ``failed`` with an event once ``max_attempts`` are used; its new status, None if it was not ``sending``."""
    row = _get_locked(row_id)
    if row is None or row.status != OutboxStatus.SENDING:
        return None
    row.last_error = error
    row.updated_at = now
    if not count_attempt:
        row.attempts = max(row.attempts - 1, 0)
    if delay_s is not None and row.attempts < max_attempts:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + dt.timedelta(seconds=max(delay_s, 0.0))
        row.save()
    elif row.attempts >= max_attempts:
        row.status = OutboxStatus.FAILED
        row.save()
        add_failure_event(row, "attempts_exhausted", error, now)
    else:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + dt.timedelta(seconds=backoff(row.attempts))
        row.save()
    return str(row.status)


def release(row_ids: list[int], now: dt.datetime) -> int:
    """``sending`` rows back to ``pending`` and due, their claim's attempt given back; how many."""
    marks = fastsql.in_marks(len(row_ids))
    released: int = fastsql.execute(
        "UPDATE \"outbox\" SET status = 'pending', next_attempt_at = ?, updated_at = ?, "
        f"attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id IN ({marks}) AND status = 'sending'",
        [now, now, *row_ids],
    ).rowcount
    return released


def mark_unknown(row_id: int, error: str, now: dt.datetime) -> bool:
    """A ``sending`` row becomes ``unknown``, with an event for agents; False if it was not ``sending``."""
    row = _get_locked(row_id)
    if row is None or row.status != OutboxStatus.SENDING:
        return False
    row.status, row.last_error, row.updated_at = OutboxStatus.UNKNOWN, error[:2000], now
    row.save()
    add_failure_event(row, "delivery_unknown", row.last_error, now, kind="outbox_unknown")
    return True


def fail_permanent(row_id: int, error: str, now: dt.datetime) -> bool:
    """A row ``failed`` for good, with an event; False if it was already final."""
    row = _get_locked(row_id)
    if row is None or row.status in FINAL:
        return False
    row.status = OutboxStatus.FAILED
    row.last_error = error
    row.updated_at = now
    row.save()
    add_failure_event(row, "permanent", error, now)
    return True


def recover_stuck(
    cutoff: dt.datetime, now: dt.datetime, *, resendable: tuple[str, ...], max_attempts: int
) -> list[Outbox]:
    """Rows ``sending`` since before ``cutoff`` (their sender died): channels in ``resendable`` back to
    ``pending`` (``failed`` once their attempts are used), the others ``unknown``; the rows, as changed."""
    query = Outbox.select().where(Outbox.status == OutboxStatus.SENDING, Outbox.updated_at < cutoff).order_by(Outbox.id)
    rows: list[Outbox] = list(_lock(query, skip_locked=True))
    for row in rows:
        row.updated_at = now
        if row.channel in resendable and row.attempts < max_attempts:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = now
            row.last_error = "sender stopped during the send; resending with the same Message-ID or event id"
            row.save()
        elif row.channel in resendable:
            row.status = OutboxStatus.FAILED
            row.last_error = "sender stopped during the send on every attempt"
            row.save()
            add_failure_event(row, "attempts_exhausted", row.last_error, now)
        else:
            row.status = OutboxStatus.UNKNOWN
            row.last_error = "sender stopped during the provider call; it may or may not have been delivered"
            row.save()
            add_failure_event(row, "delivery_unknown", row.last_error, now, kind="outbox_unknown")
    return rows


# ---- delivery status notifications -----------------------------------------
def _id_forms(message_ids: Iterable[str]) -> list[str]:
    """Each id with and without angle brackets, as given and lower-cased.

    Outbox rows keep the id as sent (``<hl.HL-…@domain>``) while message rows
    and DSNs may keep it bare or lower-cased; all forms must find the row.
    """
    out: set[str] = set()
    for mid in message_ids:
        bare = (mid or "").strip().strip("<>").strip()
        for form in {bare, bare.lower()} if bare else ():
            out.update({form, f"<{form}>"})
    return sorted(out)


def bounce(message_ids: list[str], reason: str, now: dt.datetime) -> list[Outbox]:
    """A DSN for our Message-ID(s): their rows and outbound messages ``failed``, each with a
    ``delivery_failed`` event; the rows that changed (a row already failed by a bounce does not)."""
    ids = _id_forms(message_ids)
    if not ids:
        return []
    rows: list[Outbox] = list(
        _lock(Outbox.select().where(Outbox.message_id.in_(ids)).order_by(Outbox.id), skip_locked=False)
    )
    changed: list[Outbox] = []
    for row in rows:
        if row.status == OutboxStatus.FAILED and row.last_error.startswith("bounced:"):
            continue
        row.status = OutboxStatus.FAILED
        row.last_error = f"bounced: {reason}"[:MAX_ERROR_CHARS]
        row.updated_at = now
        row.save()
        changed.append(row)
        if row.ticket_id is not None:
            Event.create(
                ticket=row.ticket_id,
                kind="delivery_failed",
                created_at=now,
                data={
                    "outbox_id": row.id,
                    "message_id": row.message_id,
                    "recipient": row.recipient,
                    "channel": row.channel,
                    "kind": row.kind,
                    "reason": reason[:300],
                },
            )
    message_ids_of_rows = [r.out_message_id for r in rows if r.out_message_id is not None]
    match = (Message.direction == "out") & Message.message_id.in_(ids)
    if message_ids_of_rows:
        match = match | Message.id.in_(message_ids_of_rows)
    messages = list(Message.select().where(match, Message.delivery_status != "failed"))
    covered = {r.out_message_id for r in changed}
    for msg in messages:
        Message.update(delivery_status="failed").where(Message.id == msg.id).execute()
        if msg.id not in covered:  # an outbound message we know without an outbox row
            Event.create(
                ticket=msg.ticket_id,
                kind="delivery_failed",
                created_at=now,
                data={
                    "message_id": msg.message_id,
                    "reason": reason[:300],
                    "channel": msg.channel,
                },
            )
    return changed


# ---- reading --------------------------------------------------------------
def list_rows(status: str | None, limit: int) -> list[dict[str, Any]]:
    """Recent rows for ``helpline outbox list``; no payloads (they hold message bodies)."""
    query = (
        Outbox.select(Outbox, Ticket.number.alias("ticket_number"))
        .join(Ticket, pw.JOIN.LEFT_OUTER, on=(Outbox.ticket == Ticket.id))
        .order_by(Outbox.id.desc())
        .limit(max(limit, 0))
        .objects()  # every column, the ticket number included, on the Outbox instance
    )
    if status:
        query = query.where(Outbox.status == status)
    out: list[dict[str, Any]] = []
    for row in query:
        out.append(
            {
                "id": row.id,
                "ticket": cast(Any, row).ticket_number or "",  # the joined alias (see .objects() above)
                "channel": row.channel,
                "kind": row.kind,
                "recipient": row.recipient,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": _iso(row.next_attempt_at),
                "last_error": row.last_error,
                "provider_id": row.provider_id,
                "message_id": row.message_id,
                "created_at": _iso(row.created_at),
                "sent_at": _iso(row.sent_at),
            }
        )
    return out


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""


def hold_until(row_id: int, at: dt.datetime) -> None:
    """Make a pending row due only at ``at`` (an agent's Slack reply waits out its undo window)."""
    fastsql.update("outbox", row_id, {"next_attempt_at": at})


def status_of_message(out_message_id: int) -> str | None:
    """The status of the first outbox row that delivers the outbound message; None without one."""
    got = fastsql.fetchone('SELECT status FROM "outbox" WHERE out_message_id = ? ORDER BY id LIMIT 1', [out_message_id])
    return str(got[0]) if got is not None else None
