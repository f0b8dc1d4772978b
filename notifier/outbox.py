"""The outbox state machine (ARCHITECTURE.md, "No double sends, no silent drops").

Rows are written in the same transaction as the ticket change (``enqueue``).
A sender claims due rows (``pending`` → ``sending``, attempt counted) in a
short transaction of its own, calls the provider outside any transaction, then
records the outcome (``sent`` with the provider's id, ``pending`` again with
back-off, or ``failed``). A sender that dies between claim and outcome leaves
the row in ``sending``; ``recover_stuck`` resends email (same Message-ID, which
mail clients collapse) but marks other channels ``unknown`` for an agent to
check, because an SMS or Slack message cannot be un-duplicated.

Claiming is safe with many workers on both engines: PostgreSQL skips rows that
another claimer has locked (``FOR UPDATE SKIP LOCKED``), SQLite serialises
write transactions (``BEGIN IMMEDIATE``).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, cast

import peewee as pw

from helpline.store import db, fastsql, import_mode
from helpline.store.config import Settings
from helpline.store.models import Event, Message, Outbox, OutboxStatus, Ticket, utcnow

from .logkv import line, log

MAX_BACKOFF_S = 3600.0
MAX_ERROR_CHARS = 1000
FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SUPPRESSED)
# Channels where a second copy is harmless: email (same Message-ID) and webhooks (same event id, dropped by receivers).
RESENDABLE = ("email", "webhook")


# ---- writing rows ---------------------------------------------------------
def enqueue(
    *,
    channel: str,
    kind: str,
    recipient: str,
    payload: dict[str, Any],
    unique_key: str,
    ticket: Ticket | int | None = None,
    out_message: Message | int | None = None,
    message_id: str = "",
    suppressed_reason: str = "",
    claimed: bool = False,
    not_before: dt.datetime | None = None,
) -> Outbox | None:
    """Add an outbound message, inside the caller's transaction; None if ``unique_key`` exists.

    The unique key makes a re-run of the same worker step a no-op instead of a
    second send. With ``suppressed_reason`` the row is recorded as
    ``suppressed`` (never sent): loop protection keeps its decision visible.
    With ``claimed`` the row starts as ``sending`` (attempt 1) because the
    caller will deliver it right after its commit (``deliver.deliver_claimed_many``).
    ``not_before`` holds a pending row until then (a notice kept for the
    team's business hours).
    """
    if import_mode.active():  # a history import sends nothing: no ack, notice, Slack post or webhook event
        return None
    now = utcnow()
    status = OutboxStatus.SUPPRESSED if suppressed_reason else OutboxStatus.SENDING if claimed else OutboxStatus.PENDING
    values = dict(
        channel=channel, kind=kind, recipient=recipient, payload=payload, unique_key=unique_key,
        ticket_id=ticket.id if isinstance(ticket, Ticket) else ticket,
        out_message_id=out_message.id if isinstance(out_message, Message) else out_message,
        message_id=message_id or str(payload.get("message_id") or ""), status=status, attempts=1 if claimed else 0,
        last_error=suppressed_reason, provider_id="", next_attempt_at=not_before or now,
        created_at=now, updated_at=now,
    )
    # Plain SQL: this runs inside every new ticket's transaction (see store.fastsql).
    row_id = fastsql.insert("outbox", values, on_conflict="ON CONFLICT DO NOTHING")
    if row_id is None:
        log.info(line("outbox_duplicate", unique_key=unique_key, channel=channel, kind=kind))
        return None
    row = Outbox(id=row_id, **{k.removesuffix("_id") if k in ("ticket_id", "out_message_id") else k: v
                               for k, v in values.items()})
    log.info(line("outbox_enqueued", outbox_id=row_id, channel=channel, kind=kind, status=status,
                  ticket_id=values["ticket_id"] or ""))
    return row


# ---- claiming -------------------------------------------------------------
def _lock(query: pw.Select, *, skip_locked: bool) -> pw.Select:
    """Row locks on PostgreSQL; SQLite's write transaction already excludes other writers."""
    if db.is_sqlite():
        return query
    return query.for_update(skip_locked=skip_locked) if skip_locked else query.for_update()


def enqueue_followups(row: Outbox, specs: list[dict[str, Any]], error: str) -> list[tuple[int, str]]:
    """The follow-up rows ``specs`` of ``row`` (its payload's ``on_sent`` / ``on_failed``), in the caller's
    transaction; (id, channel) of those written. Keyed on ``row``, so each is written once."""
    out: list[tuple[int, str]] = []
    for spec in specs:
        payload = dict(spec["payload"])
        if error:
            payload["error"] = error[:300]
        new = enqueue(channel=spec["channel"], kind=spec["kind"], recipient=spec.get("recipient", ""),
                      payload=payload, unique_key=f"{spec['unique_key']}:{row.id}", ticket=row.ticket_id)
        if new is not None:
            out.append((new.id, new.channel))
    return out


def _claim(query: pw.Select, now: dt.datetime) -> list[Outbox]:
    ids = [r.id for r in _lock(query, skip_locked=True)]
    if not ids:
        return []
    (Outbox.update(status=OutboxStatus.SENDING, attempts=Outbox.attempts + 1, updated_at=now)
     .where(Outbox.id.in_(ids), Outbox.status == OutboxStatus.PENDING)
     .execute())
    return list(Outbox.select().where(Outbox.id.in_(ids)).order_by(Outbox.next_attempt_at, Outbox.id))


def claim_due(channel: str, limit: int, now: dt.datetime | None = None) -> list[Outbox]:
    """Take up to ``limit`` due rows of ``channel`` for sending (own write transaction).

    The attempt is counted here, before the provider call, so a message that
    crashes its sender every time still runs out of attempts.
    """
    if limit <= 0:
        return []
    now = now or utcnow()

    def tx() -> list[Outbox]:
        query = (
            Outbox.select(Outbox.id)
            .where(Outbox.channel == channel, Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(limit)
        )
        return _claim(query, now)

    rows = db.run_tx(tx)
    if rows:
        log.info(line("outbox_claimed", channel=channel, count=len(rows)))
    return rows


_CLAIM_ONE = (
    "UPDATE \"outbox\" SET status = 'sending', attempts = attempts + 1, updated_at = ? "
    "WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?"
)


def claim_one(outbox_id: int, now: dt.datetime | None = None, *, channel: str | None = None) -> Outbox | None:
    """Claim one row by id (e.g. an agent's reply sent right away); None unless pending and due.

    One ``UPDATE … RETURNING`` statement: on PostgreSQL a concurrent claimer
    waits for the row lock, then finds the row no longer pending."""
    now = now or utcnow()
    cols = [f.column_name for f in Outbox._meta.sorted_fields]  # noqa: SLF001
    query = _CLAIM_ONE + (" AND channel = ?" if channel is not None else "") + " RETURNING " + ", ".join(
        f'"{c}"' for c in cols)
    params = [now, outbox_id, now] + ([channel] if channel is not None else [])
    # An email whose 'sending' mark is lost in a power cut is sent again with
    # the same Message-ID (harmless); other channels keep the mark durable.
    got = db.run_tx(lambda: fastsql.fetchone(query, params), durable=channel != "email")
    if got is None:
        return None
    data = dict(zip(cols, got, strict=True))
    fields = {f.column_name: f for f in Outbox._meta.sorted_fields}  # noqa: SLF001
    return Outbox(**{fields[c].name: fields[c].python_value(v) for c, v in data.items()})


# ---- outcomes -------------------------------------------------------------
def backoff_delay(attempts: int, base_s: float) -> float:
    """Seconds before the next try after ``attempts`` tries: base, 2×base, 4×base … capped at 1 h."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(base_s * (2 ** exponent), MAX_BACKOFF_S)


def _failure_event(row: Outbox, reason: str, error: str, now: dt.datetime, kind: str = "outbox_failed") -> None:
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
    return _lock(Outbox.select().where(Outbox.id == row_id), skip_locked=False).first()


def mark_sent_many(sent: list[tuple[int, str]], now: dt.datetime | None = None) -> set[int]:
    """Record providers' acceptances, in one transaction; the ids that changed (a row already final does not).

    Accepted from ``pending``/``unknown`` too: a send that outlived its lease
    did happen, and saying so beats a second send.
    """
    if not sent:
        return set()
    now = now or utcnow()

    def tx() -> set[int]:
        changed = set()
        for row_id, provider_id in sent:
            if fastsql.execute(
                "UPDATE \"outbox\" SET status = 'sent', provider_id = ?, sent_at = ?, updated_at = ?, last_error = '' "
                "WHERE id = ? AND status NOT IN ('sent', 'failed', 'suppressed')", [provider_id, now, now, row_id]
            ).rowcount:
                changed.add(row_id)
        return changed

    changed = db.run_tx(tx, durable=False)
    for row_id, provider_id in sent:
        log.info(line("outbox_sent" if row_id in changed else "outbox_sent_ignored", outbox_id=row_id,
                      provider_id=provider_id))
    return changed


def mark_failed_temporary(row_id: int, error: str, settings: Settings, now: dt.datetime | None = None, *,
                          delay_s: float | None = None, count_attempt: bool = True) -> str | None:
    """Retry later with exponential back-off, or fail once the attempts are used up.

    ``delay_s`` replaces the back-off (the provider's Retry-After); without
    ``count_attempt`` the claim's attempt is given back (rate limiting is not
    the message's fault). Returns the row's new status (``pending`` or
    ``failed``), None when the row was not being sent (another claimer or a
    recovery got there first).
    """
    now = now or utcnow()
    error = error[:MAX_ERROR_CHARS]

    def tx() -> str | None:
        row = _get_locked(row_id)
        if row is None or row.status != OutboxStatus.SENDING:
            return None
        row.last_error = error
        row.updated_at = now
        if not count_attempt:
            row.attempts = max(row.attempts - 1, 0)
        if delay_s is not None and row.attempts < settings.outbox_max_attempts:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = now + dt.timedelta(seconds=max(delay_s, 0.0))
            row.save()
        elif row.attempts >= settings.outbox_max_attempts:
            row.status = OutboxStatus.FAILED
            row.save()
            _failure_event(row, "attempts_exhausted", error, now)
        else:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = now + dt.timedelta(seconds=backoff_delay(row.attempts, settings.outbox_retry_base_s))
            row.save()
        return row.status

    status = db.run_tx(tx)
    log.warning(line("outbox_temporary_failure", outbox_id=row_id, status=status or "ignored", error=error))
    return status


def release_claims(row_ids: list[int], now: dt.datetime | None = None) -> int:
    """Give back rows claimed (``sending``) but never handed to a provider: ``pending`` and due,
    their claim's attempt not counted. Returns how many were released."""
    if not row_ids:
        return 0
    now = now or utcnow()
    marks = ", ".join("?" for _ in row_ids)
    released = db.run_tx(lambda: fastsql.execute(
        "UPDATE \"outbox\" SET status = 'pending', next_attempt_at = ?, updated_at = ?, "
        f"attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id IN ({marks}) AND status = 'sending'",
        [now, now, *row_ids]).rowcount)
    log.info(line("outbox_claims_released", count=released))
    return released


def mark_unknown(row_id: int, error: str, now: dt.datetime | None = None) -> bool:
    """A ``sending`` row whose provider may or may not have taken it becomes ``unknown``, with an
    event for agents; False if the row was no longer ``sending``."""
    now = now or utcnow()

    def tx() -> bool:
        row = _get_locked(row_id)
        if row is None or row.status != OutboxStatus.SENDING:
            return False
        row.status, row.last_error, row.updated_at = OutboxStatus.UNKNOWN, error[:2000], now
        row.save()
        _failure_event(row, "delivery_unknown", row.last_error, now, kind="outbox_unknown")
        return True

    changed = db.run_tx(tx)
    log.warning(line("outbox_unknown", outbox_id=row_id, changed=changed))
    return changed


def mark_failed_permanent(row_id: int, error: str, now: dt.datetime | None = None) -> bool:
    """Give up on a row now (the provider refused it for good); False if already final."""
    now = now or utcnow()
    error = error[:MAX_ERROR_CHARS]

    def tx() -> bool:
        row = _get_locked(row_id)
        if row is None or row.status in FINAL:
            return False
        row.status = OutboxStatus.FAILED
        row.last_error = error
        row.updated_at = now
        row.save()
        _failure_event(row, "permanent", error, now)
        return True

    changed = db.run_tx(tx)
    log.warning(line("outbox_failed", outbox_id=row_id, changed=changed, error=error))
    return changed


def recover_stuck(settings: Settings, now: dt.datetime | None = None) -> int:
    """Deal with rows whose sender died mid-send (``sending`` past the lease); returns the count.

    Email and webhooks go back to ``pending`` and are resent with the same
    Message-ID or event id unless their attempts are used up (a message that keeps killing its sender
    must stop somewhere); every other channel becomes ``unknown`` with an
    event, for an agent to check rather than risk a duplicate text.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=settings.sending_lease_s)

    def tx() -> int:
        query = Outbox.select().where(Outbox.status == OutboxStatus.SENDING, Outbox.updated_at < cutoff).order_by(Outbox.id)
        rows = list(_lock(query, skip_locked=True))
        for row in rows:
            row.updated_at = now
            if row.channel in RESENDABLE and row.attempts < settings.outbox_max_attempts:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = now
                row.last_error = "sender stopped during the send; resending with the same Message-ID or event id"
                row.save()
            elif row.channel in RESENDABLE:
                row.status = OutboxStatus.FAILED
                row.last_error = "sender stopped during the send on every attempt"
                row.save()
                _failure_event(row, "attempts_exhausted", row.last_error, now)
            else:
                row.status = OutboxStatus.UNKNOWN
                row.last_error = "sender stopped during the provider call; it may or may not have been delivered"
                row.save()
                _failure_event(row, "delivery_unknown", row.last_error, now, kind="outbox_unknown")
            log.warning(line("outbox_recovered", outbox_id=row.id, channel=row.channel, status=row.status))
        return len(rows)

    return db.run_tx(tx)


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


def mark_bounced(message_ids: list[str], reason: str, now: dt.datetime | None = None) -> list[Outbox]:
    """A DSN came back for our Message-ID(s): fail the rows and their messages (caller's transaction).

    Returns the rows that changed; a second DSN for the same message changes
    nothing and adds no event.
    """
    now = now or utcnow()
    ids = _id_forms(message_ids)
    if not ids:
        return []
    reason = " ".join((reason or "bounced").split())[:500]
    rows = list(_lock(Outbox.select().where(Outbox.message_id.in_(ids)).order_by(Outbox.id), skip_locked=False))
    changed: list[Outbox] = []
    for row in rows:
        if row.status == OutboxStatus.FAILED and row.last_error.startswith("bounced:"):
            continue
        row.status = OutboxStatus.FAILED
        row.last_error = f"bounced: {reason}"[:MAX_ERROR_CHARS]
        row.updated_at = now
        row.save()
        changed.append(row)
        # the agent who wrote it hears of it (Slack thread): its on_failed follow-ups
        enqueue_followups(row, list((row.payload or {}).get("on_failed") or []), row.last_error)
        if row.ticket_id is not None:
            Event.create(ticket=row.ticket_id, kind="delivery_failed", created_at=now, data={
                "outbox_id": row.id, "message_id": row.message_id, "recipient": row.recipient,
                "channel": row.channel, "kind": row.kind, "reason": reason[:300],
            })
        log.warning(line("outbox_bounced", outbox_id=row.id, message_id=row.message_id, reason=reason))
    message_ids_of_rows = [r.out_message_id for r in rows if r.out_message_id is not None]
    match = (Message.direction == "out") & Message.message_id.in_(ids)
    if message_ids_of_rows:
        match = match | Message.id.in_(message_ids_of_rows)
    messages = list(Message.select().where(match, Message.delivery_status != "failed"))
    covered = {r.out_message_id for r in changed}
    for msg in messages:
        Message.update(delivery_status="failed").where(Message.id == msg.id).execute()
        if msg.id not in covered:  # an outbound message we know without an outbox row
            Event.create(ticket=msg.ticket_id, kind="delivery_failed", created_at=now, data={
                "message_id": msg.message_id, "reason": reason[:300], "channel": msg.channel,
            })
    return changed


# ---- reading --------------------------------------------------------------
def _like_escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


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
        out.append({
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
        })
    return out


def _iso(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else ""
