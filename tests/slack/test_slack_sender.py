"""The Slack sender against the fake Web API: the real slack_sdk client, real outbox rows
written by the real pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

from helpline.notifier.deliver import deliver_due
from helpline.notifier.errors import RateLimited
from helpline.notifier.slack.slack_sender import Pacer, SlackSender, channel_for_team
from helpline.store import models as m

from ..workers.builders import Desk, mail, reload, set_status
from .conftest import CHANNEL, deliver_slack, parent_ts, quick_sender


def slack_rows(ticket=None, kind=None) -> list[m.Outbox]:
    q = m.Outbox.select().where(m.Outbox.channel == "slack")
    if ticket is not None:
        q = q.where(m.Outbox.ticket == ticket)
    if kind:
        q = q.where(m.Outbox.kind == kind)
    return list(q.order_by(m.Outbox.id))


def test_new_ticket_is_posted_and_its_ts_kept(slack_desk, fake_slack):
    ticket, _ = slack_desk.new_ticket(subject="Order 4711 never arrived", body="Where is <!channel> my order?\n")
    (row,) = slack_rows(ticket)
    assert (row.kind, row.status, row.payload["op"]) == ("slack_ticket", "pending", "post_ticket")
    report = deliver_slack(slack_desk.settings)
    assert report.sent == 1
    (call,) = fake_slack.calls_of("chat.postMessage")
    assert call.args["channel"] == CHANNEL and call.token == slack_desk.settings.slack_bot_token
    assert ticket.number in call.args["text"] and "Order 4711 never arrived" in call.args["text"]
    blocks = call.args["blocks"]
    assert blocks[0]["text"]["text"].startswith(ticket.number)
    body = [b for b in blocks if b["type"] == "section" and "text" in b][0]["text"]
    assert body == {"type": "plain_text", "text": "Where is <!channel> my order?", "emoji": False}  # never parsed
    assert call.args["unfurl_links"] is False
    ts = parent_ts(ticket.id)
    assert m.Outbox.get_by_id(row.id).provider_id == f"{CHANNEL}:{ts}"
    assert ts in {t for (_, t) in fake_slack.messages}


def test_later_customer_message_goes_into_the_ticket_thread(slack_desk, fake_slack):
    ticket, mid = slack_desk.new_ticket()
    deliver_slack(slack_desk.settings)
    raw, _ = mail(
        subject="Re: Order never arrived", body="Any news? Tracking says nothing.\n", in_reply_to=mid, references=[mid]
    )
    assert slack_desk.receive(raw).action == "appended"
    (row,) = slack_rows(ticket, "slack_message")
    assert deliver_slack(slack_desk.settings).sent == 1
    post = fake_slack.calls_of("chat.postMessage")[-1]
    assert post.args["thread_ts"] == parent_ts(ticket.id) and post.args["channel"] == CHANNEL
    assert "Any news? Tracking says nothing." in str(post.args["blocks"])
    assert not fake_slack.calls_of("chat.update")  # nothing about the ticket changed


def test_thread_post_waits_for_the_parent_then_follows_it(slack_desk, fake_slack):
    ticket, mid = slack_desk.new_ticket()
    raw, _ = mail(subject="Re: Order never arrived", body="Forgot: order 4711.\n", in_reply_to=mid)
    slack_desk.receive(raw)
    post_msg = slack_rows(ticket, "slack_message")[0]
    # The thread post is tried first (the parent is still pending): it waits without using an attempt.
    from helpline.notifier.deliver import deliver_one

    deliver_one(slack_desk.settings, quick_sender(slack_desk.settings), post_msg.id)
    again = m.Outbox.get_by_id(post_msg.id)
    assert (again.status, again.attempts) == ("pending", 0) and "not posted yet" in again.last_error
    m.Outbox.update(next_attempt_at=m.utcnow()).where(m.Outbox.id == post_msg.id).execute()
    assert deliver_slack(slack_desk.settings).sent == 2
    first, second = fake_slack.calls_of("chat.postMessage")
    assert "thread_ts" not in first.args and second.args["thread_ts"] == parent_ts(ticket.id)


def test_reopening_updates_the_parent_in_place(slack_desk, fake_slack):
    ticket, mid = slack_desk.new_ticket()
    deliver_slack(slack_desk.settings)
    set_status(ticket, m.TicketStatus.RESOLVED, resolved_ago=dt.timedelta(hours=1))
    raw, _ = mail(subject="Re: Order never arrived", body="It broke again.\n", in_reply_to=mid)
    assert slack_desk.receive(raw).action == "reopened"
    assert [r.kind for r in slack_rows(ticket)] == ["slack_ticket", "slack_message", "slack_update"]
    deliver_slack(slack_desk.settings)
    (update,) = fake_slack.calls_of("chat.update")
    assert update.args["ts"] == parent_ts(ticket.id) and "Open" in str(update.args["blocks"])
    assert fake_slack.messages[(CHANNEL, parent_ts(ticket.id))]["blocks"] == update.args["blocks"]


def test_updates_of_one_parent_are_coalesced_while_pending(slack_desk, fake_slack):
    from helpline.store.db import run_tx
    from helpline.workers.slack_outbox import queue_update

    ticket, _ = slack_desk.new_ticket()
    first = run_tx(lambda: queue_update(ticket.id))
    assert first is not None and run_tx(lambda: queue_update(ticket.id)) is None
    deliver_slack(slack_desk.settings)
    assert run_tx(lambda: queue_update(ticket.id)) is not None  # the first went out: a new change needs a row


def test_rate_limit_honours_retry_after_without_using_an_attempt(slack_desk, fake_slack):
    ticket, _ = slack_desk.new_ticket()
    fake_slack.rate_limit("chat.postMessage", retry_after=30)
    before = m.utcnow()
    report = deliver_slack(slack_desk.settings)
    assert (report.sent, report.retry) == (0, 1)
    row = slack_rows(ticket)[0]
    assert row.status == "pending" and row.attempts == 0 and "retry after 30s" in row.last_error
    assert before + dt.timedelta(seconds=29) <= row.next_attempt_at <= m.utcnow() + dt.timedelta(seconds=31)
    assert deliver_slack(slack_desk.settings).claimed == 0  # not due yet
    m.Outbox.update(next_attempt_at=m.utcnow()).where(m.Outbox.id == row.id).execute()
    assert deliver_slack(slack_desk.settings).sent == 1
    assert len(fake_slack.calls_of("chat.postMessage")) == 2


def test_retry_after_holds_the_whole_channel_in_this_process(slack_settings, fake_slack):
    pacer = Pacer(interval=1.0)
    pacer.hold(CHANNEL, 20)
    try:
        pacer.reserve(CHANNEL, max_wait=1.0)
    except RateLimited as exc:
        assert 19 <= exc.retry_after <= 20
    else:
        raise AssertionError("a held channel must make the next post wait")
    assert pacer.reserve("C0OTHER", max_wait=1.0) == 0.0


def test_posts_to_one_channel_are_paced_one_second_apart(slack_desk, fake_slack):
    for _ in range(3):
        slack_desk.new_ticket()
    slept: list[float] = []
    now = [100.0]

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    sender = SlackSender(slack_desk.settings, pacer=Pacer(interval=1.0, clock=lambda: now[0]), sleep=sleep)
    assert deliver_due(slack_desk.settings, sender).sent == 3
    assert slept == [1.0, 1.0]


def test_a_burst_beyond_a_second_queues_instead_of_failing(slack_settings):
    now = [0.0]
    pacer = Pacer(interval=1.0, clock=lambda: now[0])
    waits = []
    for _ in range(2):
        waits.append(pacer.reserve(CHANNEL, max_wait=1.0))
    assert waits == [0.0, 1.0]
    try:
        pacer.reserve(CHANNEL, max_wait=1.0)
    except RateLimited as exc:  # a third poster at once: back to the outbox for two seconds, no attempt used
        assert exc.retry_after == 2.0
    else:
        raise AssertionError("expected RateLimited")


def test_bot_not_in_channel_is_retried_with_a_hint_and_archived_fails_visibly(slack_desk, fake_slack):
    ticket, _ = slack_desk.new_ticket()
    fake_slack.not_in.add(CHANNEL)
    report = deliver_slack(slack_desk.settings)
    row = slack_rows(ticket)[0]
    assert report.retry == 1 and row.status == "pending" and row.attempts == 1
    assert "invite it" in row.last_error and CHANNEL in row.last_error
    fake_slack.not_in.clear()
    fake_slack.archived.add(CHANNEL)
    m.Outbox.update(next_attempt_at=m.utcnow()).where(m.Outbox.id == row.id).execute()
    assert deliver_slack(slack_desk.settings).failed == 1
    row = m.Outbox.get_by_id(row.id)
    assert row.status == "failed" and "archived" in row.last_error
    assert m.Event.select().where((m.Event.ticket == ticket) & (m.Event.kind == "outbox_failed")).count() == 1


def test_a_refused_token_stops_the_round_and_keeps_the_rows(slack_desk, fake_slack):
    for _ in range(2):
        slack_desk.new_ticket()
    bad = slack_desk.settings.replace(slack_bot_token="xoxb-revoked")
    report = deliver_due(bad, quick_sender(bad))
    assert (report.sent, report.retry) == (0, 2)
    assert len(fake_slack.calls_of("chat.postMessage")) == 1  # the second row was not even tried
    assert all(r.status == "pending" and "HELPLINE_SLACK_BOT_TOKEN" in r.last_error for r in slack_rows())


def test_team_channels_and_slack_off(slack_desk, fake_slack):
    s = slack_desk.settings.replace(slack_team_channels=("billing=C0BILLING", "triage=C0TRIAGE"))
    assert channel_for_team(s, "billing") == "C0BILLING"
    assert channel_for_team(s, "shipping") == CHANNEL and channel_for_team(s, None) == CHANNEL
    ticket, _ = Desk(s).new_ticket()
    team = reload(ticket).team
    assert slack_rows(ticket)[0].recipient == channel_for_team(s, team)
    off = Desk(slack_desk.settings.replace(slack_bot_token="", slack_channel=""))
    quiet, _ = off.new_ticket()
    assert slack_rows(quiet) == []


def test_changes_made_elsewhere_reach_the_parent_through_the_sweep(slack_desk, fake_slack):
    from helpline.store.db import run_tx
    from helpline.store.inbound import audit_events
    from helpline.store.tickets import ticket_refs
    from helpline.workers.slack_outbox import sweep_updates

    ticket, _ = slack_desk.new_ticket()
    other, _ = slack_desk.new_ticket()
    deliver_slack(slack_desk.settings)
    assert sweep_updates() == 0  # nothing happened since the posts

    def escalate() -> None:  # what routing does: change the ticket, leave an audit event
        ticket_refs.update(ticket.id, priority="urgent", updated_at=m.utcnow())
        audit_events.event(ticket.id, "escalated", {"reason": "SLA breached"})
        audit_events.event(other.id, "message_received", {"message": 0})  # not about the card

    run_tx(escalate)
    assert sweep_updates() == 1 and sweep_updates() == 0  # one update on its way is enough
    deliver_slack(slack_desk.settings)
    (update,) = fake_slack.calls_of("chat.update")
    assert update.args["ts"] == parent_ts(ticket.id) and "Urgent" in str(update.args["blocks"])
    assert sweep_updates() == 0  # rendered after the change


def test_a_burst_of_fifty_tickets_queues_instead_of_failing(slack_desk, fake_slack):
    """Slack rate-limits part of the burst; every ticket is posted in the end, none failed,
    and waiting for Slack used up no attempts."""
    for _ in range(50):
        slack_desk.new_ticket()
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=3)
    sender = SlackSender(slack_desk.settings, pacer=Pacer(interval=0.01))
    deadline = time.monotonic() + 60
    while m.Outbox.select().where((m.Outbox.channel == "slack") & (m.Outbox.status != "sent")).exists():
        assert time.monotonic() < deadline, "the burst did not drain"
        report = deliver_due(slack_desk.settings, sender)
        assert report.failed == 0
        if not report.claimed:
            time.sleep(0.2)
    rows = slack_rows(kind="slack_ticket")
    assert len(rows) == 50 and all(r.status == "sent" and r.attempts == 1 for r in rows)
    assert len(fake_slack.calls_of("chat.postMessage")) == 53  # fifty posts and the three Slack refused
    assert len({parent_ts(r.ticket_id) for r in rows}) == 50
