"""After an outage the outbox drains until empty (fault 16), and a sender killed mid-round
leaves at most the one message in flight behind: each send is marked as it completes, and the
untried rest of its claim is given back when the scheduler starts again (fault 17)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from helpline.notifier import outbox
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.templates import render_ack
from helpline.store import db
from helpline.store.models import Outbox
from helpline.workers import actors, scheduler
from tests.support.stack import settings_env


def _acks(ticket, n: int) -> list[int]:  # noqa: ANN001
    ids = []
    for i in range(n):
        payload = render_ack(
            ticket_number=ticket.number,
            subject="Re: Printer broken",
            customer_name="Ann",
            support_address="support@example.com",
            recipient=f"c{i}@customer.example",
            in_reply_to=f"<cust-{i}@customer.example>",
            references=[],
            message_id=make_message_id("example.com", ticket.number),
        )
        with db.write_tx():
            ids.append(
                outbox.enqueue(
                    channel="email",
                    kind="ack",
                    recipient=f"c{i}@customer.example",
                    payload=payload,
                    unique_key=f"ack:{ticket.id}:{i}",
                    ticket=ticket,
                ).id
            )
    return ids


def _counts() -> dict[str, int]:
    out: dict[str, int] = {}
    for row in Outbox.select():
        out[row.status] = out.get(row.status, 0) + 1
    return out


def test_one_scheduler_tick_drains_the_whole_backlog(backend, ticket, relay_sink):
    settings = backend.replace(smtp_relay=relay_sink.address)
    _acks(ticket, 150)
    actors.configure(settings)
    done = scheduler.tick(settings)
    report = done["outbox_delivered_email"]
    assert report.sent == 150, report
    assert _counts() == {"sent": 150}
    assert len(relay_sink.wait_for(150)) == 150


KILLED_SENDER = """
import sys
from helpline.store import config, db
from helpline.notifier.deliver import drain
from helpline.notifier.email.email_sender import EmailSender
from helpline.workers import actors, scheduler
settings = config.load()
db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
actors.configure(settings)
drain(settings, EmailSender(settings), journal=scheduler.claim_journal(settings, "email"))
"""


def test_killed_sender_resends_at_most_one_and_gives_back_the_rest(backend, ticket, relay_sink, tmp_path):
    settings = backend.replace(smtp_relay=relay_sink.address)
    ids = _acks(ticket, 40)
    relay_sink.answer_delay_s = 0.3
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SENDER],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "sender.log", "wb"),
    )
    try:
        relay_sink.wait_for(4, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    time.sleep(0.5)
    got = len(relay_sink.received)
    counts = _counts()
    # Every send the relay answered is marked; at most the one in flight is not.
    assert counts.get("sent", 0) >= got - 1, (got, counts)
    assert counts.get("sending", 0) <= 16, counts  # a round claims few
    in_flight_before = counts.get("sending", 0)
    actors.configure(settings)
    released = scheduler.release_unsent_claims(settings)
    counts = _counts()
    assert counts.get("sending", 0) <= 1, counts  # only the unknowable one waits for the lease
    assert released >= in_flight_before - 1
    assert counts.get("sent", 0) + counts.get("pending", 0) + counts.get("sending", 0) == len(ids)
