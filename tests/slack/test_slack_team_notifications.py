"""SLA warnings, breaches and escalations (``team_notification`` events) reach
Slack: a line in the ticket's thread and one in the team's channel, once each."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.notifier.deliver import deliver_due
from helpline.store import fastsql
from helpline.store.siteconfig import config_file
from helpline.store.tickets import routing_state
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers import slack_outbox
from helpline.workers.tickets import notices
from helpline.workers.tickets import sla_clock
from helpline.workers.tickets import ticket_ops
from helpline.workers.jobs import ticket_timers

from ..routing.conftest import berlin, event_data, in_tx
from .conftest import CHANNEL, deliver_slack, parent_ts
from .test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def notify(ticket: m.Ticket, kind: str, text: str) -> None:
    run_tx(lambda: notices.team_notification(ticket.id, None, kind, text, m.utcnow(), {"target": "first_response"}))


def test_a_breach_is_posted_in_the_thread_and_the_channel_once(team):
    ticket, _ = team.customer_writes()
    before = len(team.slack.calls_of("chat.postMessage"))
    notify(ticket, "sla_breach", f"[{ticket.number}] SLA breached: first response due 2026-11-26 10:00 UTC <!channel>")
    assert slack_outbox.sweep_team_notifications(team.settings) == 1
    deliver_slack(team.settings)
    posts = team.slack.calls_of("chat.postMessage")[before:]
    assert len(posts) == 2
    in_thread = [p for p in posts if p.args.get("thread_ts") == parent_ts(ticket.id)]
    in_channel = [p for p in posts if not p.args.get("thread_ts")]
    assert len(in_thread) == 1 and len(in_channel) == 1 and in_channel[0].args["channel"] == CHANNEL
    text = in_channel[0].args["text"]
    assert "SLA breached" in text and ticket.number in text and "<!channel>" not in text  # escaped, no ping
    # the next sweep finds nothing new, and nothing is posted twice
    assert slack_outbox.sweep_team_notifications(team.settings) == 0
    deliver_slack(team.settings)
    assert len(team.slack.calls_of("chat.postMessage")) == before + 2


def test_without_any_channel_the_notice_is_recorded_not_retried(team):
    ticket, _ = team.customer_writes()
    settings = team.settings.replace(slack_channel="")
    m.Event.delete().where(m.Event.kind == "team_notification").execute()
    m.Outbox.delete().where(m.Outbox.kind == "slack_notice").execute()
    fastsql.execute('DELETE FROM "slack_thread" WHERE ticket_id = ?', [ticket.id])  # and no thread either
    notify(ticket, "sla_warning", f"[{ticket.number}] SLA warning")
    assert slack_outbox.sweep_team_notifications(settings) == 1
    row = m.Outbox.get(m.Outbox.unique_key.startswith("slack:notify:"))
    assert row.status == "suppressed" and "no Slack channel" in row.last_error
    assert slack_outbox.sweep_team_notifications(settings) == 0


# ---- held for business hours, with a clock the test sets ------------------------------------------
HOURS_TOML = """
[business_hours.office]
timezone = "Europe/Berlin"
weekdays = ["09:00-17:00"]

[business_hours.round_the_clock]
timezone = "Europe/Berlin"
all_week = ["00:00-24:00"]

[[teams]]
name = "billing"
addresses = ["billing@example.com"]
business_hours = "office"
slack_channel = "C0BILLING"
lead_email = "billing-lead@example.com"

[[teams]]
name = "night"
addresses = ["night@example.com"]
business_hours = "office"
slack_channel = "C0NIGHT"
lead_email = "night-lead@example.com"
notify_outside_hours = true

[[teams]]
name = "vip"
addresses = ["vip@example.com"]
business_hours = "office"
slack_channel = "C0VIP"
lead_email = "vip-lead@example.com"

[sla.policies.office]
first_response = "1h"
resolution = "8h"

[sla.policies.vip]
team = ["vip"]
business_hours = "round_the_clock"
first_response = "1h"
resolution = "8h"

[[escalation.rules]]
name = "first-response breaches tell the lead and the team"
when.event = "breach"
when.target = ["first_response"]
then.notify = ["lead", "team"]
"""


@pytest.fixture
def desk(slack_settings, relay_sink, fake_slack, tmp_path):
    path = tmp_path / "helpline.toml"
    path.write_text(HOURS_TOML)
    t = Team(
        slack_settings.replace(
            config_file=str(path),
            support_addresses=("support@example.com", "billing@example.com", "night@example.com", "vip@example.com"),
        ),
        relay_sink,
        fake_slack,
    )
    run_tx(lambda: routing_state.sync(config_file.site_config(t.settings)))
    yield t
    t.close()


def a_friday_ahead() -> dt.date:
    """A Friday well after today: rows queued without a hold are due from the real present, so
    the test's instants must come later for "due at once" to mean due at those instants."""
    day = dt.date.today() + dt.timedelta(days=8)
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


def at(day: dt.date, hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
    return berlin(*(day + dt.timedelta(days=days)).timetuple()[:3], hour, minute)


def ticket_at(desk: Team, to: str, start: dt.datetime) -> m.Ticket:
    ticket, _ = desk.customer_writes(to=to, subject="Invoice question")
    cfg = config_file.site_config(desk.settings)
    in_tx(lambda: sla_clock.start(ticket_ops.load(ticket.id).facts(), start, cfg))  # the clocks start "then"
    return ticket


def tick(desk: Team, now: dt.datetime) -> tuple[dict[str, int], int, int]:
    """One scheduler round at ``now``: fire the SLA clocks, turn team notifications into Slack
    rows, deliver what is due; (fired, Slack rows sent, emails sent)."""
    fired = ticket_timers.fire_sla(desk.settings, clock=lambda: now)
    slack_outbox.sweep_team_notifications(desk.settings, clock=lambda: now)
    slack = deliver_due(desk.settings, desk.senders["slack"], now=now).sent
    mail = deliver_due(desk.settings, desk.senders["email"], now=now).sent
    return fired, slack, mail


def notices_posted(desk: Team, ticket: m.Ticket) -> list[tuple[str, str]]:
    """(where, text) of the notices about ``ticket`` posted to Slack, in order; where is "thread"
    (the ticket's thread) or the channel of a line of its own."""
    return [
        ("thread" if c.args.get("thread_ts") else c.args["channel"], c.args["text"])
        for c in desk.slack.calls_of("chat.postMessage")
        if ticket.number in c.args.get("text", "") and ("SLA" in c.args["text"] or "escalated" in c.args["text"])
    ]


def test_notices_outside_business_hours_wait_for_monday_and_go_out_once(desk):
    friday = a_friday_ahead()
    ticket = ticket_at(desk, "billing@example.com", at(friday, 16, 0))  # 1h first response: due 17:00
    assert tick(desk, at(friday, 16, 50)) == ({"warning": 1, "breach": 0}, 2, 1)  # in office hours: at once
    assert sorted(ch for ch, _ in notices_posted(desk, ticket)) == ["C0BILLING", "thread"]

    # The breach fires at 17:05, after closing: recorded now, posted and mailed on Monday at 09:00.
    fired, slack, mail = tick(desk, at(friday, 17, 5))
    assert (fired, slack, mail) == ({"warning": 0, "breach": 1}, 0, 0)
    monday_nine = at(friday, 9, 0, days=3)
    held = [e["held_until"] for e in event_data(ticket.id, "team_notification")[1:]]
    assert held == [monday_nine.isoformat() + "Z"] * 2  # the breach and the escalation's notice
    assert [e.get("held_until") for e in event_data(ticket.id, "notification_queued")] == [
        None,
        monday_nine.isoformat() + "Z",
        monday_nine.isoformat() + "Z",
    ]
    for quiet in (at(friday, 23, 0), at(friday, 12, 0, days=1), at(friday, 8, 59, days=3)):
        assert tick(desk, quiet)[1:] == (0, 0)
    assert len(notices_posted(desk, ticket)) == 2

    assert tick(desk, monday_nine)[1:] == (4, 2)  # breach and escalation: thread and channel each; two emails
    assert tick(desk, at(friday, 9, 1, days=3))[1:] == (0, 0)  # once
    posted = notices_posted(desk, ticket)[2:]
    assert sorted(ch for ch, _ in posted) == ["C0BILLING", "C0BILLING", "thread", "thread"]
    assert sum("SLA breached" in text for _, text in posted) == 2
    assert sum("escalated" in text for _, text in posted) == 2
    mails = [
        m.Outbox.get_by_id(r.id)
        for r in m.Outbox.select()
        .where((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "notification"))
        .order_by(m.Outbox.id)
    ]
    assert [(r.recipient, r.status) for r in mails] == [("billing-lead@example.com", "sent")] * 3


def test_a_team_that_opts_out_or_a_clock_running_at_night_is_notified_at_once(desk):
    friday = a_friday_ahead()
    night = ticket_at(desk, "night@example.com", at(friday, 16, 0))  # notify_outside_hours = true
    vip = ticket_at(desk, "vip@example.com", at(friday, 22, 0))  # its policy counts around the clock
    # (A breach found due together with its warning supersedes it.)
    assert tick(desk, at(friday, 17, 5)) == ({"warning": 0, "breach": 1}, 4, 2)  # night's: posted and mailed now
    assert tick(desk, at(friday, 23, 5)) == ({"warning": 0, "breach": 1}, 4, 2)  # vip's, due at 23:00
    for ticket in (night, vip):
        assert all("held_until" not in e for e in event_data(ticket.id, "team_notification"))
        assert all("held_until" not in e for e in event_data(ticket.id, "notification_queued"))
    assert {ch for ch, _ in notices_posted(desk, night)} == {"thread", "C0NIGHT"}
    assert {ch for ch, _ in notices_posted(desk, vip)} == {"thread", "C0VIP"}
