"""The stages as plain functions: a context built from a real inbound row on SQLite, no broker, no actor.

``StageDesk.context`` takes a mail (raw bytes, through the real intake) or an envelope (an inbound row
written directly) and returns the ``Context`` the pipeline would build; ``until`` runs the stages before a
given one, so a test of a later stage starts from what the earlier ones decided.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from helpline.store import fastsql
from helpline.store.inbound import inbound_state
from helpline.store import models as m
from helpline.store.config import Settings
from helpline.store.db import run_tx
from helpline.store.envelope import Envelope, Sender, Thread
from helpline.workers import pipeline, stages
from helpline.workers.inbound import inbound_channels
from helpline.workers.stages.context import Context, Decision
from tests.conftest import _backend_settings
from tests.workers.builders import Desk


class StageDesk:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.desk = Desk(settings)

    def configured(self, **changes: object) -> "StageDesk":
        return StageDesk(self.settings.replace(**changes))

    def inbound(self, env: Envelope) -> int:
        """An inbound row holding ``env``, as a channel's intake writes it."""
        now = m.utcnow()
        return run_tx(
            lambda: fastsql.insert(
                "inbound",
                {
                    "channel": env.channel,
                    "external_id": env.external_id,
                    "content_hash": hashlib.sha256(env.external_id.encode()).hexdigest(),
                    "status": "pending",
                    "reason": "",
                    "envelope": env.to_dict(),
                    "raw_blob_key": "",
                    "attempts": 1,
                    "received_at": now,
                    "updated_at": now,
                    "source_host": "test",
                },
            )
        )

    def context(self, message: bytes | Envelope, *, quiet: bool = False) -> Context:
        inbound_id = self.desk.deliver(message) if isinstance(message, bytes) else self.inbound(message)
        row = run_tx(lambda: inbound_state.lock(inbound_id))
        assert row is not None
        env = Envelope.from_dict(row.envelope)
        return Context(
            row,
            env,
            self.settings,
            m.utcnow(),
            inbound_channels.of(env.channel),
            None,
            domains={a.rpartition("@")[2].lower() for a in self.settings.support_addresses},
            quiet=quiet,
        )

    def until(self, ctx: Context, stage: str) -> Context:
        """Run the stages before ``stage`` (none of them may end the message)."""
        order = stages.ORDER[: stages.ORDER.index(stage)]
        for name, run in stages.load(order):
            decision = run_tx(lambda run=run: run(ctx))
            assert decision is None or decision.outcome is None, (name, decision)
        return ctx

    def run(self, name: str, ctx: Context) -> Decision | None:
        """One stage, in a transaction of its own."""
        ((_, stage),) = stages.load((name,))
        return run_tx(lambda: stage(ctx))

    def process(self, message: bytes | Envelope) -> pipeline.Outcome:
        ctx = self.context(message)
        return run_tx(lambda: pipeline.run_stages(ctx))


def sms(text: str, number: str = "+15551230001", **metadata: object) -> Envelope:
    """A Twilio text as the SMS normaliser makes it."""
    sid = "SM" + uuid.uuid4().hex
    return Envelope(
        channel="sms",
        external_id=sid,
        received_at="2026-03-02T10:00:00+00:00",
        sender=Sender(address=number, kind="phone"),
        text=text,
        full_text=text,
        thread=Thread(conversation_id=number),
        metadata={"to": "+15559990000", **metadata},
    )


@pytest.fixture
def sd(request, tmp_path, embedded_redis):  # noqa: ANN001
    """A desk on SQLite whose stages a test runs one by one."""
    for settings in _backend_settings("sqlite", request, tmp_path, embedded_redis):
        yield StageDesk(settings)
