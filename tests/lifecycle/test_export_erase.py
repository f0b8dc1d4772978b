"""Export and erasure of one customer, on SQLite and PostgreSQL, through the command line.

The erasure test is the issue's: after ``helpline customers erase``, neither
the customer's address nor a word only they wrote is found anywhere: not in
the database files (WAL included), blobs, spool, the bundled Redis's
append-only file or the log Helpline wrote, nor in a ``pg_dump``; Twilio was
asked to delete its copies; STOP still holds for their number.
"""

from __future__ import annotations

import json
import logging
import subprocess
import zipfile
from pathlib import Path

import pytest
import redis

from helpline.notifier.sms import sms_optout
from helpline.store import models as m
from helpline.store.tickets import customers
from helpline.store.lifecycle import ledger
from helpline.store.logs import KeyValueFormatter
from helpline.workers.redis_embedded import EmbeddedRedis

from ..sms.conftest import SmsDesk, twilio_settings
from ..workers.builders import Desk, mail
from .helpers import files_containing, rich_mail, run_cli

ZOE = "zoe.quux@example.net"
ZOE_PHONE = "+14155550177"
WORD = "xylophonequartz"
SECRET_FILE = b"%PDF-1.4 invoice for " + ZOE.encode() + b" " + WORD.encode() + b"\n" + bytes(range(256))
SHARED_FILE = b"GIF89a common logo shared by two customers" + bytes(range(200))


@pytest.fixture
def logfile(tmp_path):
    """The log Helpline writes, into the data directory, at DEBUG for Helpline's own loggers (peewee's
    statement log stays at WARNING, as ``store.logs.configure_logging`` sets it)."""
    path = Path(tmp_path) / "data" / "helpline.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    peewee_log = logging.getLogger("peewee")
    peewee_level = peewee_log.level
    peewee_log.setLevel(logging.WARNING)
    yield path
    peewee_log.setLevel(peewee_level)
    root.removeHandler(handler)
    root.setLevel(old)
    handler.close()


def _zoe_writes(desk: Desk) -> m.Ticket:
    raw = rich_mail(
        f"Zoe Quux <{ZOE}>",
        f"My parcel never came. Password word {WORD}.\nZoe",
        f"<p>My parcel never came. <b>{WORD}</b></p>",
        [("invoice.pdf", SECRET_FILE), ("logo.gif", SHARED_FILE)],
    )
    out = desk.receive(raw)
    assert out.action == "created"
    return m.Ticket.get_by_id(out.ticket_id)


def test_export_holds_every_ticket_message_and_the_attachment_bytes(backend, tmp_path, monkeypatch):
    desk = Desk(backend)
    ticket = _zoe_writes(desk)
    cid = ticket.customer_id
    out = tmp_path / "zoe.zip"
    assert run_cli(monkeypatch, backend, "customers", "export", ZOE, "--out", str(out)) == 0
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        doc = json.loads(z.read("customer.json"))
        assert doc["customer"]["id"] == cid and doc["identities"][0]["address"] == ZOE
        tdoc = json.loads(z.read(f"tickets/{ticket.number}/ticket.json"))
        msg = tdoc["messages"][0]
        assert WORD in msg["text"] and WORD in msg["html"]
        files = {a["filename"]: a for a in msg["attachments"]}
        assert z.read(files["invoice.pdf"]["path"]) == SECRET_FILE  # byte-equal
        assert z.read(files["logo.gif"]["path"]) == SHARED_FILE
        assert msg["raw"] in names and WORD.encode() in z.read(msg["raw"]).replace(b"=\n", b"")
        assert any(e["kind"] for e in tdoc["events"])
        assert "README.txt" in names
    audit = m.Event.get(m.Event.kind == "customer_exported")
    assert audit.data["customer"] == cid and ZOE not in json.dumps(audit.data)


def _grep_pg(url: str) -> list[str]:
    dump = subprocess.run(["pg_dump", "--data-only", url], capture_output=True, check=True, timeout=120).stdout.lower()
    return [n for n in (ZOE.encode(), WORD.encode(), ZOE_PHONE.encode()) if n in dump]


def test_erase_leaves_no_byte_of_the_customer_anywhere(backend, tmp_path, monkeypatch, fake_twilio, logfile):
    settings = twilio_settings(backend, fake_twilio).replace(broker_url="")  # the bundled Redis, in the data dir
    aof_redis = EmbeddedRedis(settings.redis_socket).start()
    try:
        client = redis.Redis(unix_socket_path=settings.redis_socket)
        client.set("helpline.queue-msg", f"a message naming {ZOE} {WORD}")  # a queue entry, consumed since:
        client.delete("helpline.queue-msg")  # the append-only file still has it
        sms = SmsDesk(settings)
        ticket = _zoe_writes(sms)
        cid = ticket.customer_id
        other = sms.receive(
            rich_mail(
                "Bob Other <bob@example.org>",
                "Also broken, see logo",
                "<p>Also broken</p>",
                [("logo.gif", SHARED_FILE)],
            )
        )
        customers.link(cid, "phone", ZOE_PHONE, actor="test")
        media_url = fake_twilio.add_media(b"\x89PNG photo of " + WORD.encode(), "image/png")
        texted = sms.text(f"Photo of the box {WORD}", sender=ZOE_PHONE, media=[(media_url, "image/png")])
        sms.fetch_media(texted)
        sms.text("STOP", sender=ZOE_PHONE)
        assert sms_optout.is_opted_out(ZOE_PHONE)
        sms_ticket = m.Ticket.get_by_id(texted.ticket_id)
        assert sms_ticket.customer_id == cid
        texted_sids = {
            mid
            for (mid,) in m.Message.select(m.Message.external_id)
            .where((m.Message.channel == "sms") & (m.Message.direction == "in"))
            .tuples()
        }
        assert texted_sids and all(sid[:2] in ("SM", "MM") for sid in texted_sids)  # the customer's texts
        assert run_cli(monkeypatch, settings, "customers", "hold", ZOE, "--on", "--reason", "court order") == 0
        assert run_cli(monkeypatch, settings, "customers", "erase", ZOE, "--yes") == 1  # refused under the hold
        assert m.Identity.select().where(m.Identity.customer == cid).count() == 2
        assert run_cli(monkeypatch, settings, "customers", "hold", str(cid), "--off") == 0

        assert run_cli(monkeypatch, settings, "customers", "erase", ZOE, "--yes") == 0
        assert run_cli(monkeypatch, settings, "customers", "erase", str(cid), "--yes") == 0  # idempotent

        hits = files_containing(tmp_path, [ZOE.encode(), WORD.encode(), ZOE_PHONE.encode()])
        assert hits == []
        if "postgres" in settings.effective_database_url:
            assert _grep_pg(settings.effective_database_url) == []
        # Twilio's copies: the inbound texts, the outbound acknowledgement, the media.
        deleted = set(fake_twilio.deleted)
        outbound_sids = {c.sid for c in fake_twilio.created}
        assert outbound_sids <= deleted and texted_sids <= deleted and any("/" in d for d in deleted)
        # STOP still holds, through the number's salted hash; the ledger knows the identities.
        assert sms_optout.is_opted_out(ZOE_PHONE)
        assert ledger.identity_hash("email", ZOE) in ledger.read_file(ledger.ledger_path(settings))
        # Anonymous figures stay: the tickets, their statuses and message counts.
        assert m.Ticket.get_by_id(ticket.id).status == ticket.status
        assert m.Message.select().where(m.Message.ticket == ticket.id).count() >= 1
        # The other customer's ticket and the shared attachment are untouched.
        shared = m.Attachment.get(
            m.Attachment.message.in_(m.Message.select(m.Message.id).where(m.Message.ticket == other.ticket_id))
        )
        assert sms.intake.blobs.get(shared.blob_key) == SHARED_FILE
        audit = m.Event.get(m.Event.kind == "customer_erased")
        assert audit.data["customer"] == cid and ZOE not in json.dumps(audit.data)
    finally:
        aof_redis.stop()


def test_erase_of_an_erased_address_or_unknown_id_is_a_clear_refusal(backend, monkeypatch, capsys):
    desk = Desk(backend)
    desk.receive(mail(sender=f"Zoe <{ZOE}>")[0])
    assert run_cli(monkeypatch, backend, "customers", "erase", ZOE, "--yes") == 0
    capsys.readouterr()
    assert run_cli(monkeypatch, backend, "customers", "erase", ZOE, "--yes") == 1
    assert "no customer has that address" in capsys.readouterr().err
    assert run_cli(monkeypatch, backend, "customers", "erase", "999999", "--yes") == 1


def test_erase_blanks_the_title_of_an_incident_named_after_their_ticket(backend, monkeypatch):
    from helpline.store.tickets import similarity_state
    from helpline.store.db import run_tx

    desk = Desk(backend)
    ticket = desk.receive(mail(sender=f"Zoe <{ZOE}>", subject=f"Outage at {WORD} street")[0])
    other = run_tx(lambda: similarity_state.create_incident("Login page down", m.utcnow()))
    mine = run_tx(lambda: similarity_state.create_incident(f"Outage at {WORD} street", m.utcnow()))
    assert ticket.ticket_id and run_cli(monkeypatch, backend, "customers", "erase", ZOE, "--yes") == 0
    titles = dict(m.Ticket._meta.database.execute_sql('SELECT id, title FROM "incident"').fetchall())
    assert titles[mine] == "[erased]" and titles[other] == "Login page down"
