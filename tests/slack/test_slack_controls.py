"""The parent message's other controls: assign to (user menu), set category (menu of the model's
labels), escalate; and a near-duplicate's Merge / Not a duplicate buttons in the ticket's thread.
Through the real listener (slack-bolt) and pipeline, against the fake Slack, on both databases."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from helpline.router import escalation
from helpline.router.categories.category import active_labels, models_dir_for
from helpline.store import models as m
from helpline.store.tickets import routing_state as rs
from helpline.store.siteconfig.config_file import parse
from helpline.workers import slack_outbox

from ..support.fake_slack import TEAM, signed_headers
from ..workers.builders import events
from .conftest import AGENT, AGENT2, CHANNEL, OUTSIDER, deliver_slack, inbound_count, next_ts, parent_ts
from .test_slack_actions import action_ids, press
from .test_slack_replies import Team

CONFIGURED = "U0CONFIG1"  # an agent of the TOML file, with a capacity
CASEY = "casey@support.example.com"


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    fake_slack.add_user(CONFIGURED, "Casey Configured", CASEY)
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def click(team: Team, ticket: m.Ticket, action: dict, *, user: str = AGENT, message_ts: str | None = None) -> dict:
    """Any control on one of the ticket's messages (the parent unless ``message_ts``), as Slack posts it;
    the answer sent to the response_url, if any."""
    parent = parent_ts(ticket.id)
    action = {"block_id": f"helpline_ticket_actions:{ticket.number}", "action_ts": next_ts(), **action}
    container = {"type": "message", "channel_id": CHANNEL, "message_ts": message_ts or parent}
    message = {"ts": message_ts or parent}
    if message_ts:
        container["thread_ts"] = message["thread_ts"] = parent
    url = team.slack.response_url(action["action_ts"])
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "team": {"id": TEAM},
        "container": container,
        "channel": {"id": CHANNEL},
        "message": message,
        "response_url": url,
        "trigger_id": "1.2",
        "actions": [action],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    team.work()
    answers = [c.args for c in team.slack.calls_of("response_url") if c.args["token"] == action["action_ts"]]
    return answers[-1] if answers else {}


def assign_to(team: Team, ticket: m.Ticket, chosen: str, *, user: str = AGENT) -> dict:
    return click(
        team,
        ticket,
        {"type": "users_select", "action_id": "helpline_ticket:assign", "selected_user": chosen},
        user=user,
    )


def thread_lines(team: Team, ticket: m.Ticket) -> list[str]:
    return [
        json.dumps(c.args.get("blocks"))
        for c in team.slack.calls_of("chat.postMessage")
        if c.args.get("thread_ts") == parent_ts(ticket.id)
    ]


def ephemerals(team: Team) -> list[str]:
    return [c.args["text"] for c in team.slack.calls_of("chat.postEphemeral")]


def senior(user: str = AGENT, email: str = "dana@support.example.com") -> None:
    """The presser as a configured second-line agent: assigning to others and merging need that role."""
    rs.Agent.create(email=email, name="Dana Agent", slack_user=user, role="senior")


def support_team(capacity: int = 1) -> None:
    """Casey in the team the tickets are in, with room for ``capacity`` tickets."""
    agent = rs.Agent.create(email=CASEY, name="Casey C.", slack_user=CONFIGURED, capacity=capacity)
    team = rs.Team.create(name="support")
    rs.TeamMember.create(team=team, agent=agent)
    m.Ticket.update(team="support").execute()


# ---- what the parent offers -----------------------------------------------------------------------
def test_the_parent_offers_assign_escalate_and_the_models_categories(team):
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
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    kinds = {e["action_id"]: e for e in actions["elements"]}
    assert kinds["helpline_ticket:assign"]["type"] == "users_select"
    labels = [o["value"] for o in kinds["helpline_ticket:category"]["options"]]
    assert labels == list(active_labels(models_dir_for(team.settings))) and "cancellation_refund" in labels


# ---- assign to --------------------------------------------------------------------------------------
def test_assign_to_a_configured_agent_goes_through_routing_and_capacity(team):
    senior()
    first, _ = team.customer_writes()
    second, _ = team.customer_writes(sender="Bob <bob@example.org>", subject="Another thing")
    support_team(capacity=1)
    assert assign_to(team, first, CONFIGURED) == {}
    ticket = m.Ticket.get_by_id(first.id)
    assert ticket.assignee == CASEY and ticket.status == "open"
    assert rs.Agent.get(rs.Agent.email == CASEY).open_count == 1
    (assigned,) = events(first, "assigned")
    assert assigned.actor == f"slack:{AGENT}" and assigned.data["agent"] == CASEY
    assert any("assigned this ticket to Casey Configured" in line for line in thread_lines(team, first))
    assert "Casey C." in json.dumps(team.slack.calls_of("chat.update")[-1].args["blocks"])

    before = [(e.kind, e.data) for e in events(second)]
    assign_to(team, second, CONFIGURED)  # Casey is full: refused, told to the presser only, nothing written
    told = team.slack.calls_of("chat.postEphemeral")[-1]
    assert told.args["user"] == AGENT and "Not done" in told.args["text"] and "capacity" in told.args["text"]
    assert m.Ticket.get_by_id(second.id).assignee is None
    assert [(e.kind, e.data) for e in events(second)] == before
    assert rs.Agent.get(rs.Agent.email == CASEY).open_count == 1


def test_assign_to_an_agent_known_only_to_slack(team):
    senior()
    ticket, _ = team.customer_writes()
    assign_to(team, ticket, AGENT2)
    ticket = m.Ticket.get_by_id(ticket.id)
    assert (ticket.assignee, ticket.status) == (f"slack:{AGENT2}", "open")
    assert "Sam Second" in json.dumps(team.slack.calls_of("chat.update")[-1].args["blocks"])
    assign_to(team, ticket, AGENT2)
    assert "already assigned to Sam Second" in ephemerals(team)[-1]


def test_assign_to_someone_who_is_not_an_agent_is_refused_at_the_edge(team):
    ticket, _ = team.customer_writes()
    before = inbound_count()
    answer = assign_to(team, ticket, OUTSIDER)
    assert "only be assigned to Helpline agents" in answer["text"] and answer["response_type"] == "ephemeral"
    assert inbound_count() == before and m.Ticket.get_by_id(ticket.id).assignee is None
    answer = assign_to(team, ticket, AGENT2, user=OUTSIDER)  # and only agents assign
    assert "Only Helpline agents" in answer["text"] and inbound_count() == before


# ---- category ----------------------------------------------------------------------------------------
def test_an_agents_category_is_stored_as_a_labelled_example(team):
    ticket, _ = team.customer_writes(subject="Money back", body="I want my money back for the broken kettle.")
    was = m.Ticket.get_by_id(ticket.id).category
    press(team, ticket, "category", option="cancellation_refund" if was != "cancellation_refund" else "order_delivery")
    chosen = "cancellation_refund" if was != "cancellation_refund" else "order_delivery"
    assert m.Ticket.get_by_id(ticket.id).category == chosen
    (corrected,) = events(ticket, "category_corrected")
    assert corrected.actor == f"slack:{AGENT}"
    assert corrected.data == {"category": chosen, "previous": was, "via": "slack"}
    update = json.dumps(team.slack.calls_of("chat.update")[-1].args["blocks"])
    assert f'*Category*\\n{chosen}"' in update  # an agent's choice: no model confidence shown
    assert any(f"set the category to {chosen}" in line for line in thread_lines(team, ticket))


def test_a_category_by_someone_who_is_not_an_agent_is_refused(team):
    ticket, _ = team.customer_writes()
    was = m.Ticket.get_by_id(ticket.id).category
    before = inbound_count()
    answer = press(team, ticket, "category", option="cancellation_refund", user=OUTSIDER)
    assert "Only Helpline agents" in answer["text"]
    assert inbound_count() == before and m.Ticket.get_by_id(ticket.id).category == was


# ---- escalate ------------------------------------------------------------------------------------------
def test_escalate_raises_the_priority_through_the_escalation_code(team):
    ticket, _ = team.customer_writes()
    press(team, ticket, "priority", option="high")
    press(team, ticket, "escalate")
    assert m.Ticket.get_by_id(ticket.id).priority == "urgent"
    (step,) = events(ticket, "escalated")
    assert step.actor == f"slack:{AGENT}"
    assert step.data == {"step": "priority", "from": "high", "to": "urgent", "rules": ["manual (default)"]}
    assert any("escalated this ticket: priority" in line for line in thread_lines(team, ticket))
    press(team, ticket, "escalate")  # urgent already, and no rule says more
    assert "urgent already" in ephemerals(team)[-1] and len(events(ticket, "escalated")) == 1


def test_escalate_refused_in_a_shared_channel(team):
    ticket, _ = team.customer_writes()
    team.slack.shared.add(CHANNEL)
    answer = press(team, ticket, "escalate")
    assert "shared channels" in answer["text"] and not events(ticket, "escalated")


def test_manual_escalation_rules_from_the_configuration_file():
    cfg = parse(
        '[[escalation.rules]]\nname = "to seniors"\nwhen = { event = "manual", priority = ["urgent"] }\n'
        'then = { tier = 2, notify = ["lead"] }\n'
    )
    steps = escalation.manual(cfg.escalations, priority="urgent", customer_tier="standard", team=None)
    assert (steps.priority, steps.tier, steps.notify, steps.rules) == ("", 2, ("lead",), ("to seniors",))
    default = escalation.manual(cfg.escalations, priority="low", customer_tier="standard", team=None)
    assert (default.priority, default.tier, default.rules) == ("medium", 0, ("manual (default)",))


# ---- near-duplicates: merge or dismiss from the thread -------------------------------------------------------------
BILLING = "I was charged twice for my subscription this month, please refund the duplicate charge on my card."
REFUND = "Hi, you charged my card two times for the subscription in March. Can I get a refund of the second payment?"


def suggested(team: Team) -> tuple[m.Ticket, m.Ticket, str]:
    """Two alike tickets of one customer; the second's thread shows the suggestion: (first, second, its ts)."""
    first, _ = team.customer_writes(subject="Billing", body=BILLING)
    second, _ = team.customer_writes(subject="Refund", body=REFUND)
    assert events(second, "merge_suggested")
    assert slack_outbox.sweep_merge_suggestions() == 1
    deliver_slack(team.settings)
    assert slack_outbox.sweep_merge_suggestions() == 0  # once
    (shown,) = [
        c
        for c in team.slack.calls_of("chat.postMessage")
        if c.args.get("thread_ts") == parent_ts(second.id) and "reads like" in json.dumps(c.args["blocks"])
    ]
    ts = [ts for (ch, ts), msg in team.slack.messages.items() if msg["blocks"] == shown.args["blocks"]][0]
    return first, second, ts


def test_a_suggestion_merged_from_its_button(team):
    senior()
    first, second, ts = suggested(team)
    blocks = team.slack.messages[(CHANNEL, ts)]["blocks"]
    assert action_ids(blocks) == [
        f"helpline_ticket:merge:{first.number}",
        f"helpline_ticket:not_duplicate:{first.number}",
    ]
    click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:merge:{first.number}", "value": second.number},
        message_ts=ts,
    )
    assert m.Ticket.get_by_id(second.id).status == "merged"
    (into,) = events(second, "merged_into")
    assert into.actor == f"slack:{AGENT}" and into.data["ticket"] == first.number
    assert any(f"merged {second.number} into this ticket" in line for line in thread_lines(team, first))
    replaced = team.slack.messages[(CHANNEL, ts)]  # the suggestion keeps no buttons
    assert not action_ids(replaced["blocks"]) and "merged this ticket into" in json.dumps(replaced["blocks"])
    before = len(events(first))
    click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:merge:{first.number}", "value": second.number},
        message_ts=ts,
    )  # pressed again (an old copy): refused
    assert "merged already" in ephemerals(team)[-1].lower()
    assert len(events(first)) == before


def test_a_suggestion_dismissed(team):
    senior()
    first, second, ts = suggested(team)
    click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:not_duplicate:{first.number}", "value": second.number},
        message_ts=ts,
    )
    (dismissed,) = events(second, "merge_suggestion_dismissed")
    assert dismissed.actor == f"slack:{AGENT}" and dismissed.data["ticket"] == first.number
    assert m.Ticket.get_by_id(second.id).status == "new"
    assert "not a duplicate" in json.dumps(team.slack.messages[(CHANNEL, ts)]["blocks"])


def test_a_suggestion_merge_by_someone_who_is_not_an_agent_is_refused(team):
    first, second, ts = suggested(team)
    before = inbound_count()
    answer = click(
        team,
        second,
        {"type": "button", "action_id": f"helpline_ticket:merge:{first.number}", "value": second.number},
        user=OUTSIDER,
        message_ts=ts,
    )
    assert "Only Helpline agents" in answer["text"] and inbound_count() == before
    assert m.Ticket.get_by_id(second.id).status == "new"


def test_no_suggestion_for_a_ticket_merged_meanwhile(team):
    first, _ = team.customer_writes(subject="Billing", body=BILLING)
    second, _ = team.customer_writes(subject="Refund", body=REFUND)
    m.Ticket.update(status="closed").where(m.Ticket.id == first.id).execute()
    assert slack_outbox.sweep_merge_suggestions() == 1
    row = m.Outbox.get(m.Outbox.unique_key.startswith("slack:suggest:"))
    assert row.status == "suppressed"
    assert not any("reads like" in line for line in thread_lines(team, second))
