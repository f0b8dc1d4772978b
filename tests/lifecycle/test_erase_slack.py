"""Erasure at Slack: the bot's own posts about the customer's ticket are overwritten through
``chat.update``; the agent's thread reply, which a bot token cannot edit, is listed for an admin."""

from __future__ import annotations

import pytest

from helpline.store import models as m
from helpline.workers.tickets import customer_erasure

from ..slack.conftest import CHANNEL, fake_slack, parent_ts, slack_settings  # noqa: F401 - fixtures
from ..slack.test_slack_replies import Team


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):  # noqa: F811
    t = Team(slack_settings, relay_sink, fake_slack)
    yield t
    t.close()


def test_bot_posts_are_overwritten_and_agent_messages_are_listed(team, fake_slack):  # noqa: F811
    ticket, _ = team.customer_writes(
        sender="Zoe Quux <zoe@example.net>", subject="Lost parcel", body="Hello, parcel zoeword is lost\n"
    )
    parent = parent_ts(ticket.id)
    posted = {c.args.get("ts") or "" for c in fake_slack.calls_of("chat.postMessage")}
    agent_ts, _ = team.agent_says("Hello Zoe, we are on it", parent)
    before = len(fake_slack.calls_of("chat.update"))

    report = customer_erasure.erase(team.settings, ticket.customer_id, actor="test")

    updates = fake_slack.calls_of("chat.update")[before:]
    assert updates, "no chat.update for the erased ticket"
    updated = {(u.args["channel"], u.args["ts"]) for u in updates}
    assert (CHANNEL, parent) in updated
    assert all("erased" in u.args["text"] and "zoeword" not in str(u.args) for u in updates)
    assert f"{CHANNEL}:{agent_ts}" in report["slack_messages_for_admin"]
    assert report["provider_tasks_by_status"].get("done", 0) >= 1 and not report["provider_tasks_by_status"].get(
        "failed"
    )
    assert posted  # the bot did post before
    assert m.Message.select().where(m.Message.ticket == ticket.id, m.Message.text.contains("zoeword")).count() == 0
