"""What the pipeline does differently for messages from the webhook API and the contact form.

Kept out of the pipeline so it stays one path for every channel; the webhook and
contact-form classes of ``inbound_channels.py`` call these few functions:

- ``ack_requested`` and the form's ``ack_may_echo``: the automatic acknowledgement. Email gets it
  as before. The contact form gets it too, since the form promises the ticket
  number by email, but the address typed into a form is nobody's proof of
  ownership: anyone can make us mail anyone. So that mail repeats nothing the
  form carried, neither the subject nor the name (``render_ack(echo=False)``),
  and the hourly per-address limit still applies. A webhook source answers its
  own users and gets the ticket number back through its callback, so its
  messages are acknowledged by email only when the request asks
  (``"acknowledge": true``) and names an email address the source vouches for.
- ``find_customer``: a signed source (or key holder) vouches for every
  identity it sends, so a message naming a known email address or phone number
  joins that customer even when its external user id is new. That makes it the
  same *person*, never a writer into that person's other tickets:
- ``writable``/``source_may_join``: a source writes only into tickets it created
  (and the ticket an agent merged one of them into). Thread evidence pointing
  elsewhere (another channel's ticket number, another source's) is treated like
  an outsider's guessed subject tag in email: the message opens a new ticket of
  its own, linked to the named one as a possible follow-up. The request itself
  was already answered 202 (threading happens in the worker), and that answer
  does not tell the source whether a ticket number exists. A near-duplicate or
  an exact copy joins only a ticket the message could have joined by evidence
  (and mail never joins a source's ticket on likeness alone), since likeness is
  no proof of who writes.
- ``record_source``/``callbacks``: inside the pipeline's transaction, link the vouched
  identities, keep the message's metadata on the ticket, remember which source
  the ticket came from, and queue its outbound webhook events. Returns the new
  outbox ids for the worker to deliver right after the commit.

An identity already belonging to another customer is never moved: that is an
agent's decision (an ``identity_conflict`` event says so).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from helpline.notifier.webhook import webhook_events
from helpline.store.tickets import customers
from helpline.store.channels import webhook_state
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.store.inbound import customer_refs
from helpline.workers.inbound.threads import Candidate


def vouched_identities(env: Envelope) -> list[tuple[str, str]]:
    """(kind, address) pairs the webhook source vouched for, the sender's first."""
    if env.channel != "webhook":
        return []
    return [(str(k), str(a)) for k, a in env.metadata.get("identities") or [] if k and a]


def _email_of(env: Envelope) -> str:
    return next((a for k, a in vouched_identities(env) if k == "email"), "")


def ack_requested(env: Envelope) -> bool:
    """A webhook message is acknowledged by email only when it asks and names an address its source vouches for."""
    return bool(env.metadata.get("acknowledge")) and bool(_email_of(env))


def find_customer(env: Envelope) -> customer_refs.CustomerRef | None:
    found = customer_refs.find(env.sender.kind, env.sender.address) if env.sender.address else None
    if found is not None:
        return found
    for kind, address in vouched_identities(env)[1:]:
        found = customer_refs.find(kind, address)
        if found is not None:
            return found
    return None


def writable(env: Envelope, cands: list[Candidate]) -> list[Candidate]:
    """``cands`` with the tickets a webhook message may not write into stripped of participants, so that
    threading treats them as an outsider's evidence (a new ticket, linked as a possible follow-up)."""
    if not cands:
        return cands
    ok = webhook_state.writable_by(str(env.metadata.get("source") or ""), sorted({c.ticket_id for c in cands}))
    return [c if c.ticket_id in ok else dataclasses.replace(c, participants=frozenset()) for c in cands]


def source_may_join(env: Envelope, ticket_id: int) -> bool:
    """May a webhook message join ``ticket_id`` without thread evidence (near-duplicate, exact copy)?
    Only a ticket its source may write into."""
    return ticket_id in webhook_state.writable_by(str(env.metadata.get("source") or ""), [ticket_id])


def may_join_without_source(ticket_id: int) -> bool:
    """May a message of any other channel join ``ticket_id`` on likeness alone? Only a ticket no source
    created, so a customer's mail is never sent on to an app's callback because it reads like that app's ticket."""
    return not webhook_state.creator_of(ticket_id)


def _link_identities(env: Envelope, ticket_id: int, customer_id: int, now: dt.datetime) -> None:
    for kind, address in vouched_identities(env):
        other = customers.link_vouched(customer_id, kind, address, now)
        if other is not None:
            audit_events.event(
                ticket_id,
                "identity_conflict",
                {
                    "kind": kind,
                    "address": address,
                    "customer": other,
                    "source": env.metadata.get("source", ""),
                    "reason": "the source vouched for an identity of another customer; link them by hand if they "
                    "are one person",
                },
                now=now,
            )


def record_source(env: Envelope, ticket_id: int, customer_id: int, action: str, now: dt.datetime) -> None:
    """A webhook message's bookkeeping inside the pipeline's transaction: the vouched identities, the
    message's fields on the ticket, and the ticket's creator."""
    source = str(env.metadata.get("source") or "")
    _link_identities(env, ticket_id, customer_id, now)
    fields = env.metadata.get("fields") or {}
    if fields:
        webhook_state.save_fields(ticket_id, {str(k): str(v) for k, v in fields.items()}, source, now)
    if source and action == "created":  # the ticket's creator: it alone hears of the ticket's events
        webhook_state.link_source(ticket_id, source, now)


def callbacks(
    env: Envelope, ticket_id: int, action: str, message_id: int, settings: Settings, now: dt.datetime
) -> list[int]:
    """The outbound webhook events of one stored customer message (any channel); new outbox ids."""
    data = webhook_events.message_data(
        message_id, env.channel, env.author_role, env.subject, env.text, len(env.attachments)
    )
    return webhook_events.after_customer_message(ticket_id, action, data, settings, now)
