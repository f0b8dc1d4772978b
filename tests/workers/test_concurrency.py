"""One conversation, one writer: messages of one new conversation processed at
the same moment by several workers make one ticket, on both databases.

Each worker is a thread with its own database connection (peewee keeps one
per thread); a barrier releases them into ``pipeline.process`` together.
"""

from __future__ import annotations

import threading

import pytest

from helpline.store import db
from helpline.store import models as m
from helpline.workers import pipeline

from .builders import ALICE_ADDR, inbound_messages, mail, new_message_id, quoted


def process_together(settings, inbound_ids: list[int]) -> list[pipeline.Outcome]:
    """Run the actor's steps for each row in its own thread, all released at once."""
    barrier = threading.Barrier(len(inbound_ids))
    outcomes: dict[int, pipeline.Outcome] = {}
    errors: list[BaseException] = []

    def worker(inbound_id: int) -> None:
        try:
            assert pipeline.begin_attempt(inbound_id, settings.max_attempts) is None
            barrier.wait(timeout=30)
            outcomes[inbound_id] = pipeline.process(inbound_id, settings)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
            barrier.abort()
        finally:
            db.database().close()

    threads = [threading.Thread(target=worker, args=(i,), name=f"worker-{i}") for i in inbound_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [t.name for t in threads if t.is_alive()], "a worker is stuck"
    assert not errors, errors
    return [outcomes[i] for i in inbound_ids]


def returning_customer(address: str = ALICE_ADDR) -> m.Customer:
    """A customer who wrote before: no worker has to create her, so nothing but the
    conversation lock orders the workers."""
    customer = m.Customer.create(name="Alice Customer")
    m.Identity.create(customer=customer, kind="email", address=address)
    return customer


def replies_in_unknown_thread(desk, n: int) -> list[int]:
    """n messages from one customer in a thread support joined late: same References root, new to us."""
    root = new_message_id("partner.example")
    ids = []
    for k in range(n):
        parent = new_message_id("partner.example")  # each answers a different message we never saw
        raw, _ = mail(
            cc="support@example.com",
            subject="Re: Delivery schedule",
            body=quoted(f"Point {k + 1}: the pallet count on line {k + 1} is wrong."),
            in_reply_to=parent,
            references=[root, parent],
        )
        ids.append(desk.deliver(raw))
    return ids


@pytest.mark.parametrize("n", [2, 10])
def test_messages_of_one_new_conversation_at_once_make_one_ticket(desk, n):
    returning_customer()
    ids = replies_in_unknown_thread(desk, n)

    outcomes = process_together(desk.settings, ids)

    assert m.Ticket.select().count() == 1
    ticket = m.Ticket.get()
    assert sorted(o.action for o in outcomes) == ["appended"] * (n - 1) + ["created"]
    assert {o.ticket_id for o in outcomes} == {ticket.id}
    assert sorted(x.inbound_id for x in inbound_messages(ticket)) == sorted(ids)
    assert m.Outbox.select().count() == 1  # one acknowledgement for the one ticket
    assert {r.status for r in m.Inbound.select()} == {m.InboundStatus.PROCESSED}


def test_first_mail_and_a_reply_to_it_at_once_make_one_ticket(desk):
    returning_customer()
    first, first_mid = mail(subject="Scanner offline", body="Our scanner went offline this morning.\n")
    reply, _ = mail(
        subject="Re: Scanner offline",
        body=quoted("Forgot to say: model XS-200."),
        in_reply_to=first_mid,
        references=[first_mid],
    )
    ids = [desk.deliver(first), desk.deliver(reply)]

    process_together(desk.settings, ids)

    assert m.Ticket.select().count() == 1
    assert len(inbound_messages(m.Ticket.get())) == 2


def test_the_same_mail_sent_twice_at_once_makes_one_ticket(desk):
    """A double click on "send": two copies, two Message-IDs, the same text, two workers."""
    returning_customer()
    body = "Hello,\n\nthe invoice 2026-17 shows the wrong VAT number.\n\nAlice\n"
    ids = [desk.deliver(mail(subject="Wrong VAT number", body=body)[0]) for _ in range(2)]

    outcomes = process_together(desk.settings, ids)

    assert sorted(o.action for o in outcomes) == ["created", "duplicate"]
    assert m.Ticket.select().count() == 1
    assert m.Outbox.select().count() == 1  # one acknowledgement, not two
