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
from helpline.store.outbound import delivery_status
from helpline.store.outbound import outbox_rows
from helpline.store.clock import utcnow

from helpline.notifier.followups import on_late_failure
from helpline.notifier.logkv import line, log

RANK = {
    "": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "read": 6,
    "undelivered": 7,
    "failed": 7,
    "canceled": 7,
}
FAILED = ("undelivered", "failed", "canceled")


def record_status(
    ref: str, sid: str, status: str, error_code: str = "", error_message: str = "", now: dt.datetime | None = None
) -> str:
    """Record one callback (own transaction): ``recorded``, ``ignored`` (stale or repeated) or ``unknown``."""
    now = now or utcnow()
    status = status.strip().lower()
    if status not in RANK:
        return "ignored"

    def tx() -> str:
        row = outbox_rows.sms_row(ref, sid)
        if row is None:
            return "unknown"
        current = delivery_status.of_message(row.out_message_id) if row.out_message_id else None
        if RANK.get(current or "", 0) >= RANK[status]:
            return "ignored"
        if current is not None and row.out_message_id:
            delivery_status.set_status(row.out_message_id, status)
        data = {"outbox_id": row.id, "sid": sid, "status": status, "recipient": row.recipient, "channel": "sms"}
        if status in FAILED:
            data.update(error_code=error_code, error=error_message[:300])
            error = f"{status}: Twilio error {error_code or '?'}" + (
                f" ({error_message[:200]})" if error_message else ""
            )
            outbox_rows.set_failed(row.id, error, now)
            on_late_failure(row, error)  # an agent's reply from Slack: said in the ticket's thread
            if row.ticket_id is not None:
                delivery_status.add_event(row.ticket_id, "delivery_failed", data, now)
        elif status in ("delivered", "read") and row.ticket_id is not None:
            delivery_status.add_event(row.ticket_id, "sms_delivered", data, now)
        return "recorded"

    result = db.run_tx(tx)
    log.info(line("sms_status", ref=ref, sid=sid, status=status, error_code=error_code, result=result))
    return result
