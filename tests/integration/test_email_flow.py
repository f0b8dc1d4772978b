"""Email in, ticket out, acknowledgement back: real SMTP, real broker, real workers.

Every test runs on SQLite + the bundled Redis, on PostgreSQL + the Redis server
and on PostgreSQL + RabbitMQ (the ``backbone`` fixture).
"""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import threading

import pytest

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, settings_env, wait_until


@pytest.fixture
def stack(backbone, relay_sink, tmp_path):
    s = Stack(backbone.replace(smtp_relay=relay_sink.address), tmp_path)
    s.start_ingest().start_worker(processes=1, threads=4)
    yield s
    s.stop()


def processed(n: int):
    return lambda: m.Inbound.select().where(m.Inbound.status != m.InboundStatus.PENDING).count() >= n


def cli(stack: Stack, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args],
        env=settings_env(stack.settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_new_mail_creates_ticket_and_acknowledgement(stack, relay_sink):
    raw, mid = make_mail(subject="Order 4711 never arrived", body="Hi,\nwhere is my order 4711?\n\nAlice\n")
    code, answer = stack.send(raw)
    assert code == 250, answer
    wait_until(processed(1), what="inbound processed")
    ticket = m.Ticket.get()
    assert ticket.subject == "Order 4711 never arrived"
    assert ticket.status == "new"
    acks = relay_sink.wait_for(1)
    ack = acks[0].message()
    assert acks[0].rcpt_tos == ["alice@example.org"]
    assert ack["From"] == "support@example.com"
    assert ack["In-Reply-To"] == mid
    assert f"[{ticket.number}]" in ack["Subject"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert ack.get_content_type() == "multipart/alternative"  # plain text, then HTML
    assert all("where is my order" not in part.get_content() for part in ack.iter_parts())

    listed = json.loads(cli(stack, "tickets", "list", "--json"))
    assert [t["number"] for t in listed] == [ticket.number]
    shown = json.loads(cli(stack, "tickets", "show", ticket.number, "--json"))
    assert shown["messages"][0]["text"].startswith("Hi,\nwhere is my order 4711?")
    assert {"ticket_created", "message_received", "ack_queued"} <= {e["kind"] for e in shown["events"]}
    wait_until(lambda: m.Outbox.get().status == "sent", what="ack marked sent")


def test_reply_to_acknowledgement_lands_on_same_ticket(stack, relay_sink):
    raw, _ = make_mail(subject="Cannot log in")
    assert stack.send(raw)[0] == 250
    ack = relay_sink.wait_for(1)[0].message()
    reply, _ = make_mail(
        subject="Re: " + ack["Subject"],
        body="It still fails.\n\nOn Mon, Support wrote:\n> Thanks",
        headers={"In-Reply-To": ack["Message-ID"], "References": ack["Message-ID"]},
    )
    assert stack.send(reply)[0] == 250
    wait_until(processed(2), what="both processed")
    assert m.Ticket.select().count() == 1
    texts = [x.text for x in m.Message.select().where(m.Message.direction == "in").order_by(m.Message.id)]
    assert texts[1] == "It still fails."
    assert len(relay_sink.received) == 1  # no second acknowledgement for a reply


@pytest.mark.parametrize(
    "headers,sender",
    [
        ({"Auto-Submitted": "auto-replied"}, "Alice <alice@example.org>"),
        ({"List-Id": "<users.lists.example.org>", "Precedence": "list"}, "Alice <alice@example.org>"),
        ({}, "Mail Delivery System <MAILER-DAEMON@mx.example.org>"),
    ],
)
def test_automatic_mail_gets_no_acknowledgement(stack, relay_sink, headers, sender):
    raw, _ = make_mail(sender=sender, headers=headers)
    assert stack.send(raw, mail_from="" if "MAILER" in sender else "alice@example.org")[0] == 250
    wait_until(processed(1), what="processed")
    ticket = m.Ticket.get()
    kinds = [e.kind for e in m.Event.select().where(m.Event.ticket == ticket)]
    assert "ack_suppressed" in kinds and "ack_queued" not in kinds
    assert m.Outbox.select().count() == 0
    assert relay_sink.received == []


def test_unknown_recipient_and_oversized_are_refused(backbone, relay_sink, tmp_path):
    s = Stack(backbone.replace(smtp_relay=relay_sink.address, max_message_bytes=50_000), tmp_path).start_ingest()
    try:
        code, answer = s.send(make_mail()[0], rcpt="sales@example.com")
        assert code == 550 and "5.1.1" in answer
        code, answer = s.send(make_mail(body="x" * 60_000)[0])
        assert code == 552 and "5.3.4" in answer
        assert s.send(make_mail(to="support+abc@example.com")[0], rcpt="support+abc@example.com")[0] == 250
        assert m.Inbound.select().count() == 1
    finally:
        s.stop()


def test_long_lines_are_accepted(stack):
    raw, _ = make_mail(body="A" * 5000 + "\n.leading dot kept\n")
    assert stack.send(raw)[0] == 250
    wait_until(processed(1))
    text = m.Message.get().full_text
    assert "A" * 5000 in text and ".leading dot kept" in text


def test_same_message_twice_is_one_ticket_message(stack, relay_sink):
    raw, _ = make_mail()
    assert stack.send(raw)[0] == 250
    code, answer = stack.send(raw)
    assert code == 250 and "already" in answer
    wait_until(processed(1))
    assert m.Inbound.select().count() == 1
    assert m.Message.select().where(m.Message.direction == "in").count() == 1


def test_same_id_different_body_is_kept(stack):
    raw1, mid = make_mail(body="first text")
    raw2, _ = make_mail(body="a different text", message_id=mid)
    assert stack.send(raw1)[0] == 250
    assert stack.send(raw2)[0] == 250
    wait_until(processed(2))
    assert m.Message.select().where(m.Message.direction == "in").count() == 2


def test_ten_concurrent_replies_make_one_ticket(backbone, relay_sink, tmp_path):
    s = Stack(backbone.replace(smtp_relay=relay_sink.address), tmp_path).start_ingest()
    try:
        root = "<root-unknown-1@example.org>"
        mails = [
            make_mail(
                subject="Re: Project kickoff",
                body=f"reply number {i}",
                headers={"In-Reply-To": root, "References": root},
            )[0]
            for i in range(10)
        ]
        results: list[int] = []

        def send(raw: bytes) -> None:
            results.append(s.send(raw)[0])

        threads = [threading.Thread(target=send, args=(raw,)) for raw in mails]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [250] * 10
        s.start_worker(processes=2, threads=4)  # all ten are queued; eight threads race on them
        wait_until(processed(10), timeout=60)
        assert m.Ticket.select().count() == 1
        assert m.Message.select().where(m.Message.direction == "in").count() == 10
    finally:
        s.stop()


def test_corrupted_mime_does_not_crash_the_daemon(stack):
    garbage = (
        b"From: broken@example.org\r\nTo: support@example.com\r\nSubject: =?utf-8?B?broken\r\n"
        b'Content-Type: multipart/mixed; boundary="nope\r\n\r\n--nope\r\nContent-Type: text/plain; charset=x-unknown\r\n'
        b"\r\n\xff\xfe\x00 junk \x80\x81\r\n--nope"
    )
    code, _ = stack.send(garbage)
    assert code == 250
    code, _ = stack.send(b"\x00\x01\x02\x03" * 100)
    assert code == 554  # not an email at all: refused with a reason
    assert stack.send(make_mail()[0])[0] == 250  # the daemon still serves
    wait_until(processed(2))
    assert stack.procs["ingest"].poll() is None


def test_message_without_message_id_is_recognised_when_redelivered(stack):
    raw = (
        b"From: bob@example.org\r\nTo: support@example.com\r\nSubject: no id\r\nDate: Mon, 1 Jan 2026 10:00:00 +0000\r\n"
        b"\r\nhello\r\n"
    )
    redelivered = (
        b"Received: from relay2 by mx; Mon, 1 Jan 2026 10:05:00 +0000\r\nDelivered-To: support@example.com\r\n" + raw
    )
    assert stack.send(raw)[0] == 250
    assert stack.send(redelivered)[0] == 250
    wait_until(processed(1))
    assert m.Inbound.select().count() == 1


def test_smtp_answers_after_commit(stack):
    raw, _ = make_mail()
    code, answer = stack.send(raw)
    assert code == 250
    inbound_id = int(answer.rsplit(" ", 1)[-1])
    row = m.Inbound.get_by_id(inbound_id)  # already committed when 250 came back
    assert row.raw_blob_key.startswith("sha256:")


def test_smtp_pipelining_session_with_several_messages(stack):
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30) as conn:
        for i in range(3):
            conn.sendmail("c@example.org", ["support@example.com"], make_mail(body=f"message {i}")[0])
    wait_until(processed(3))


def test_data_split_across_tiny_packets_and_pipelined_commands(stack):
    """The end-of-data marker may arrive split over reads; a command sent right
    after it (QUIT here) must still be answered."""
    import socket
    import time as _time

    raw, _ = make_mail(body="line one\n.starts with a dot\nlast line")
    stuffed = raw.replace(b"\r\n.", b"\r\n..")
    with socket.create_connection(("127.0.0.1", stack.smtp_port), timeout=30) as sock:
        f = sock.makefile("rb")
        f.readline()
        for cmd in (
            b"EHLO t.example\r\n",
            b"MAIL FROM:<a@example.org>\r\n",
            b"RCPT TO:<support@example.com>\r\n",
            b"DATA\r\n",
        ):
            sock.sendall(cmd)
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
        assert line.startswith(b"354")
        payload = stuffed + b"\r\n.\r\nQUIT\r\n"
        for i in range(0, len(payload), 3):
            sock.sendall(payload[i : i + 3])
            _time.sleep(0.001)
        assert f.readline().startswith(b"250")
        assert f.readline().startswith(b"221")
    wait_until(processed(1))
    assert ".starts with a dot" in m.Message.get().full_text


def test_health_readiness_and_metrics(stack):
    admin = stack.settings.admin_listen
    wait_until(lambda: _get(f"http://{admin}/healthz")[0] == 200, what="admin listener")
    status, body = _get(f"http://{admin}/readyz")
    assert status == 200 and json.loads(body)["checks"] == {"database": "ok", "broker": "ok"}
    assert stack.send(make_mail()[0])[0] == 250
    wait_until(processed(1))

    def worker_metrics() -> str:
        text = _get(f"http://{admin}/metrics")[1]
        return text if 'helpline_worker_inbound_total{action="created"} 1.0' in text else ""

    text = wait_until(worker_metrics, what="worker metrics aggregated by the admin listener")
    assert 'helpline_inbound_total{channel="email",result="accepted"} 1.0' in text
    assert "helpline_queue_depth" in text and "helpline_outbox_backlog" in text
    assert "helpline_worker_processing_seconds_bucket" in text


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""
