"""SMS in, ticket in Slack, agent reply in the thread, SMS out: the Slack and Twilio
adapters together, with the real twilio and slack_sdk clients against local stand-ins."""

from __future__ import annotations

from helpline.notifier.deliver import deliver_one
from helpline.store import models as m

from ..sms.conftest import SmsDesk, twilio_settings
from ..support.fake_twilio import OUR_NUMBER
from .conftest import AGENT, CHANNEL, Listener, deliver_slack, parent_ts, signed_event, thread_message


def test_sms_in_agent_reply_in_slack_sms_out(slack_settings, fake_twilio, fake_slack):
    desk = SmsDesk(twilio_settings(slack_settings, fake_twilio))
    listener = Listener(desk.settings, desk.intake)
    try:
        outcome = desk.text("My router blinks red since this morning", sender="+14155550123")
        assert outcome.action == "created"
        deliver_slack(desk.settings)
        ticket = m.Ticket.get_by_id(outcome.ticket_id)
        parent = fake_slack.calls_of("chat.postMessage")[0]
        assert parent.args["channel"] == CHANNEL and ":iphone: +14155550123" in str(parent.args["blocks"])

        ts = "1800009999.000100"
        body, headers = signed_event(thread_message("Please unplug it for 30 seconds.", parent_ts(ticket.id), ts=ts))
        assert listener.post(body, headers)[0] == 200
        reply_outcome = desk.run(desk.submitted[-1])  # the agent's message, as the worker would
        assert reply_outcome.action == "replied"
        for oid in reply_outcome.outbox_ids:
            deliver_one(desk.settings, desk.sender, oid)
        texts = fake_twilio.wait_for(2)  # the SMS acknowledgement, then the agent's reply
        reply = texts[-1]
        assert (reply.to, reply.body) == ("+14155550123", "Please unplug it for 30 seconds.")
        assert reply.form.get("From") == OUR_NUMBER
        out = m.Message.get((m.Message.ticket == ticket) & (m.Message.author_role == "agent"))
        assert (out.channel, out.author, out.direction) == ("sms", "Dana Agent", "out")
        assert m.Event.get(m.Event.kind == "agent_replied").actor == f"slack:{AGENT}"
        assert fake_slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]
    finally:
        listener.close()
