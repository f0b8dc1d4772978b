"""Twilio's delivery status callbacks, recorded on the outbox row, its message and the ticket.

The callback URL of each send carries the outbox row's unique key (``ref``),
so the row is found by a unique index; a callback without it (a Messaging
Service's own callback URL) is matched by the message SID. Callbacks may
arrive out of order: a status never goes back (``sent`` after ``delivered``
changes nothing) and a failure is never overwritten by a later success of
another part. ``delivered``, ``undelivered`` and ``failed`` are recorded as
events on the ticket, a failure with Twilio's error code (30003 unreachable
handset, 30007 carrier filtering, …) for the agents; a failure also turns the
outbox row ``failed``, as a bounce does for email.
"""
from __future__ import annotations

import datetime as dt

from helpline.store import db
from helpline.store.models import Event, Message, Outbox, OutboxStatus, utcnow

from .followups import on_late_failure
from .logkv import line, log

RANK = {"": 0, "accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4, "delivered": 5, "read": 6,
        "undelivered": 7, "failed": 7, "canceled": 7}
FAILED = ("undelivered", "failed", "canceled")


def _find(ref: str, sid: str) -> Outbox | None:
    row = Outbox.get_or_none(Outbox.unique_key == ref) if ref else None
    if row is None and sid:
        row = Outbox.get_or_none((Outbox.channel == "sms") & (Outbox.provider_id == sid))
    return row if row is not None and row.channel == "sms" else None


def record_status(ref: str, sid: str, status: str, error_code: str = "", error_message: str = "",
                  now: dt.datetime | None = None) -> str:
    """Record one callback (own transaction): ``recorded``, ``ignored`` (stale or repeated) or ``unknown``."""
    now = now or utcnow()
    status = status.strip().lower()
    if status not in RANK:
        return "ignored"

    def tx() -> str:
        row = _find(ref, sid)
        if row is None:
            return "unknown"
        msg = Message.get_or_none(Message.id == row.out_message_id) if row.out_message_id else None
        current = msg.delivery_status if msg else ""
        if RANK.get(current, 0) >= RANK[status]:
            return "ignored"
        if msg is not None:
            Message.update(delivery_status=status).where(Message.id == msg.id).execute()
        data = {"outbox_id": row.id, "sid": sid, "status": status, "recipient": row.recipient, "channel": "sms"}
        if status in FAILED:
            data.update(error_code=error_code, error=error_message[:300])
            error = f"{status}: Twilio error {error_code or '?'}" + (f" ({error_message[:200]})" if error_message else "")
            Outbox.update(status=OutboxStatus.FAILED, last_error=error, updated_at=now).where(Outbox.id == row.id).execute()
            on_late_failure(row, error)  # an agent's reply from Slack: said in the ticket's thread
            if row.ticket_id is not None:
                Event.create(ticket=row.ticket_id, kind="delivery_failed", created_at=now, data=data)
        elif status in ("delivered", "read") and row.ticket_id is not None:
            Event.create(ticket=row.ticket_id, kind="sms_delivered", created_at=now, data=data)
        return "recorded"

    result = db.run_tx(tx)
    log.info(line("sms_status", ref=ref, sid=sid, status=status, error_code=error_code, result=result))
    return result
