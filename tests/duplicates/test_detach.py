"""Detaching a near-duplicate: a message the pipeline joined to the customer's open ticket because it read
alike becomes its own ticket (``workers/tickets/ticket_detach.py``), restoring what the join changed (the message,
its thread key, its events, the status it ended), through the worker function, the command line and the
Slack button. The API route is tested in tests/api/test_detach_api.py."""

from __future__ import annotations

import pytest

from helpline.notifier.slack import slack_blocks
from helpline.store import models as m
from helpline.store.tickets import similarity_state
from helpline.store.channels import slack_state
from helpline.store.db import run_tx
from helpline.workers import slack_outbox
from helpline.workers.slack import slack_actions
from helpline.workers.tickets import ticket_detach
from helpline.workers.tickets import ticket_ops
from helpline.store.inbound import audit_events

from ..routing.test_routing_cli import helpline
from ..workers.builders import event_kinds, events, inbound_messages, mail, reload
from ..support.fake_twilio import inbound_form
from .test_duplicates import OUTAGE, OUTAGE_AGAIN, PHONE, link_phone


def in_tx(fn):  # noqa: ANN001, ANN201
    def tx():  # noqa: ANN202
        with audit_events.buffered_events():
            return fn()

    return run_tx(tx)


def joined(desk) -> tuple[m.Ticket, int, str]:  # noqa: ANN001
    """A ticket waiting on its customer, then a second mail of theirs that joined it; (ticket, message, mid)."""
    first = desk.receive(mail(subject="Internet down", body=OUTAGE)[0])
    tid = first.ticket_id
    in_tx(lambda: ticket_ops.change_status(ticket_ops.load(tid), "open", now=m.utcnow(), settings=desk.settings))
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(tid), "waiting_customer", now=m.utcnow(), settings=desk.settings
        )
    )
    raw, mid = mail(subject="Printer jams too", body=OUTAGE_AGAIN)
    second = desk.receive(raw)
    assert second.action == "appended" and second.ticket_id == tid
    ticket = reload(m.Ticket.get_by_id(tid))
    assert ticket.status == "open"  # the join ended the wait
    msg = inbound_messages(ticket)[-1]
    return ticket, msg.id, mid


def test_detach_restores_what_the_join_changed(desk):
    ticket, msg_id, mid = joined(desk)
    received = [e.id for e in events(ticket, "message_received") if e.data.get("message") == msg_id]
    assert len(received) == 1
    done = in_tx(
        lambda: ticket_detach.detach(
            ticket_ops.load(ticket.id),
            msg_id,
            now=m.utcnow(),
            settings=desk.settings,
            actor="ann@example.com",
            reason="other problem",
        )
    )
    new = m.Ticket.get(m.Ticket.number == done.number)
    old = reload(ticket)
    assert done.status_restored == "waiting_customer" and old.status == "waiting_customer"
    assert [x.id for x in inbound_messages(new)] == [msg_id] and len(inbound_messages(old)) == 1
    assert new.subject == "Printer jams too" and new.customer_id == old.customer_id and new.team == old.team
    assert m.Event.get_by_id(received[0]).ticket_id == new.id  # the join's events went with the message
    assert "near_duplicate_merged" in event_kinds(old)  # the join's own record stays where it happened
    (audit,) = events(old, "near_duplicate_detached")
    assert audit.actor == "ann@example.com" and audit.data["ticket"] == new.number and audit.data["message"] == msg_id
    assert events(new, "detached_from")[0].data["ticket"] == old.number
    assert {"ticket_created", "priority_set", "category_set"} <= set(event_kinds(new))
    # The customer's reply to the detached message follows it to its own ticket.
    reply = desk.receive(
        mail(subject="Re: Printer jams too", body="Any news on the printer?", in_reply_to=mid, references=[mid])[0]
    )
    assert reply.ticket_id == new.id
    # Once detached, or a message that never joined: refused, nothing changed.
    with pytest.raises(ticket_detach.NotJoined):
        in_tx(
            lambda: ticket_detach.detach(
                ticket_ops.load(old.id), msg_id, now=m.utcnow(), settings=desk.settings, actor="x"
            )
        )
    first_msg = inbound_messages(old)[0].id
    with pytest.raises(ticket_detach.NotJoined):
        in_tx(
            lambda: ticket_detach.detach(
                ticket_ops.load(old.id), first_msg, now=m.utcnow(), settings=desk.settings, actor="x"
            )
        )
    assert m.Ticket.select().count() == 2


def _detach(desk, ticket: m.Ticket, msg_id: int) -> ticket_detach.Detached:  # noqa: ANN001
    return in_tx(
        lambda: ticket_detach.detach(
            ticket_ops.load(ticket.id), msg_id, now=m.utcnow(), settings=desk.settings, actor="agent"
        )
    )


def test_a_detached_text_takes_the_numbers_conversation_along(desk):
    """Before: only the Message-ID key moved, so the number's next text still went to the old ticket."""
    first = desk.receive(mail(subject="No internet", body=OUTAGE)[0])
    ticket = m.Ticket.get_by_id(first.ticket_id)
    link_phone(ticket.customer_id)
    text = desk.run(desk.accept(inbound_form(OUTAGE_AGAIN, sender=PHONE)))
    assert text.action == "appended" and text.ticket_id == ticket.id  # joined as a near-duplicate
    msg_id = inbound_messages(ticket)[-1].id
    done = _detach(desk, ticket, msg_id)
    assert m.ThreadKey.get(m.ThreadKey.key == f"conv:sms:{PHONE}").ticket_id == done.ticket_id
    later = desk.run(desk.accept(inbound_form("any news? still no internet here", sender=PHONE)))
    assert later.action == "appended" and later.ticket_id == done.ticket_id
    assert [msg.channel for msg in inbound_messages(reload(ticket))] == ["email"]


def test_a_number_that_wrote_the_old_ticket_before_keeps_its_conversation_there(desk):
    """The number had texted the old ticket before the join: the agent detached one message, not the sender."""
    first = desk.run(desk.accept(inbound_form("Hello, my router shows a red light since this morning.", sender=PHONE)))
    ticket = m.Ticket.get_by_id(first.ticket_id)
    ticket_key = f"conv:sms:{PHONE}"
    assert m.ThreadKey.get(m.ThreadKey.key == ticket_key).ticket_id == ticket.id
    second = desk.run(desk.accept(inbound_form(OUTAGE_AGAIN, sender=PHONE)))
    assert second.ticket_id == ticket.id
    # make the second text look like a near-duplicate join, as if it had come before the key existed
    in_tx(
        lambda: audit_events.event(
            ticket.id,
            "near_duplicate_merged",
            {"message": inbound_messages(ticket)[-1].id, "ticket": ticket.number, "similarity": 0.9},
            now=m.utcnow(),
        )
    )
    done = _detach(desk, ticket, inbound_messages(ticket)[-1].id)
    assert m.ThreadKey.get(m.ThreadKey.key == ticket_key).ticket_id == ticket.id != done.ticket_id


def test_detach_from_the_command_line(desk):
    ticket, msg_id, _ = joined(desk)
    out = helpline(desk.settings, "tickets", "detach", ticket.number, str(msg_id), "--reason", "two problems")
    assert out.returncode == 0, out.stderr
    assert f"message {msg_id} is now HL-" in out.stdout and "waiting_customer again" in out.stdout
    again = helpline(desk.settings, "tickets", "detach", ticket.number, str(msg_id))
    assert again.returncode == 1 and "did not join" in again.stderr and "Traceback" not in again.stderr
    assert m.Ticket.select().count() == 2
    assert events(reload(ticket), "near_duplicate_detached")[0].actor.endswith("(operator, as admin)")


def test_slack_button_offered_and_pressed(desk):
    ticket, msg_id, _ = joined(desk)
    run_tx(lambda: slack_state.remember_thread(ticket.id, "C0SUPPORT", "1700000000.000100"))
    assert slack_outbox.sweep_detach_offers() == 1 and slack_outbox.sweep_detach_offers() == 0  # once per join
    offer = m.Outbox.get(m.Outbox.unique_key.startswith("slack:detach:"))
    assert offer.payload["op"] == "detach_offer" and offer.payload["message"] == msg_id
    body = slack_blocks.detach_offer(ticket.number, msg_id, 0.8)
    (button,) = body["blocks"][1]["elements"]
    assert button["action_id"] == slack_blocks.ACTION_PREFIX + f"detach:{msg_id}" and button["value"] == ticket.number
    where = {"channel": "C0SUPPORT", "thread_ts": "1700000000.000100", "ts": "1700000000.000200"}
    action, _, reason = in_tx(
        lambda: slack_actions.apply(
            ticket.id,
            {"command": "detach", "value": str(msg_id)},
            "U1",
            "Ann",
            where,
            "press-1",
            m.utcnow(),
            desk.settings,
        )
    )
    assert action != "noop", reason
    assert m.Ticket.select().count() == 2 and reload(ticket).status == "waiting_customer"
    assert events(reload(ticket), "near_duplicate_detached")[0].actor == "slack:U1"
    # pressed again: refused to that agent only, nothing changed
    action, _, reason = in_tx(
        lambda: slack_actions.apply(
            ticket.id,
            {"command": "detach", "value": str(msg_id)},
            "U1",
            "Ann",
            where,
            "press-2",
            m.utcnow(),
            desk.settings,
        )
    )
    assert action == "noop" and "did not join" in reason
    assert similarity_state.near_duplicate_join(ticket.id, msg_id) is None


def test_detaching_a_message_of_a_newer_release_is_refused_and_changes_nothing(desk):
    """A rolling upgrade (issue 16): the message's envelope is newer than this host reads. A clear refusal
    naming the version, not a traceback; the join stays as it was."""
    from helpline.store.envelope import ENVELOPE_VERSION

    ticket, msg_id, _ = joined(desk)
    inbound_id = m.Message.get_by_id(msg_id).inbound_id
    row = m.Inbound.get_by_id(inbound_id)
    m.Inbound.update(envelope={**row.envelope, "version": ENVELOPE_VERSION + 1}).where(
        m.Inbound.id == inbound_id
    ).execute()
    tickets = m.Ticket.select().count()
    with pytest.raises(ticket_ops.TicketOpError, match=f"message {msg_id} was stored by a newer Helpline") as got:
        in_tx(
            lambda: ticket_detach.detach(
                ticket_ops.load(ticket.id), msg_id, now=m.utcnow(), settings=desk.settings, actor="ann@example.com"
            )
        )
    assert "upgrade this host" in str(got.value)
    assert m.Ticket.select().count() == tickets and len(inbound_messages(reload(ticket))) == 2
    assert "near_duplicate_detached" not in event_kinds(reload(ticket))
