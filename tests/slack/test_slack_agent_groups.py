"""HELPLINE_SLACK_AGENTS naming a user group (S…): its members are agents, from
usergroups.users.list (cached, asked again on a miss or after a failure), with the
real slack_sdk AsyncWebClient against the fake Slack; and through the listener."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from helpline.ingest.channels.slack_app import AgentDirectory, is_usergroup
from helpline.store import models as m

from ..support.fake_slack import BOT_TOKEN
from .conftest import AGENT, AGENT2, OUTSIDER, parent_ts
from .test_slack_replies import Team

GROUP = "S0SUPPORT"


async def _in_loop(fn, *args):  # noqa: ANN001, ANN002, ANN202 - the listener's run_blocking, without its pool
    return fn(*args)


def directory(fake_slack, **kw) -> AgentDirectory:  # noqa: ANN001, ANN003
    """The directory the listener builds; the configured agents (none here) come from the real database."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url)
    return AgentDirectory(frozenset({GROUP, AGENT2}), _in_loop, client=client, **kw)


def group_calls(fake_slack) -> int:  # noqa: ANN001
    return len(fake_slack.calls_of("usergroups.users.list"))


def test_which_entries_are_groups():
    assert is_usergroup("S0SUPPORT") and not is_usergroup("U0AGENT01") and not is_usergroup("W0123")
    assert not is_usergroup("S") and not is_usergroup("S-x")


def test_members_are_agents_cached_and_asked_again_on_a_miss(backend, fake_slack):
    fake_slack.usergroups[GROUP] = [AGENT]

    async def scenario() -> None:
        agents = directory(fake_slack, miss_refresh_s=0.0)
        assert await agents.has(AGENT) and await agents.has(AGENT2)  # a member, and a user id listed
        assert await agents.has(AGENT)
        assert group_calls(fake_slack) == 1  # cached
        fake_slack.usergroups[GROUP] = [AGENT, OUTSIDER]  # added to the group in Slack
        await asyncio.sleep(1.1)
        assert await agents.has(OUTSIDER)  # a miss asks the group again
        assert group_calls(fake_slack) == 2

    asyncio.run(scenario())


def test_a_failed_lookup_keeps_the_known_members_and_retries_soon(backend, fake_slack):
    fake_slack.usergroups[GROUP] = [AGENT]

    async def scenario() -> None:
        agents = directory(fake_slack, group_ttl_s=0.0, retry_s=0.0, miss_refresh_s=3600.0)
        assert await agents.has(AGENT)
        fake_slack.rate_limit("usergroups.users.list", retry_after=1)
        await asyncio.sleep(1.1)
        assert await agents.has(AGENT)  # Slack said 429: the members known before stay agents
        fake_slack.fail("usergroups.users.list", "missing_scope")
        await asyncio.sleep(1.1)
        assert AGENT in await agents.current()
        assert group_calls(fake_slack) == 3
        fake_slack.usergroups[GROUP] = []  # removed: the next successful answer counts
        await asyncio.sleep(1.1)
        assert AGENT not in await agents.current()

    asyncio.run(scenario())


def test_an_unknown_group_is_nobody(backend, fake_slack):
    async def scenario() -> None:
        agents = directory(fake_slack)
        assert not await agents.has(AGENT) and await agents.has(AGENT2)

    asyncio.run(scenario())


@pytest.fixture
def team(slack_settings, relay_sink, fake_slack):
    fake_slack.usergroups[GROUP] = [AGENT]
    t = Team(slack_settings.replace(slack_agents=(GROUP,)), relay_sink, fake_slack)
    yield t
    t.close()


def test_a_group_member_replies_from_the_thread_and_others_are_ignored(team):
    ticket, _ = team.customer_writes()
    parent = parent_ts(ticket.id)
    _, outcomes = team.agent_says("Not an agent here.", parent, user=AGENT2)
    assert outcomes == []  # ignored at the edge: not in the group
    _, (outcome,) = team.agent_says("From the support group.", parent, user=AGENT)
    assert outcome.action == "replied"
    assert "From the support group." in team.sink.wait_for(2)[1].message().get_content()
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 1
