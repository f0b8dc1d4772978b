"""Opt-out state of phone numbers (``store.sms_state.SmsOptOut``).

Read at enqueue time (an acknowledgement or HELP answer is not even queued for
an opted-out number) and again by the SMS sender right before the provider
call, so a number that opted out after a reply was queued gets nothing.
Written by the STOP/START stage of the pipeline (inside its transaction) and
by the sender when the carrier reports the number unsubscribed (Twilio error
21610), each change with an audit event.
"""
from __future__ import annotations

import datetime as dt

from helpline.store import db, fastsql
from helpline.store.models import Event, utcnow

CONVERSATION_KEY = "conv:sms:{}"  # the thread key an SMS conversation's ticket holds (workers/threads.py)


def is_opted_out(number: str) -> bool:
    """The number's own row decides; without one, the row an erasure left (the number's salted hash,
    ``store.lifecycle.ledger``), so a STOP outlives the erasure of the person who sent it."""
    row = fastsql.fetchone('SELECT opted_out FROM "sms_opt_out" WHERE number = ?', [number])
    if row is None:
        from helpline.store.lifecycle.ledger import phone_hash

        row = fastsql.fetchone('SELECT opted_out FROM "sms_opt_out" WHERE number = ?', [phone_hash(number)])
    return bool(row and row[0])


def set_state(number: str, opted_out: bool, *, keyword: str, source: str, now: dt.datetime) -> bool:
    """Record the number's state (caller's transaction); True when it changed."""
    was = fastsql.fetchone('SELECT opted_out FROM "sms_opt_out" WHERE number = ?', [number])
    fastsql.execute(
        'INSERT INTO "sms_opt_out" (number, opted_out, keyword, source, updated_at) VALUES (?, ?, ?, ?, ?) '
        "ON CONFLICT (number) DO UPDATE SET opted_out = excluded.opted_out, keyword = excluded.keyword, "
        "source = excluded.source, updated_at = excluded.updated_at",
        [number, opted_out, keyword[:100], source, now])
    return (bool(was[0]) if was else False) != opted_out  # a number never seen was not opted out


def conversation_ticket(number: str) -> int | None:
    """The ticket the number's SMS conversation currently leads to, if any."""
    row = fastsql.fetchone('SELECT ticket_id FROM "thread_key" WHERE key = ?', [CONVERSATION_KEY.format(number)])
    return row[0] if row else None


def has_texted_in(number: str) -> bool:
    """Whether the number is a known customer phone (it texted in, or an agent linked it)."""
    return fastsql.fetchone("SELECT 1 FROM \"identity\" WHERE kind = 'phone' AND address = ?", [number]) is not None


def carrier_opt_out(number: str, code: str, now: dt.datetime | None = None) -> None:
    """The provider refused a send because the number unsubscribed at the carrier (own transaction)."""
    now = now or utcnow()

    def tx() -> None:
        if set_state(number, True, keyword=code, source="carrier", now=now):
            Event.create(ticket=conversation_ticket(number), kind="sms_opted_out", created_at=now,
                         data={"number": number, "source": "carrier", "error_code": code})

    db.run_tx(tx)
