"""Suggested answers in the ticket's Slack thread (the fake Slack, the real bolt listener, both databases):
an article sent with Send this answer (undo window included), an edited one, a resolved ticket's reply
offered for editing only, a dismissal; each recorded."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from helpline.notifier.deliver import deliver_one
from helpline.store.knowledge import kb_state
from helpline.store import models as m
from helpline.workers.jobs import kb_suggestions

from ..slack.conftest import AGENT, CHANNEL, OUTSIDER
from ..slack.test_slack_replies import Team
from ..support.fake_slack import TEAM, block_action, signed_headers
from ..workers.builders import events
from .helpers import article, run_sync, write

REFUND = "Refunds reach your card within five working days of our confirmation email."


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack, tmp_path):
    root = tmp_path / "kb"
    write(
        root,
        "refund-status.md",
        article("Where is my refund", ["where is my refund", "I have not received my refund yet"], body=REFUND),
    )
    write(root, "reset-password.md", article("Reset your password", ["I forgot my password"]))
    t = Team(slack_settings, relay_sink, fake_slack)
    run_sync(t.settings, root)
    kb_suggestions._cache.clear()
    yield t
    t.close()


def suggest(team: Team, ticket: m.Ticket) -> list[kb_state.KbSuggestion]:
    """What the low-priority actor does after the ticket's commit, its Slack rows delivered."""
    for oid in kb_suggestions.suggest_for_ticket(ticket.id, team.settings):
        deliver_one(team.settings, team.senders["slack"], oid)
    return kb_state.suggestions_of(ticket.id)


def posted(team: Team, sid: int) -> dict:
    for call in team.slack.calls_of("chat.postMessage"):
        if f"helpline_kb_suggestion:{sid}" in json.dumps(call.args.get("blocks")):
            return call.args
    raise AssertionError(f"suggestion {sid} was not posted")


def press(team: Team, action: str, sid: int, *, user: str = AGENT, message_ts: str = "1700000999.000100") -> dict:
    token = f"k{sid}{action}{user}"
    body = block_action(
        f"helpline_kb:{action}",
        str(sid),
        user=user,
        channel=CHANNEL,
        response_url=team.slack.response_url(token),
        message_ts=message_ts,
    )
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    team.work()
    answers = [c.args for c in team.slack.calls_of("response_url") if c.args["token"] == token]
    return answers[-1] if answers else {}


def test_article_suggestion_sent_from_the_thread(team):
    ticket, mid = team.customer_writes(subject="Refund", body="Hello, where is my refund? I have not received it.\n")
    team.sink.wait_for(1)
    found = suggest(team, ticket)
    top = found[0]
    assert (top.kind, top.ref, top.rank) == ("article", "refund-status", 0)
    args = posted(team, top.id)
    assert args["thread_ts"] and "Where is my refund" in args["text"]
    labels = [e["text"]["text"] for b in args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Send this answer", "Edit first", "Dismiss"]

    msg_ts = "1700000777.000100"
    press(team, "send", top.id, message_ts=msg_ts)
    reply = team.sink.wait_for(2)[1].message()
    assert REFUND in reply.get_content() and reply["In-Reply-To"] == mid
    assert kb_state.get_suggestion(top.id).action == "sent"
    (ev,) = events(ticket, "suggestion_sent")
    assert ev.actor == f"slack:{AGENT}" and ev.data["ref"] == "refund-status"
    assert events(ticket, "agent_replied")

    press(team, "send", top.id, message_ts=msg_ts)  # a second click: one answer only
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 1


def test_send_waits_out_the_undo_window(slack_settings, relay_sink, fake_slack, tmp_path):
    root = tmp_path / "kb"
    write(root, "refund-status.md", article("Where is my refund", ["where is my refund"], body=REFUND))
    t = Team(slack_settings.replace(slack_undo_seconds=30.0), relay_sink, fake_slack)
    try:
        run_sync(t.settings, root)
        kb_suggestions._cache.clear()
        ticket, _ = t.customer_writes(subject="Refund", body="where is my refund\n")
        top = suggest(t, ticket)[0]
        press(t, "send", top.id)
        row = m.Outbox.get(m.Outbox.kind == "reply")
        assert row.status == "pending" and row.next_attempt_at > m.utcnow()
        assert "helpline_undo" in json.dumps(t.slack.calls_of("chat.postEphemeral")[-1].args["blocks"])
        assert len(t.sink.received) == 1  # the acknowledgement only
    finally:
        t.close()


def test_edit_first_opens_the_text_and_sends_the_edit(team):
    ticket, _ = team.customer_writes(subject="Refund", body="where is my refund\n")
    top = suggest(team, ticket)[0]
    press(team, "edit", top.id, message_ts="1700000888.000100")
    view = (
        json.loads(team.slack.calls_of("views.open")[-1].args["view"])
        if isinstance(team.slack.calls_of("views.open")[-1].args["view"], str)
        else team.slack.calls_of("views.open")[-1].args["view"]
    )
    assert view["blocks"][0]["element"]["initial_value"] == REFUND
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": AGENT, "team_id": TEAM},
        "api_app_id": "A0HELPLINE",
        "trigger_id": "9.9.9",
        "view": {
            **view,
            "id": "V1",
            "state": {"values": {"answer": {"text": {"type": "plain_text_input", "value": "Hi Alice! " + REFUND}}}},
        },
    }
    body = urlencode({"payload": json.dumps(submission)}).encode()
    status, _ = team.listener.post(
        body, dict(signed_headers(body), **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert status == 200
    team.work()
    assert "Hi Alice! Refunds reach" in team.sink.wait_for(2)[1].message().get_content()
    assert kb_state.get_suggestion(top.id).action == "edited"


def test_resolved_ticket_suggestion_is_edit_only_and_dismissable(team):
    from helpline.workers.tickets import ticket_ops
    from ..routing.conftest import in_tx

    first, _ = team.customer_writes(subject="Parcel damaged", body="My parcel arrived damaged and torn\n")
    team.agent_says("Sorry! A replacement parcel ships today.", team_parent(first))
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(first.id), "resolved", now=m.utcnow(), settings=team.settings, actor="agent", reason="test"
        )
    )
    kb_suggestions._cache.clear()
    second, _ = team.customer_writes(
        subject="Damaged parcel", body="the parcel arrived damaged\n", sender="Bob <bob@example.org>"
    )
    found = suggest(team, second)
    tk = next(s for s in found if s.kind == "ticket")
    assert tk.ref == first.number
    args = posted(team, tk.id)
    labels = [e["text"]["text"] for b in args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Edit first", "Dismiss"] and "replacement parcel" in args["text"]
    answer = press(team, "send", tk.id)  # a forged Send on a ticket suggestion: refused
    assert "cannot be sent" in answer["text"]
    assert press(team, "dismiss", tk.id, user=OUTSIDER)["text"] == "Only Helpline agents can do that."
    press(team, "dismiss", tk.id)
    assert kb_state.get_suggestion(tk.id).action == "dismissed"
    assert [e.kind for e in events(second, "suggestion_dismissed")] == ["suggestion_dismissed"]


def team_parent(ticket: m.Ticket) -> str:
    from ..slack.conftest import parent_ts

    return parent_ts(ticket.id)
