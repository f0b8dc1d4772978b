"""Backup and restore round trip on SQLite and PostgreSQL, through the command line.

After ``helpline restore`` into an empty data directory (and an empty
database), tickets, messages and attachments are byte-equal; the restored
desk accepts new mail, threads a customer's reply into a ticket from before
the backup, and verifies reply tokens and download links signed before it;
outbox rows pending at backup time are held until ``helpline outbox release``;
an erasure made after the backup is re-applied from the ledger file.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import psycopg2
import pytest

from helpline.store import config, db, models as m, signing
from helpline.store.storage.blobs import FileBlobStore

from ..conftest import PG_DSN, make_settings
from ..workers.builders import Desk, ack_message_id, mail
from .helpers import rich_mail, run_cli

FILE = b"%PDF-1.4 contract " + bytes(range(256)) * 40
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def empty_target(backend, tmp_path):
    """Settings of an empty installation on the same engine: a new data directory (and database)."""
    target = tmp_path / "restored"
    if "postgres" not in backend.effective_database_url:
        yield make_settings(
            target, database_url=f"sqlite:///{target}/db/helpline.sqlite3", secret_key=(), broker_url=backend.broker_url
        )
        return
    name = "helpline_r_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield make_settings(
        target, database_url=PG_DSN.rsplit("/", 1)[0] + "/" + name, secret_key=(), broker_url=backend.broker_url
    )
    db.proxy.obj and db.proxy.obj.close()
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def _snapshot(blobs: FileBlobStore) -> dict:
    out = {}
    for t in m.Ticket.select().order_by(m.Ticket.id):
        msgs = []
        for msg in m.Message.select().where(m.Message.ticket == t.id).order_by(m.Message.id):
            atts = [(a.filename, blobs.get(a.blob_key)) for a in msg.attachments]
            raw = blobs.get(msg.raw_blob_key) if msg.raw_blob_key else b""
            msgs.append((msg.id, msg.text, msg.html, msg.sender, raw, atts))
        out[t.number] = (t.status, t.subject, msgs)
    return out


def test_round_trip_keeps_everything_and_the_restored_desk_works(backend, empty_target, tmp_path, monkeypatch):
    src = backend.replace(backup_passphrase=PASSPHRASE)
    desk = Desk(src)
    first = desk.receive(
        rich_mail("Alice <alice@example.org>", "contract attached", "<p>contract</p>", [("contract.pdf", FILE)])
    )
    ticket = m.Ticket.get_by_id(first.ticket_id)
    eve = desk.receive(mail(sender="Eve <eve@example.org>", body="eveword secret")[0])
    ack_mid = ack_message_id(ticket)
    assert m.Outbox.select().where(m.Outbox.status == "pending").count() >= 1
    token = signing.reply_token(src.secret_key, ticket.id)
    att = m.Attachment.get(
        m.Attachment.message.in_(m.Message.select(m.Message.id).where(m.Message.ticket == ticket.id))
    )
    link = signing.download_token(src.secret_key, att.id, int(time.time()) + 3600)
    before = _snapshot(desk.intake.blobs)
    out = tmp_path / "backups" / "one.hlbak"

    assert run_cli(monkeypatch, src, "backup", "--out", str(out)) == 0
    assert run_cli(monkeypatch, src, "backup", "verify", str(out)) == 0
    # An erasure after the backup, written to the ledger file that lives apart from backups.
    assert run_cli(monkeypatch, src, "customers", "erase", "eve@example.org", "--yes") == 0
    ledger_file = f"{src.data_dir}/erasure-ledger"

    target = empty_target.replace(backup_passphrase=PASSPHRASE)
    assert run_cli(monkeypatch, target, "restore", str(out), "--ledger", ledger_file) == 0
    assert run_cli(monkeypatch, target, "restore", str(out)) == 1  # no longer empty: refused
    restored = config.ensure_secret_key(target)  # the key came back from the backup into the data directory
    assert restored.secret_key == src.secret_key[:1]
    db.init(restored.effective_database_url)
    blobs = FileBlobStore(restored.effective_blob_dir)
    after = _snapshot(blobs)
    eve_number = m.Ticket.get_by_id(eve.ticket_id).number
    assert after[eve_number][2][0][1] == "" and "eveword" in before[eve_number][2][0][1]  # erased again
    before.pop(eve_number), after.pop(eve_number)
    assert after == before  # tickets, messages, raw MIME and attachments byte-equal

    held = m.Outbox.select().where(m.Outbox.status == "held").count()
    assert held >= 1 and m.Outbox.select().where(m.Outbox.status == "pending").count() == 0
    assert run_cli(monkeypatch, restored, "outbox", "release") == 0
    db.init(restored.effective_database_url)
    assert m.Outbox.select().where(m.Outbox.status == "held").count() == 0

    # Tokens and links signed before the backup verify with the restored key.
    assert signing.ticket_from_reply_token(restored.secret_key, token) == ticket.id
    assert signing.read_download_token(restored.secret_key, link)[0] == att.id
    assert blobs.get(m.Attachment.get_by_id(att.id).blob_key) == FILE
    # The restored desk takes new mail and threads Alice's reply into her old ticket.
    new_desk = Desk(restored)
    reply = new_desk.receive(
        mail(sender="Alice <alice@example.org>", subject="Re: contract", in_reply_to=ack_mid, references=[ack_mid])[0]
    )
    assert reply.ticket_id == ticket.id
    fresh = new_desk.receive(mail(sender="Carl <carl@example.org>", subject="A new question")[0])
    assert fresh.action == "created"


def test_backup_without_passphrase_leaves_the_keys_out_and_needs_the_same_key(
    backend, empty_target, tmp_path, monkeypatch, capsys
):
    Desk(backend).receive(mail()[0])
    out = tmp_path / "nokeys.hlbak"
    assert run_cli(monkeypatch, backend, "backup", "--out", str(out)) == 0
    assert "keys are left out" in capsys.readouterr().err
    assert run_cli(monkeypatch, empty_target, "restore", str(out)) == 1  # no key here
    assert "same HELPLINE_SECRET_KEY" in capsys.readouterr().err
    same = empty_target.replace(secret_key=backend.secret_key)
    assert run_cli(monkeypatch, same, "restore", str(out)) == 0
    db.init(same.effective_database_url)
    assert m.Ticket.select().count() == 1


def test_backup_dir_rotation_keeps_the_newest(backend, tmp_path, monkeypatch):
    folder = tmp_path / "nightly"
    folder.mkdir()
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (folder / f"helpline-{stamp}.hlbak").write_bytes(b"old")
    (folder / "notes.txt").write_text("not a backup")
    assert run_cli(monkeypatch, backend, "backup", "--out-dir", str(folder), "--keep", "2") == 0
    names = sorted(p.name for p in folder.iterdir())
    assert "notes.txt" in names and "helpline-20260101T000000Z.hlbak" not in names
    assert "helpline-20260102T000000Z.hlbak" not in names and len(names) == 3


def test_backup_taken_while_mail_arrives_names_only_blobs_it_holds(backend, empty_target, tmp_path, monkeypatch):
    import threading

    from helpline.store.lifecycle import backup, restore

    desk = Desk(backend)
    for i in range(3):
        desk.receive(rich_mail(f"C{i} <c{i}@example.org>", f"first {i}", "<p>x</p>", [(f"f{i}.bin", b"%d" % i * 500)]))
    stop = threading.Event()
    sent = []

    def load() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            out = desk.receive(
                rich_mail(f"L{n} <l{n}@example.org>", f"load {n}", "<p>l</p>", [(f"l{n}.bin", b"load-%d-" % n * 300)])
            )
            sent.append(out.ticket_id)

    writer = threading.Thread(target=load)
    writer.start()
    try:
        time.sleep(0.3)
        out = tmp_path / "load.hlbak"
        got = backup.create(backend, str(out), passphrase=PASSPHRASE)
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join(30)
    assert sent and not got.missing_blobs
    target = empty_target.replace(backup_passphrase=PASSPHRASE)
    restore.restore(target, str(out), passphrase=PASSPHRASE)
    blobs = FileBlobStore(target.effective_blob_dir)
    rows = list(m.Attachment.select())
    assert len(rows) >= 3
    for a in rows:  # every attachment the snapshot has, byte for byte; none it lacks
        assert hashlib.sha256(blobs.get(a.blob_key)).hexdigest() == a.sha256
    for (key,) in m.Message.select(m.Message.raw_blob_key).tuples():
        assert not key or blobs.exists(key)
    pending = {
        a["blob_key"]
        for (env,) in m.Inbound.select(m.Inbound.envelope).where(m.Inbound.status == "pending").tuples()
        for a in env.get("attachments", [])
    }  # accepted, not yet processed: still needed
    assert got.blobs == len(
        {a.blob_key for a in rows}
        | {k for (k,) in m.Message.select(m.Message.raw_blob_key).tuples() if k}
        | {k for (k,) in m.Inbound.select(m.Inbound.raw_blob_key).tuples() if k}
        | pending
    )
    assert all(blobs.exists(k) for k in pending)
