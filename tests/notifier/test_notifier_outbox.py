"""The outbox state machine on SQLite and PostgreSQL (the `backend` fixture runs both)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from helpline.notifier import outbox
from helpline.store import db
from helpline.store.outbound import outbox_rows
from helpline.store.models import Event, Message, Outbox, OutboxStatus, utcnow


def _enqueue(
    n: int = 1, channel: str = "email", ticket=None, kind: str = "ack", recipient: str = "ann@customer.example"
):
    rows = []
    for i in range(n):
        with db.write_tx():
            rows.append(
                outbox.enqueue(
                    channel=channel,
                    kind=kind,
                    recipient=recipient,
                    payload={"to": recipient, "message_id": f"<hl.{channel}.{i}.{id(rows)}@example.com>"},
                    unique_key=f"{kind}:{channel}:{recipient}:{i}:{id(rows)}",
                    ticket=ticket,
                )
            )
    return rows


def test_enqueue_is_idempotent(backend, ticket):
    with db.write_tx():
        first = outbox.enqueue(
            channel="email",
            kind="ack",
            recipient="a@customer.example",
            payload={"message_id": "<hl.x@example.com>"},
            unique_key="ack:1",
            ticket=ticket,
        )
    with db.write_tx():
        again = outbox.enqueue(
            channel="email",
            kind="ack",
            recipient="a@customer.example",
            payload={"message_id": "<hl.y@example.com>"},
            unique_key="ack:1",
            ticket=ticket,
        )
    assert first is not None and again is None
    assert first.status == OutboxStatus.PENDING and first.attempts == 0
    assert first.message_id == "<hl.x@example.com>"  # taken from the payload
    assert first.ticket_id == ticket.id
    assert Outbox.select().count() == 1


def test_enqueue_belongs_to_the_callers_transaction(backend):
    with pytest.raises(RuntimeError):
        with db.write_tx():
            outbox.enqueue(channel="email", kind="ack", recipient="a@x.example", payload={}, unique_key="k")
            raise RuntimeError("ticket change failed")
    assert Outbox.select().count() == 0


def test_claim_due_marks_sending_and_respects_due_time(backend):
    rows = _enqueue(3)
    later = utcnow() + dt.timedelta(hours=1)
    Outbox.update(next_attempt_at=later).where(Outbox.id == rows[2].id).execute()
    claimed = outbox.claim_due("email", 10)
    assert [r.id for r in claimed] == [rows[0].id, rows[1].id]
    assert all(r.status == OutboxStatus.SENDING and r.attempts == 1 for r in claimed)
    assert outbox.claim_due("email", 10) == []
    assert outbox.claim_due("sms", 10) == []
    assert [r.id for r in outbox.claim_due("email", 10, now=later)] == [rows[2].id]


def test_claim_one(backend):
    row, other = _enqueue(2)
    assert outbox.claim_one(row.id, channel="sms") is None
    got = outbox.claim_one(row.id)
    assert got is not None and got.id == row.id and got.status == OutboxStatus.SENDING
    assert outbox.claim_one(row.id) is None  # already sending
    assert Outbox.get_by_id(other.id).status == OutboxStatus.PENDING


def test_concurrent_claimers_never_share_a_row(backend):
    total = 60
    with db.write_tx():
        for i in range(total):
            outbox.enqueue(
                channel="email", kind="ack", recipient=f"c{i}@customer.example", payload={}, unique_key=f"k{i}"
            )
    start = threading.Barrier(4)
    claimed: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        try:
            start.wait()
            while True:
                rows = outbox.claim_due("email", 3)
                if not rows:
                    return
                claimed[slot].extend(r.id for r in rows)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.database().close()  # each thread had its own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    all_ids = [i for ids in claimed for i in ids]
    assert len(all_ids) == total and len(set(all_ids)) == total
    assert Outbox.select().where(Outbox.status == OutboxStatus.SENDING, Outbox.attempts == 1).count() == total


def test_claim_while_another_claim_is_uncommitted(backend):
    """A claimer holding its transaction open: PostgreSQL skips its rows, SQLite waits for it."""
    ids = [r.id for r in _enqueue(5)]
    holding, release = threading.Event(), threading.Event()
    held: list[int] = []

    def holder() -> None:
        try:
            with db.write_tx():  # claim_due's transaction nests inside: locks kept until release
                held.extend(r.id for r in outbox.claim_due("email", 2))
                holding.set()
                release.wait(10)
        finally:
            db.database().close()

    t = threading.Thread(target=holder)
    t.start()
    assert holding.wait(10)
    if db.is_sqlite():
        result: list[int] = []
        c = threading.Thread(
            target=lambda: (result.extend(r.id for r in outbox.claim_due("email", 10)), db.database().close())
        )
        c.start()
        release.set()
        c.join(10)
        got = result
    else:
        got = [r.id for r in outbox.claim_due("email", 10)]  # must not block on the held rows
        release.set()
    t.join(10)
    assert len(held) == 2 and not set(held) & set(got)
    assert sorted(held + got) == sorted(ids)


def test_backoff_schedule_and_exhaustion(backend, ticket):
    settings = backend.replace(outbox_retry_base_s=30.0, outbox_max_attempts=10)
    (row,) = _enqueue(1, ticket=ticket)
    now = utcnow()
    delays = []
    for attempt in range(1, 10):
        (claimed,) = outbox.claim_due("email", 1, now=now)
        assert claimed.attempts == attempt
        assert outbox.mark_failed_temporary(row.id, "451 try later", settings, now=now) == OutboxStatus.PENDING
        nxt = Outbox.get_by_id(row.id).next_attempt_at
        delays.append((nxt - now).total_seconds())
        assert outbox.claim_due("email", 1, now=nxt - dt.timedelta(seconds=1)) == []
        now = nxt
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    outbox.claim_due("email", 1, now=now)
    assert outbox.mark_failed_temporary(row.id, "451 try later", settings, now=now) == OutboxStatus.FAILED
    final = Outbox.get_by_id(row.id)
    assert final.status == OutboxStatus.FAILED and final.attempts == 10 and "451" in final.last_error
    (event,) = Event.select().where(Event.kind == "outbox_failed")
    assert event.ticket_id == ticket.id and event.data["reason"] == "attempts_exhausted"
    assert "payload" not in event.data


def test_backoff_delay():
    assert [outbox.backoff_delay(a, 0.5) for a in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert outbox.backoff_delay(500, 30) == 3600


def test_temporary_failure_ignored_unless_sending(backend):
    (row,) = _enqueue(1)
    assert outbox.mark_failed_temporary(row.id, "late", backend) is None
    assert Outbox.get_by_id(row.id).status == OutboxStatus.PENDING


def test_mark_sent_and_permanent_failure(backend, ticket):
    a, b = _enqueue(2, ticket=ticket)
    outbox.claim_due("email", 2)
    assert outbox.mark_sent_many([(a.id, "250 2.0.0 queued as 7")]) == {a.id}
    row = Outbox.get_by_id(a.id)
    assert row.status == OutboxStatus.SENT and row.provider_id == "250 2.0.0 queued as 7" and row.sent_at
    assert not outbox.mark_failed_permanent(a.id, "too late")  # sent is final
    assert outbox.mark_failed_permanent(b.id, "550 5.1.1 no such user")
    assert Outbox.get_by_id(b.id).status == OutboxStatus.FAILED
    assert [e.kind for e in Event.select()] == ["outbox_failed"]  # sends are visible on the row only


def test_recover_stuck_email_vs_sms(backend, ticket):
    (mail,) = _enqueue(1, channel="email", ticket=ticket)
    (sms,) = _enqueue(1, channel="sms", ticket=ticket, recipient="+15550100")
    t0 = utcnow()
    outbox.claim_due("email", 1, now=t0)
    outbox.claim_due("sms", 1, now=t0)
    lease = dt.timedelta(seconds=backend.sending_lease_s)
    assert outbox.recover_stuck(backend, now=t0 + lease - dt.timedelta(seconds=1)) == 0
    assert outbox.recover_stuck(backend, now=t0 + lease + dt.timedelta(seconds=1)) == 2
    m, s = Outbox.get_by_id(mail.id), Outbox.get_by_id(sms.id)
    assert m.status == OutboxStatus.PENDING and m.message_id == mail.message_id  # resent with the same id
    assert s.status == OutboxStatus.UNKNOWN
    (event,) = Event.select()
    assert event.kind == "outbox_unknown" and event.data["outbox_id"] == sms.id
    assert [r.id for r in outbox.claim_due("email", 5, now=t0 + lease * 2)] == [mail.id]


def test_recover_stuck_fails_email_that_keeps_dying(backend, ticket):
    settings = backend.replace(outbox_max_attempts=2)
    (mail,) = _enqueue(1, ticket=ticket)
    now = utcnow()
    for _ in range(2):
        assert outbox.claim_due("email", 1, now=now)
        now += dt.timedelta(seconds=settings.sending_lease_s + 1)
        outbox.recover_stuck(settings, now=now)
    assert Outbox.get_by_id(mail.id).status == OutboxStatus.FAILED
    assert Event.get().data["reason"] == "attempts_exhausted"


def test_mark_bounced(backend, ticket):
    mid = "<hl.HL-2026-000001.abc@example.com>"
    msg = Message.create(
        ticket=ticket, direction="out", author_role="system", channel="email", message_id=mid.strip("<>").lower()
    )
    other = Message.create(
        ticket=ticket,
        direction="out",
        author_role="agent",
        channel="email",
        message_id="hl.hl-2026-000001.def@example.com",
    )  # sent without an outbox row
    with db.write_tx():
        row = outbox.enqueue(
            channel="email",
            kind="ack",
            recipient="gone@customer.example",
            payload={"message_id": mid},
            unique_key="ack:b",
            ticket=ticket,
            out_message=msg,
        )
    outbox.claim_due("email", 1)
    outbox.mark_sent_many([(row.id, "250 ok")])
    with db.write_tx():
        changed = outbox.mark_bounced([mid.strip("<>")], "550 5.1.1 <gone@customer.example>: user unknown")
    assert [r.id for r in changed] == [row.id]
    assert Message.get_by_id(other.id).delivery_status == ""
    row = Outbox.get_by_id(row.id)
    assert row.status == OutboxStatus.FAILED and "user unknown" in row.last_error
    assert Message.get_by_id(msg.id).delivery_status == "failed"
    (event,) = Event.select().where(Event.kind == "delivery_failed")
    assert event.ticket_id == ticket.id and event.data["message_id"] == mid
    with db.write_tx():
        assert outbox.mark_bounced([mid], "again") == []  # a second DSN changes nothing
    assert Event.select().where(Event.kind == "delivery_failed").count() == 1
    assert outbox.mark_bounced(["<unknown@example.com>"], "x") == []
    with db.write_tx():
        assert outbox.mark_bounced(["<HL.HL-2026-000001.DEF@example.com>"], "550 gone") == []  # no outbox row
    assert Message.get_by_id(other.id).delivery_status == "failed"
    assert Event.select().where(Event.kind == "delivery_failed").count() == 2


def test_list_rows(backend, ticket):
    _enqueue(2, ticket=ticket)
    _enqueue(1, channel="sms", recipient="+15550100")
    outbox.claim_due("sms", 1)
    rows = outbox_rows.list_rows(None, 10)
    assert len(rows) == 3 and rows[0]["channel"] == "sms" and rows[0]["ticket"] == ""
    assert rows[-1]["ticket"] == ticket.number
    assert all("payload" not in r for r in rows)
    assert [r["status"] for r in outbox_rows.list_rows("sending", 10)] == ["sending"]
    assert len(outbox_rows.list_rows(None, 1)) == 1
