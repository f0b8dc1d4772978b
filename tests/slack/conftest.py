"""Fixtures of the Slack tests: the fake Slack Web API, settings pointing at it,
a help desk (intake + pipeline) on each backend, and the public HTTP listener
served for real so events arrive over HTTP, signed as Slack signs them."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import pytest
from aiohttp import web

from helpline.ingest.public import make_app
from helpline.notifier.deliver import deliver_due
from helpline.notifier.slack.slack_sender import Pacer, SlackSender
from helpline.router.categories.category import active_labels, models_dir_for
from helpline.store import models as m

from ..support.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, event_callback, signed_headers
from ..support.stack import free_port
from ..workers.builders import Desk

CHANNEL = "C0TICKETS"
AGENT = "U0AGENT01"
AGENT2 = "U0AGENT02"
OUTSIDER = "U0OUTSIDE"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user(AGENT, "Dana Agent", "dana@support.example.com")
    fake.add_user(AGENT2, "Sam Second", "sam@support.example.com")
    fake.add_user(OUTSIDER, "Olly Outsider", "olly@elsewhere.example")
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(backend, fake_slack):
    # No undo window by default here, so a reply leaves inside the test's own run; test_slack_undo covers it.
    return backend.replace(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_channel=CHANNEL,
        slack_agents=(AGENT, AGENT2),
        slack_api_url=fake_slack.url,
        slack_undo_seconds=0.0,
    )


@pytest.fixture
def slack_desk(slack_settings) -> Desk:
    return Desk(slack_settings)


def quick_sender(settings) -> SlackSender:
    """A sender that does not really sleep between posts (the pacing is tested on its own)."""
    return SlackSender(
        settings, pacer=Pacer(interval=0.0), categories=functools.partial(active_labels, models_dir_for(settings))
    )


def deliver_slack(settings, sender: SlackSender | None = None) -> Any:
    return deliver_due(settings, sender or quick_sender(settings))


def parent_ts(ticket_id: int) -> str:
    from helpline.store.channels import slack_state

    got = slack_state.thread_of(ticket_id)
    assert got is not None, "the ticket has no Slack thread"
    return got[1]


class Listener:
    """The public HTTP listener (ingest.public.make_app) on a port of its own, in a thread."""

    def __init__(self, settings, intake) -> None:
        self.port = free_port()
        self.executor = ThreadPoolExecutor(max_workers=2)
        self.app = make_app(settings, intake, self.executor)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(self.app, access_log=None)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.executor.shutdown()

    def post(self, body: bytes, headers: dict[str, str], path: str = "/slack/events") -> tuple[int, bytes]:
        return post(f"http://127.0.0.1:{self.port}{path}", body, headers)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def thread_message(
    text: str, thread_ts: str, *, user: str = AGENT, ts: str | None = None, channel: str = CHANNEL, **extra: Any
) -> dict[str, Any]:
    """A message event as Slack sends it for a reply in a thread."""
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts or next_ts(),
        "thread_ts": thread_ts,
        "channel_type": "channel",
        "team": "T0TEST",
    }
    event.update(extra)
    return event


_ts_counter = [1800000000]


def next_ts() -> str:
    _ts_counter[0] += 1
    return f"{_ts_counter[0]}.000200"


def signed_event(event: dict[str, Any], **kw: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event_callback(event, **kw)).encode()
    return body, signed_headers(body)


@pytest.fixture
def listener(slack_desk) -> Iterator[Listener]:
    lst = Listener(slack_desk.settings, slack_desk.intake)
    yield lst
    lst.close()


def inbound_count() -> int:
    return m.Inbound.select().count()
