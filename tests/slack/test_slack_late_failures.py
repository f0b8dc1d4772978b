"""A reply an agent wrote in Slack that was handed over but never arrived: an email bounce (a DSN
for its Message-ID) or an SMS ``undelivered`` status callback is said in the ticket's thread, once.
Real intake, pipeline, listener and senders; the fake Slack and Twilio; both databases."""

from __future__ import annotations

import json

import pytest

from helpline.notifier.deliver import deliver_one
from helpline.store import models as m

from ..sms.conftest import SmsDesk, twilio_settings
from ..support.fake_twilio import PUBLIC_URL, post_signed, status_form
from ..workers.builders import dsn, events
from .conftest import CHANNEL, Listener, deliver_slack, parent_ts, signed_event, thread_message
from .test_slack_replies import Team


def failure_notices(fake_slack, thread: str) -> list[str]:  # noqa: ANN001
    return [
        json.dumps(c.args["blocks"])
        for c in fake_slack.calls_of("chat.postMessage")
        if c.args.get("thread_ts") == thread and "not delivered" in json.dumps(c.args["blocks"])
    ]


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def test_a_bounce_of_an_agents_email_reply_is_said_in_the_thread_once(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    team.agent_says("Your parcel left today.", parent)
    reply = team.sink.wait_for(2)[1]
    assert not failure_notices(team.slack, parent)
    for _ in range(2):  # the mail system reports it twice
        team.desk.deliver(dsn(reply.data), mail_from="")
        (outcome,) = team.work()
        assert outcome.action == "bounce"
        deliver_slack(team.settings)
    (notice,) = failure_notices(team.slack, parent)
    assert "bounced" in notice and "Undelivered Mail" in notice
    row = m.Outbox.get(m.Outbox.kind == "reply")
    assert row.status == "failed" and row.last_error.startswith("bounced:")
    assert len(events(ticket, "delivery_failed")) == 1


def test_a_bounce_of_the_acknowledgement_says_nothing_in_slack(team):
    ticket, _ = team.customer_writes()
    ack = team.sink.wait_for(1)[0]
    team.desk.deliver(dsn(ack.data), mail_from="")
    team.work()
    deliver_slack(team.settings)
    assert not failure_notices(team.slack, parent_ts(ticket.id))
    assert m.Outbox.select().where(m.Outbox.channel == "slack", m.Outbox.status == "pending").count() == 0


def test_an_undelivered_sms_reply_is_said_in_the_thread_once(slack_settings, fake_twilio, fake_slack):
    desk = SmsDesk(twilio_settings(slack_settings, fake_twilio))
    listener = Listener(desk.settings, desk.intake)
    try:
        outcome = desk.text("My router blinks red", sender="+14155550123")
        deliver_slack(desk.settings)
        ticket = m.Ticket.get_by_id(outcome.ticket_id)
        parent = parent_ts(ticket.id)
        body, headers = signed_event(thread_message("Unplug it for 30 seconds.", parent, ts="1800009998.000100"))
        assert listener.post(body, headers)[0] == 200
        reply = desk.run(desk.submitted[-1])
        for oid in reply.outbox_ids:
            deliver_one(desk.settings, desk.sender, oid)
        sent = fake_twilio.wait_for(2)[-1]
        assert sent.body == "Unplug it for 30 seconds."
        path = sent.form["StatusCallback"][len(PUBLIC_URL) :]
        base = f"http://127.0.0.1:{listener.port}"
        for status in ("undelivered", "failed"):  # a second failure report changes nothing more
            resp = post_signed(base, path, status_form(sent.sid, status, error_code="30003"))
            assert resp.status_code == 200
            deliver_slack(desk.settings)
        (notice,) = failure_notices(fake_slack, parent)
        assert "30003" in notice
        assert fake_slack.calls_of("chat.postMessage")[-1].args["channel"] == CHANNEL
    finally:
        listener.close()
