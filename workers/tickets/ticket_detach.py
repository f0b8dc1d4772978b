"""Detach: a message joined to a ticket as a near-duplicate becomes its own ticket, inside the caller's transaction.

The near-duplicate stage (``duplicates.py``) joins a customer's new message to
their open ticket when the texts read alike; an agent who sees it is another
problem detaches it (``helpline tickets detach NUMBER MESSAGE``, ``POST
/api/v1/tickets/{number}/messages/{id}/detach``, the Slack button under the
join). Not ``split``, which undoes a merge of two tickets (``ticket_split.py``).

What the join changed is restored: the message, its thread keys (its
Message-ID, and the sender's SMS number or webhook conversation when the join
brought them, so the customer's replies and next texts follow it) and the events the join wrote for it
(``message_received``, triage) move to a new ticket of the message's own
customer, opened as the pipeline would have opened it (subject, category,
priority, team and agent, SLA clocks); the status change the join caused on
the old ticket (waiting -> open) is undone if nothing changed it since. Both
tickets get an audit event. No acknowledgement is sent: the customer was told
nothing when the message joined, and the agents now answer on the new ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from helpline.router.lifecycle import InvalidTransition
from helpline.store.inbound import message_rows
from helpline.store.tickets import ticket_moves
from helpline.store.tickets import similarity_state as state
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.store.inbound import customer_refs
from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import routing_stage
from helpline.workers.tickets import ticket_ops
from helpline.workers.tickets import triage

STAYS = ("near_duplicate_merged",)  # the join's own record stays on the ticket it joined


class NotJoined(ticket_ops.TicketOpError):
    """The message is not one that joined this ticket as a near-duplicate (nothing was changed)."""


@dataclass
class Detached:
    number: str  # the new ticket's
    ticket_id: int
    status_restored: str = ""  # the old ticket's status put back, "" when the join had not changed it
    outbox_ids: list[int] = field(default_factory=list)  # the new ticket's Slack post, for delivery after commit


def detach(
    source: ticket_ops.TicketState,
    message_id: int,
    *,
    now: dt.datetime,
    settings: Settings,
    actor: str,
    reason: str = "",
) -> Detached:
    """Make ``message_id`` (joined to ``source`` as a near-duplicate) its own ticket; returns it."""
    join = state.near_duplicate_join(source.id, message_id)
    if join is None:
        raise NotJoined(
            f"message {message_id} did not join {source.number} as a near-duplicate (or was detached "
            "already); `helpline tickets show` lists the ticket's events"
        )
    got = message_rows.customer_message(source.id, message_id)
    if got is None:
        raise NotJoined(f"message {message_id} is not a customer message of {source.number}")
    inbound_id, mid, sender = got
    stored = message_rows.inbound_envelope(inbound_id)
    env = ticket_ops.readable_envelope(stored, f"message {message_id}") if stored is not None else None
    if env is None:
        raise NotJoined(f"message {message_id} has no stored envelope to open a ticket from")
    from helpline.workers.inbound.threads import clean_subject

    customer = customer_refs.find(env.sender.kind, env.sender.address) if env.sender.address else None
    customer_id = customer.id if customer is not None else ticket_refs.get(source.id).customer_id
    subject = clean_subject(env.subject) or "(no subject)"
    from helpline.router.categories.category import categorise  # loads the model's libraries: only when used

    cat = categorise(subject, env.text, settings)
    sig = triage.signals(env, settings)
    prio = triage.new_ticket_priority(env, subject, customer_id, cat["category"], sig, settings, now)
    support = ticket_refs.get(source.id).support_address
    new = ticket_refs.create(
        env,
        customer_id,
        subject,
        prio.level,
        support,
        now,
        None,
        False,
        extra={"category": cat["category"], "team": cat.get("team"), **triage.ticket_columns(sig)},
    )
    # What the join wrote for this message goes with it; its own record stays where it happened.
    moved = [
        e.id
        for e in state.events_of_instant(source.id, join.created_at)
        if e.kind not in STAYS and e.data.get("message") == message_id
    ]
    ticket_moves.carry(ticket_moves.Moved(messages=[message_id]), new.id)
    state.move_events(moved, new.id)
    keys = [f"mid:{mid.lower()}"] if mid else []
    keys += _conversation_keys(source.id, message_id, env, sender or env.sender.address)
    if keys:
        ticket_moves.carry(ticket_moves.Moved(thread_keys=keys), new.id)
    thread_state.add_participants(new.id, [(env.sender.kind, sender or env.sender.address, "sender")])
    audit_events.event(
        new.id,
        "ticket_created",
        {"channel": env.channel, "reason": f"detached from {source.number}"},
        actor=actor,
        now=now,
    )
    audit_events.event(new.id, "priority_set", prio.as_event(), now=now)
    triage.on_new_ticket(new.id, sig, now)
    audit_events.event(new.id, "category_set", cat, now=now)
    routing_stage.on_new_ticket(new.id, env, settings, now)  # team, agent, SLA clocks
    restored = _restore_status(source, join, now=now, settings=settings, actor=actor)
    # the old ticket's last customer message is now an earlier one
    ticket_refs.update(source.id, updated_at=now, last_customer_at=message_rows.last_customer_at(source.id))
    data = {
        "message": message_id,
        "ticket": new.number,
        "reason": reason,
        "events_moved": len(moved),
        "status_restored": restored or None,
    }
    audit_events.event(source.id, "near_duplicate_detached", data, actor=actor, now=now)
    audit_events.event(
        new.id,
        "detached_from",
        {"ticket": source.number, "message": message_id, "reason": reason},
        actor=actor,
        now=now,
    )
    ids: list[int] = []
    if settings.slack_bot_token and settings.slack_channel:  # the new ticket in Slack, as the pipeline posts one
        from helpline.workers.slack_outbox import on_customer_message, queue_update

        ids += on_customer_message(new.id, message_id, "created", new.status, settings, None)
        update = queue_update(source.id)
        ids += [update] if update is not None else []
    return Detached(new.number, new.id, restored, ids)


def _conversation_keys(source_id: int, message_id: int, env: Envelope, sender: str) -> list[str]:
    """The sender's conversation keys (an SMS number's ``conv:sms:+E164``, a webhook source's conversation) that
    the join pointed at the old ticket, so the sender's next text follows the detached message. Left where
    they are when the sender wrote other messages of the old ticket on that channel: the conversation was
    there before the join, and the agent detached one message, not the sender."""
    from helpline.workers.inbound.threads import thread_keys

    conv = [k for k in thread_keys(env) if k.startswith("conv:")]
    if not conv or message_rows.sender_wrote_other(source_id, message_id, env.channel, sender):
        return []
    return thread_state.keys_pointing_at(source_id, conv)


def _restore_status(
    source: ticket_ops.TicketState, join: state.JoinedEvent, *, now: dt.datetime, settings: Settings, actor: str
) -> str:
    """Undo the join's status change (the customer's message ended a wait) if the ticket is still where it put it."""
    changed = [
        e
        for e in state.events_of_instant(source.id, join.created_at)
        if e.kind == "status_changed" and e.actor == "customer"
    ]
    if not changed:
        return ""
    before, after = str(changed[-1].data.get("from") or ""), str(changed[-1].data.get("to") or "")
    t = ticket_ops.load(source.id)
    if not before or t.status != after:
        return ""
    if message_rows.status_changed_since(source.id, changed[-1].id):
        return ""
    try:
        ticket_ops.change_status(
            t,
            before,
            now=now,
            settings=settings,
            actor=actor,
            reason="the message that changed it was detached into its own ticket",
        )
    except InvalidTransition:
        return ""
    source.status = before
    return before
