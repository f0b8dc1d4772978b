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

from helpline.store import db
from helpline.store.channels import sms_state
from helpline.store.clock import utcnow

CONVERSATION_KEY = "conv:sms:{}"  # the thread key an SMS conversation's ticket holds (workers/inbound/threads.py)


def is_opted_out(number: str) -> bool:
    """The number's own row decides; without one, the row an erasure left (the number's salted hash,
    ``store.lifecycle.ledger``), so a STOP outlives the erasure of the person who sent it."""
    state = sms_state.opt_out_of(number)
    if state is None:
        from helpline.store.lifecycle.ledger import phone_hash

        state = sms_state.opt_out_of(phone_hash(number))
    return bool(state)


def set_state(number: str, opted_out: bool, *, keyword: str, source: str, now: dt.datetime) -> bool:
    """Record the number's state (caller's transaction); True when it changed."""
    was = sms_state.opt_out_of(number)
    sms_state.save_opt_out(number, opted_out, keyword=keyword[:100], source=source, now=now)
    return bool(was) != opted_out  # a number never seen was not opted out


def conversation_ticket(number: str) -> int | None:
    """The ticket the number's SMS conversation currently leads to, if any."""
    return sms_state.ticket_of_thread_key(CONVERSATION_KEY.format(number))


def has_texted_in(number: str) -> bool:
    """Whether the number is a known customer phone (it texted in, or an agent linked it)."""
    return sms_state.is_known_phone(number)


def carrier_opt_out(number: str, code: str, now: dt.datetime | None = None) -> None:
    """The provider refused a send because the number unsubscribed at the carrier (own transaction)."""
    now = now or utcnow()

    def tx() -> None:
        if set_state(number, True, keyword=code, source="carrier", now=now):
            sms_state.add_opt_out_event(conversation_ticket(number), number, "carrier", code, now)

    db.run_tx(tx)
