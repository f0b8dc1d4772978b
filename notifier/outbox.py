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
write transactions (``BEGIN IMMEDIATE``). The statements are in
``store/outbound/outbox_rows.py``; this module decides when each runs and in which transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

from helpline.store import db, import_mode
from helpline.store.outbound import outbox_rows
from helpline.store.clock import utcnow
from helpline.store.config import Settings
from helpline.store.statuses import OutboxStatus

from helpline.notifier.logkv import line, log

if TYPE_CHECKING:
    from helpline.store.models import Message, Outbox, Ticket

MAX_BACKOFF_S = 3600.0
MAX_ERROR_CHARS = outbox_rows.MAX_ERROR_CHARS
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
        channel=channel,
        kind=kind,
        recipient=recipient,
        payload=payload,
        unique_key=unique_key,
        ticket_id=ticket if ticket is None or isinstance(ticket, int) else ticket.id,
        out_message_id=out_message if out_message is None or isinstance(out_message, int) else out_message.id,
        message_id=message_id or str(payload.get("message_id") or ""),
        status=status,
        attempts=1 if claimed else 0,
        last_error=suppressed_reason,
        provider_id="",
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    row = outbox_rows.add(values)
    if row is None:
        log.info(line("outbox_duplicate", unique_key=unique_key, channel=channel, kind=kind))
        return None
    log.info(
        line(
            "outbox_enqueued",
            outbox_id=row.id,
            channel=channel,
            kind=kind,
            status=status,
            ticket_id=values["ticket_id"] or "",
        )
    )
    return row


def enqueue_followups(row: Outbox, specs: list[dict[str, Any]], error: str) -> list[tuple[int, str]]:
    """The follow-up rows ``specs`` of ``row`` (its payload's ``on_sent`` / ``on_failed``), in the caller's
    transaction; (id, channel) of those written. Keyed on ``row``, so each is written once."""
    out: list[tuple[int, str]] = []
    for spec in specs:
        payload = dict(spec["payload"])
        if error:
            payload["error"] = error[:300]
        new = enqueue(
            channel=spec["channel"],
            kind=spec["kind"],
            recipient=spec.get("recipient", ""),
            payload=payload,
            unique_key=f"{spec['unique_key']}:{row.id}",
            ticket=row.ticket_id,
        )
        if new is not None:
            out.append((new.id, new.channel))
    return out


# ---- claiming -------------------------------------------------------------
def claim_due(channel: str, limit: int, now: dt.datetime | None = None) -> list[Outbox]:
    """Take up to ``limit`` due rows of ``channel`` for sending (own write transaction).

    The attempt is counted here, before the provider call, so a message that
    crashes its sender every time still runs out of attempts.
    """
    if limit <= 0:
        return []
    at = now or utcnow()
    rows = db.run_tx(functools.partial(outbox_rows.claim_due, channel, limit, at))
    if rows:
        log.info(line("outbox_claimed", channel=channel, count=len(rows)))
    return rows


def claim_one(outbox_id: int, now: dt.datetime | None = None, *, channel: str | None = None) -> Outbox | None:
    """Claim one row by id (e.g. an agent's reply sent right away); None unless pending and due."""
    at = now or utcnow()
    # An email whose 'sending' mark is lost in a power cut is sent again with
    # the same Message-ID (harmless); other channels keep the mark durable.
    return db.run_tx(functools.partial(outbox_rows.claim_one, outbox_id, at, channel), durable=channel != "email")


# ---- outcomes -------------------------------------------------------------
def backoff_delay(attempts: int, base_s: float) -> float:
    """Seconds before the next try after ``attempts`` tries: base, 2×base, 4×base … capped at 1 h."""
    exponent = min(max(attempts - 1, 0), 30)
    return min(base_s * (2**exponent), MAX_BACKOFF_S)


def mark_sent_many(sent: list[tuple[int, str]], now: dt.datetime | None = None) -> set[int]:
    """Record providers' acceptances, in one transaction; the ids that changed (a row already final does not).

    Accepted from ``pending``/``unknown`` too: a send that outlived its lease
    did happen, and saying so beats a second send.
    """
    if not sent:
        return set()
    at = now or utcnow()

    def tx() -> set[int]:
        return {row_id for row_id, provider_id in sent if outbox_rows.mark_sent(row_id, provider_id, at)}

    changed = db.run_tx(tx, durable=False)
    for row_id, provider_id in sent:
        log.info(
            line(
                "outbox_sent" if row_id in changed else "outbox_sent_ignored", outbox_id=row_id, provider_id=provider_id
            )
        )
    return changed


def mark_failed_temporary(
    row_id: int,
    error: str,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    delay_s: float | None = None,
    count_attempt: bool = True,
) -> str | None:
    """Retry later with exponential back-off, or fail once the attempts are used up.

    ``delay_s`` replaces the back-off (the provider's Retry-After); without
    ``count_attempt`` the claim's attempt is given back (rate limiting is not
    the message's fault). Returns the row's new status (``pending`` or
    ``failed``), None when the row was not being sent (another claimer or a
    recovery got there first).
    """
    at = now or utcnow()
    error = error[:MAX_ERROR_CHARS]
    status = db.run_tx(
        lambda: outbox_rows.fail_temporary(
            row_id,
            error,
            at,
            max_attempts=settings.outbox_max_attempts,
            delay_s=delay_s,
            count_attempt=count_attempt,
            backoff=lambda attempts: backoff_delay(attempts, settings.outbox_retry_base_s),
        )
    )
    log.warning(line("outbox_temporary_failure", outbox_id=row_id, status=status or "ignored", error=error))
    return status


def release_claims(row_ids: list[int], now: dt.datetime | None = None) -> int:
    """Give back rows claimed (``sending``) but never handed to a provider: ``pending`` and due,
    their claim's attempt not counted. Returns how many were released."""
    if not row_ids:
        return 0
    at = now or utcnow()
    released = db.run_tx(functools.partial(outbox_rows.release, row_ids, at))
    log.info(line("outbox_claims_released", count=released))
    return released


def mark_unknown(row_id: int, error: str, now: dt.datetime | None = None) -> bool:
    """A ``sending`` row whose provider may or may not have taken it becomes ``unknown``, with an
    event for agents; False if the row was no longer ``sending``."""
    at = now or utcnow()
    changed = db.run_tx(functools.partial(outbox_rows.mark_unknown, row_id, error, at))
    log.warning(line("outbox_unknown", outbox_id=row_id, changed=changed))
    return changed


def mark_failed_permanent(row_id: int, error: str, now: dt.datetime | None = None) -> bool:
    """Give up on a row now (the provider refused it for good); False if already final."""
    at = now or utcnow()
    error = error[:MAX_ERROR_CHARS]
    changed = db.run_tx(functools.partial(outbox_rows.fail_permanent, row_id, error, at))
    log.warning(line("outbox_failed", outbox_id=row_id, changed=changed, error=error))
    return changed


def recover_stuck(settings: Settings, now: dt.datetime | None = None) -> int:
    """Deal with rows whose sender died mid-send (``sending`` past the lease); returns the count.

    Email and webhooks go back to ``pending`` and are resent with the same
    Message-ID or event id unless their attempts are used up (a message that keeps killing its sender
    must stop somewhere); every other channel becomes ``unknown`` with an
    event, for an agent to check rather than risk a duplicate text.
    """
    at = now or utcnow()
    cutoff = at - dt.timedelta(seconds=settings.sending_lease_s)
    rows = db.run_tx(
        lambda: outbox_rows.recover_stuck(cutoff, at, resendable=RESENDABLE, max_attempts=settings.outbox_max_attempts)
    )
    for row in rows:
        log.warning(line("outbox_recovered", outbox_id=row.id, channel=row.channel, status=row.status))
    return len(rows)


# ---- delivery status notifications -----------------------------------------
def mark_bounced(message_ids: list[str], reason: str, now: dt.datetime | None = None) -> list[Outbox]:
    """A DSN came back for our Message-ID(s): fail the rows and their messages (caller's transaction).

    Returns the rows that changed; a second DSN for the same message changes
    nothing and adds no event.
    """
    at = now or utcnow()
    reason = " ".join((reason or "bounced").split())[:500]
    changed = outbox_rows.bounce(message_ids, reason, at)
    for row in changed:
        # the agent who wrote it hears of it (Slack thread): its on_failed follow-ups
        enqueue_followups(row, list((row.payload or {}).get("on_failed") or []), row.last_error)
        log.warning(line("outbox_bounced", outbox_id=row.id, message_id=row.message_id, reason=reason))
    return changed
