"""The undo window: an agent's reply waits (default 5 s) with an Undo button shown only
to that agent; pressing it in time withdraws the reply for good."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.notifier.deliver import deliver_due
from helpline.notifier.email.email_sender import EmailSender
from helpline.store import models as m

from ..support.fake_slack import block_action, signed_headers
from ..workers.builders import events
from .conftest import AGENT, AGENT2, CHANNEL, OUTSIDER, parent_ts
from .test_slack_replies import Team

UNDO = 5.0


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings.replace(slack_undo_seconds=UNDO), relay_sink, fake_slack)
    yield t
    t.close()


def press_undo(team: Team, outbox_id: int, user: str = AGENT) -> dict:
    body = block_action(
        "helpline_undo",
        str(outbox_id),
        user=user,
        channel=CHANNEL,
        response_url=team.slack.response_url(f"u{outbox_id}"),
    )
    headers = dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    status, _ = team.listener.post(body, headers)
    assert status == 200
    return team.slack.calls_of("response_url")[-1].args


def waiting_reply(team: Team) -> tuple[m.Ticket, m.Outbox, str]:
    ticket, _ = team.customer_writes()
    team.sink.wait_for(1)
    before = m.utcnow()
    ts, (outcome,) = team.agent_says("Your refund is on its way.", parent_ts(ticket.id))
    row = m.Outbox.get(m.Outbox.kind == "reply")
    assert outcome.delayed == [(row.id, UNDO)] and row.id not in outcome.outbox_ids
    assert row.status == "pending"
    assert before + dt.timedelta(seconds=UNDO - 1) <= row.next_attempt_at <= m.utcnow() + dt.timedelta(seconds=UNDO)
    return ticket, row, ts


def close_window(team: Team, row: m.Outbox):
    m.Outbox.update(next_attempt_at=m.utcnow()).where(m.Outbox.id == row.id).execute()
    return deliver_due(team.settings, EmailSender(team.settings))


def test_reply_waits_with_an_undo_button_for_the_agent_only_then_leaves(team):
    ticket, row, ts = waiting_reply(team)
    (offer,) = team.slack.calls_of("chat.postEphemeral")
    assert offer.args["user"] == AGENT and offer.args["thread_ts"] == parent_ts(ticket.id)
    button = offer.args["blocks"][0]["accessory"]
    assert (button["action_id"], button["value"]) == ("helpline_undo", str(row.id))
    assert "alice@example.org" in offer.args["text"] and "5 s" in offer.args["text"]
    assert len(team.sink.received) == 1  # not yet
    assert deliver_due(team.settings, EmailSender(team.settings)).claimed == 0  # the window is still open
    assert close_window(team, row).sent == 1
    assert "Your refund is on its way." in team.sink.wait_for(2)[1].message().get_content()
    assert team.slack.reactions[(CHANNEL, ts)] == ["white_check_mark"]


def test_undo_in_time_withdraws_the_reply(team):
    ticket, row, ts = waiting_reply(team)
    answer = press_undo(team, row.id)
    assert "Withdrawn" in answer["text"] and answer["replace_original"] is True
    row = m.Outbox.get_by_id(row.id)
    assert row.status == "suppressed" and "undo" in row.last_error
    assert m.Message.get_by_id(row.out_message_id).delivery_status == "withdrawn"
    (withdrawn,) = events(ticket, "agent_reply_withdrawn")
    assert withdrawn.actor == f"slack:{AGENT}" and withdrawn.data["outbox_id"] == row.id
    assert close_window(team, row).claimed == 0
    assert len(team.sink.received) == 1 and (CHANNEL, ts) not in team.slack.reactions


def test_undo_after_the_reply_left_is_too_late(team):
    _, row, _ = waiting_reply(team)
    close_window(team, row)
    answer = press_undo(team, row.id, user=AGENT2)  # any agent may press it; it is simply too late
    assert "Too late" in answer["text"]
    assert m.Outbox.get_by_id(row.id).status == "sent" and len(team.sink.wait_for(2)) == 2


def test_someone_who_is_not_an_agent_cannot_undo(team):
    ticket, row, _ = waiting_reply(team)
    answer = press_undo(team, row.id, user=OUTSIDER)
    assert "Only Helpline agents" in answer["text"] and answer["replace_original"] is False
    assert m.Outbox.get_by_id(row.id).status == "pending" and not events(ticket, "agent_reply_withdrawn")


def test_undo_of_something_that_is_not_a_reply_is_refused(team):
    ticket, row, _ = waiting_reply(team)
    ack = m.Outbox.get(m.Outbox.kind == "ack")
    assert "cannot be withdrawn" in press_undo(team, ack.id)["text"]
    assert m.Outbox.get_by_id(ack.id).status == "sent"


def test_a_forged_undo_is_refused(team):
    _, row, _ = waiting_reply(team)
    body = block_action(
        "helpline_undo", str(row.id), user=AGENT, channel=CHANNEL, response_url=team.slack.response_url("forged")
    )
    headers = dict(signed_headers(body, secret="guessed"), **{"Content-Type": "application/x-www-form-urlencoded"})
    assert team.listener.post(body, headers)[0] == 401
    assert m.Outbox.get_by_id(row.id).status == "pending"
    assert not team.slack.calls_of("response_url")
