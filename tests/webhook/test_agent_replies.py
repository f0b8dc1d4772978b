"""Agents answer contact form and webhook tickets from Slack: the form's customer gets
the reply by email, and a webhook source hears of every agent reply and status change
on its tickets. Built on the Slack tests' help desk (fake Slack Web API, relay sink)."""

from __future__ import annotations

import json

import pytest

from helpline.ingest.channels.contact_form import register_builders as register_form
from helpline.ingest.channels.webhook_api import register_builders as register_webhook
from helpline.notifier.webhook.webhook_sender import WebhookSender
from helpline.store import models as m
from helpline.workers.tickets import ticket_ops

from ..slack.conftest import fake_slack, parent_ts, slack_settings  # noqa: F401 (fixtures)
from ..slack.test_slack_replies import Team
from .support import SOURCES, encode, message
from .test_webhook_tickets import form_body


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack, receiver):  # noqa: F811
    t = Team(
        slack_settings.replace(webhook_sources=SOURCES, webhook_callbacks=f"shop={receiver.url}"),
        relay_sink,
        fake_slack,
    )
    t.senders["webhook"] = WebhookSender(t.settings)
    register_form(t.desk.intake)
    register_webhook(t.desk.intake)
    yield t
    t.close()


def test_a_contact_form_ticket_is_answered_by_email(team):
    raw, ctype = form_body(
        name="Ann Customer", email="ann@example.org", subject="Invoice 88", message="The total of invoice 88 is wrong."
    )
    team.desk.intake.accept_request("form", raw, {"content_type": ctype, "nonce": "n-1", "remote": "192.0.2.1"})
    (outcome,) = team.work()
    ticket = m.Ticket.get_by_id(outcome.ticket_id)
    assert team.sink.wait_for(1)[0].rcpt_tos == ["ann@example.org"]  # the acknowledgement
    team.agent_says("We corrected invoice 88, sorry for the trouble.", parent_ts(ticket.id))
    reply = team.sink.wait_for(2)[1]
    assert reply.rcpt_tos == ["ann@example.org"]
    assert "We corrected invoice 88" in reply.message().get_content()
    assert f"[{ticket.number}]" in reply.message()["Subject"]


def test_the_source_hears_of_agent_replies_and_status_changes(team, receiver):
    team.desk.intake.accept_request(
        "webhook",
        encode(message(acknowledge=True)),
        {"source": "shop", "auth": "signature", "content_type": "application/json", "idempotency_key": "m1"},
    )
    (created,) = team.work()
    ticket = m.Ticket.get_by_id(created.ticket_id)
    # the customer answers the acknowledgement by email; the agent answers in Slack, by email
    team.customer_writes(
        subject=f"Re: [{ticket.number}] Order 4711",
        body="The parcel number is 123.\n",
        sender="Ann Customer <ann@example.org>",
    )
    team.agent_says("Thanks, the parcel is on its way.", parent_ts(ticket.id))
    # an agent resolves the ticket (the command line, Slack buttons and timers all come through change_status)
    from helpline.store.db import run_tx

    run_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket.id),
            "resolved",
            now=m.utcnow(),
            settings=team.settings,
            actor="dana@support.example.com",
        )
    )
    from helpline.notifier.deliver import deliver_due

    deliver_due(team.settings, team.senders["webhook"])
    events = [
        (e["type"], e.get("message", {}).get("author_role"), e.get("status", {}).get("to")) for e in receiver.events()
    ]
    assert ("ticket.created", "customer", None) in events
    assert ("ticket.replied", "customer", None) in events
    assert ("ticket.replied", "agent", None) in events
    assert ("ticket.status_changed", None, "resolved") == events[-1]
    agent = next(e for e in receiver.events() if e.get("message", {}).get("author_role") == "agent")
    assert agent["message"]["text"] == "Thanks, the parcel is on its way." and agent["message"]["channel"] == "email"
    assert len({e["id"] for e in receiver.events()}) == len(events)
    assert json.loads(receiver.requests[0]["body"])["ticket"]["number"] == ticket.number
