"""The parent message's buttons: take, waiting on customer, resolve, close, reopen and
the priority menu; authorised at the edge, applied by a worker, shown by chat.update."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from helpline.store import models as m
from helpline.workers.slack.slack_actions import TicketState, decide

from ..support.fake_slack import TEAM, signed_headers
from ..workers.builders import events
from .conftest import AGENT, CHANNEL, OUTSIDER, inbound_count, next_ts, parent_ts
from .test_slack_replies import Team

NOW = dt.datetime(2026, 3, 2, 12, 0)


# ---- the stage ------------------------------------------------------------------
def test_take_assigns_and_opens_a_new_ticket():
    change = decide(TicketState("new", "medium", ""), "take", "", me="slack:U1", agent="Dana", now=NOW)
    assert change.columns == {"assignee": "slack:U1", "status": "open"}
    assert [k for k, _ in change.events] == ["assigned", "status_changed"] and "Dana took" in change.said
    again = decide(TicketState("open", "medium", "slack:U1"), "take", "", me="slack:U1", agent="Dana", now=NOW)
    assert again.refused and not again.columns


@pytest.mark.parametrize(
    "before,value,columns",
    [
        ("open", "resolved", {"status": "resolved", "resolved_at": NOW}),
        ("resolved", "closed", {"status": "closed", "closed_at": NOW}),
        ("open", "closed", {"status": "closed", "closed_at": NOW, "resolved_at": NOW}),
        ("closed", "open", {"status": "open", "resolved_at": None, "closed_at": None}),
        ("open", "waiting_customer", {"status": "waiting_customer"}),
    ],
)
def test_status_changes(before, value, columns):
    resolved_at = NOW - dt.timedelta(hours=1) if before in ("resolved", "closed") else None
    change = decide(TicketState(before, "medium", "", resolved_at), "status", value, me="slack:U1", agent="D", now=NOW)
    assert change.columns == columns and change.events[0] == (
        "status_changed",
        {"from": before, "to": value, "reason": "set by an agent in Slack"},
    )


@pytest.mark.parametrize(
    "command,value",
    [("status", "resolved"), ("status", "merged"), ("priority", "high"), ("priority", "whenever"), ("explode", "")],
)
def test_what_is_refused(command, value):
    state = TicketState("resolved", "high", "", NOW)
    assert decide(state, command, value, me="slack:U1", agent="D", now=NOW).refused


def test_priority_change():
    change = decide(TicketState("open", "medium", ""), "priority", "urgent", me="slack:U1", agent="D", now=NOW)
    assert change.columns == {"priority": "urgent"}
    assert change.events == [
        ("priority_set", {"priority": "urgent", "from": "medium", "reasons": ["set by an agent in Slack"]})
    ]


# ---- through Slack ------------------------------------------------------------------
@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def press(team: Team, ticket: m.Ticket, action_id: str, *, user: str = AGENT, option: str | None = None) -> dict:
    """Click a control of the ticket's parent message the way Slack reports it; Slack's response_url answer."""
    parent = parent_ts(ticket.id)
    action = {
        "action_id": f"helpline_ticket:{action_id}",
        "block_id": f"helpline_ticket_actions:{ticket.number}",
        "action_ts": next_ts(),
    }
    if option:
        action.update(
            type="static_select", selected_option={"value": option, "text": {"type": "plain_text", "text": option}}
        )
    else:
        action.update(type="button", value=ticket.number)
    url = team.slack.response_url(action["action_ts"])
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": parent},
        "channel": {"id": CHANNEL},
        "message": {"ts": parent},
        "response_url": url,
        "trigger_id": "1.2",
        "actions": [action],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    status, _ = team.listener.post(body, headers)
    assert status == 200
    team.work()
    answers = [c.args for c in team.slack.calls_of("response_url") if c.args["token"] == action["action_ts"]]
    return answers[-1] if answers else {}


def action_ids(blocks: list) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_parent_carries_the_buttons_of_the_state(team):
    ticket, _ = team.customer_writes()
    blocks = team.slack.calls_of("chat.postMessage")[0].args["blocks"]
    assert action_ids(blocks) == [
        "helpline_ticket:take",
        "helpline_ticket:assign",
        "helpline_ticket:status:waiting_customer",
        "helpline_ticket:status:resolved",
        "helpline_ticket:escalate",
        "helpline_ticket:priority",
        "helpline_ticket:category",
    ]


def test_resolve_take_and_priority_from_the_buttons(team):
    ticket, _ = team.customer_writes()
    assert press(team, ticket, "take") == {}
    ticket = m.Ticket.get_by_id(ticket.id)
    assert (ticket.assignee, ticket.status) == (f"slack:{AGENT}", "open")
    update = team.slack.calls_of("chat.update")[-1]
    assert "Dana Agent" in json.dumps(update.args["blocks"])  # the assignee by name

    press(team, ticket, "priority", option="urgent")
    assert m.Ticket.get_by_id(ticket.id).priority == "urgent"

    press(team, ticket, "status:resolved")
    ticket = m.Ticket.get_by_id(ticket.id)
    assert ticket.status == "resolved" and ticket.resolved_at is not None
    update = team.slack.calls_of("chat.update")[-1]
    assert action_ids(update.args["blocks"]) == ["helpline_ticket:status:open", "helpline_ticket:status:closed"]
    assert "Resolved" in json.dumps(update.args["blocks"])
    kinds = [(e.kind, e.actor) for e in events(ticket) if e.actor != "system"]
    # status and priority through ticket_ops, the one writer of both (lifecycle table, SLA clocks)
    assert kinds == [
        ("status_changed", f"slack:{AGENT}"),
        ("assigned", f"slack:{AGENT}"),
        ("priority_changed", f"slack:{AGENT}"),
        ("status_changed", f"slack:{AGENT}"),
    ]
    said = [
        json.dumps(c.args["blocks"])
        for c in team.slack.calls_of("chat.postMessage")
        if c.args.get("thread_ts") == parent_ts(ticket.id)
    ]
    assert any("took this ticket" in s for s in said) and any("Resolved" in s for s in said)


def test_a_pointless_press_is_told_to_that_agent_only(team):
    ticket, _ = team.customer_writes()
    press(team, ticket, "take")
    press(team, ticket, "take")
    (told,) = team.slack.calls_of("chat.postEphemeral")
    assert told.args["user"] == AGENT and "already yours" in told.args["text"]


def test_someone_who_is_not_an_agent_is_refused_and_nothing_recorded(team):
    ticket, _ = team.customer_writes()
    before = inbound_count()
    answer = press(team, ticket, "status:resolved", user=OUTSIDER)
    assert "Only Helpline agents" in answer["text"] and answer["response_type"] == "ephemeral"
    assert inbound_count() == before and m.Ticket.get_by_id(ticket.id).status == "new"


def test_commands_are_refused_in_a_shared_channel(team):
    ticket, _ = team.customer_writes()
    team.slack.shared.add(CHANNEL)
    answer = press(team, ticket, "status:resolved")
    assert "shared channels" in answer["text"] and m.Ticket.get_by_id(ticket.id).status == "new"


def test_a_transition_the_lifecycle_refuses_is_told_and_not_written(team):
    ticket, _ = team.customer_writes()
    press(team, ticket, "status:resolved")
    press(team, ticket, "status:closed")
    before = [(e.kind, e.data) for e in events(ticket)]
    press(team, ticket, "status:waiting_customer")  # closed is final
    told = team.slack.calls_of("chat.postEphemeral")[-1]
    assert told.args["user"] == AGENT and "Not done" in told.args["text"]
    assert m.Ticket.get_by_id(ticket.id).status == "closed"
    assert [(e.kind, e.data) for e in events(ticket)] == before
