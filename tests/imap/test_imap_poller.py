"""The IMAP poller against a real Dovecot, on SQLite and PostgreSQL.

The poller's job ends at intake: these tests look at inbound rows, the spool
and the mailbox on the server, never at tickets.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import random
import socket
import threading

import pytest
from imapclient import SEEN

from helpline.ingest.channels.imap_poller import ImapPoller, run_imap_pollers
from helpline.store import models as m
from helpline.store.channels import imap_state

from helpline.ingest.channels.imap_accounts import parse_account
from tests.support.tcpproxy import TcpProxy

from .conftest import Desk, Outage, message, wait_until


def _mids(desk: Desk) -> list[str]:
    return [r.external_id for r in desk.rows()]


def test_mail_delivered_while_idle_is_imported_promptly(desk, mailbox):
    poller = desk.start(mailbox.account())  # poll interval an hour: only IDLE can bring the mail in
    wait_until(poller.idling.is_set, what="the poller to IDLE")
    raw = message(1)
    mailbox.append(raw)
    wait_until(lambda: desk.count() == 1, what="the inbound row")
    row = desk.rows()[0]
    assert row.status == m.InboundStatus.PENDING and row.envelope["subject"] == "Question 1"
    # The row is visible as soon as it commits; it is put on the queue just after (intake's order).
    wait_until(lambda: desk.submitted == [row.id], what="the row on the queue")
    assert desk.submitted == [row.id]
    wait_until(lambda: SEEN in next(iter(mailbox.messages().values()))["flags"], what="\\Seen")
    assert poller.stats["connects"] == 1
    state = imap_state.load_state(mailbox.account().key)
    assert state.last_uid == 1 and state.uidvalidity


def test_seen_is_set_only_after_the_row_is_durable(desk, mailbox):
    for n in range(3):
        mailbox.append(message(n))
    seen_at_intake: list[set] = []

    class Watching:
        """Intake that looks at the server's flags at the moment it is asked to take the mail."""

        settings, blobs = desk.intake.settings, desk.intake.blobs

        def accept_batch(self, offers):
            seen_at_intake.extend(v["flags"] for v in mailbox.messages().values())
            results = desk.intake.accept_batch(offers)
            assert all(SEEN not in v["flags"] for v in mailbox.messages().values())  # durable, not yet marked
            return results

    poller = desk.start(mailbox.account(), intake=Watching())
    wait_until(lambda: desk.count() == 3 and poller.idling.is_set(), what="3 rows")
    assert seen_at_intake and all(SEEN not in f for f in seen_at_intake)
    assert all(SEEN in v["flags"] for v in mailbox.messages().values())


def test_after_move_moves_and_after_delete_expunges(desk, mailbox, dovecot):
    for n in range(3):
        mailbox.append(message(n))
    poller = desk.start(mailbox.account(after="move:Done/Helpline"))
    wait_until(lambda: desk.count() == 3 and poller.idling.is_set(), what="3 rows")
    assert mailbox.messages() == {}
    moved = mailbox.messages("Done/Helpline")
    assert len(moved) == 3 and all(SEEN not in v["flags"] for v in moved.values())
    desk.stop(poller)

    other = type(mailbox)(dovecot)
    for n in range(2):
        other.append(message(f"<del-{n}@example.org>"))
    poller = desk.start(other.account(after="delete"))
    wait_until(lambda: desk.count() == 5 and poller.idling.is_set(), what="2 more rows")
    assert other.messages() == {} and other.folders() == {"INBOX"}


class Crash(BaseException):
    """Stands for kill -9: nothing after it runs, the lease is not released."""


@pytest.mark.parametrize("when", ["after_durable", "after_marked", "stopped"])
@pytest.mark.parametrize("after", ["seen", "move:Done"])
def test_restart_in_the_middle_of_a_batch(desk, mailbox, when, after):
    total, batch = 9, 2
    for n in range(total):
        mailbox.append(message(n))
    calls = {"n": 0}

    class Dying:
        settings, blobs = desk.intake.settings, desk.intake.blobs

        def accept_batch(self, offers):
            results = desk.intake.accept_batch(offers)
            calls["n"] += 1
            if calls["n"] == 2 and when == "after_durable":
                raise Crash()  # rows durable, nothing marked on the server, progress not saved
            if calls["n"] == 2 and when == "stopped":
                first.stop.set()  # a clean stop: the batch finishes, the rest waits
            return results

    first = ImapPoller(mailbox.account(after=after), Dying(), batch_size=batch, stop=threading.Event())
    first.MIN_BACKOFF_S = first.backoff_s = 0.2
    if when == "after_marked":
        saves = {"n": 0}
        real_save = first._save

        def save(*a, **kw):
            saves["n"] += bool(kw.get("imported"))
            if saves["n"] == 2:
                raise Crash()  # marked on the server, progress not saved
            return real_save(*a, **kw)

        first._save = save
    if when != "stopped":
        first._release = lambda: None  # a killed daemon releases nothing: the next one waits out the lease
    thread = threading.Thread(target=lambda: _swallow(first.run), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert desk.count() == 4  # two batches durable

    second = desk.start(mailbox.account(after=after), batch_size=batch)
    wait_until(lambda: desk.count() == total and second.idling.is_set(), timeout=30, what=f"{total} rows")
    mids = _mids(desk)
    assert len(mids) == len(set(mids)) == total
    dupes = {"after_durable": 2, "after_marked": 2 if after == "seen" else 0, "stopped": 0}[when]
    assert second.stats["duplicate"] == dupes
    assert second.stats["accepted"] == total - 4
    if after == "seen":
        assert all(SEEN in v["flags"] for v in mailbox.messages().values())
    else:
        assert mailbox.messages() == {} and len(mailbox.messages("Done")) == total


def _swallow(fn):
    try:
        fn()
    except Crash:
        pass


@pytest.mark.parametrize("live", [False, True], ids=["stopped", "live"])
def test_uidvalidity_change_resyncs_without_duplicates(desk, mailbox, live):
    raws = [message(n) for n in range(3)]
    for raw in raws:
        mailbox.append(raw, folder="Support")
    account = mailbox.account("Support")
    poller = desk.start(account)
    wait_until(lambda: desk.count() == 3 and poller.idling.is_set(), what="3 rows")
    before = imap_state.load_state(account.key).uidvalidity
    if not live:
        desk.stop(poller)
    with mailbox.client() as c:  # the provider rebuilt the folder: same mail, new UIDs
        c.delete_folder("Support")
        c.create_folder("Support")
        # Years-old mail someone read long ago: not Helpline's business, not imported by a re-sync.
        c.append(
            "Support",
            message("<read-in-2019@example.org>"),
            flags=[SEEN],
            msg_time=datetime.datetime(2019, 5, 1, tzinfo=datetime.timezone.utc),
        )
        for raw in raws:
            c.append("Support", raw)
        # Read by a person after the last import but before Helpline saw it: imported.
        c.append("Support", message("<read-by-a-person@example.org>"), flags=[SEEN])
        c.append("Support", message("<new-after-reset@example.org>"))
        assert c.select_folder("Support", readonly=True)[b"UIDVALIDITY"] != before
    if not live:
        poller = desk.start(account)
    wait_until(lambda: desk.count() == 5, timeout=30, what="the new messages")
    wait_until(lambda: imap_state.load_state(account.key).uidvalidity != before, what="progress saved")
    wait_until(lambda: imap_state.load_state(account.key).last_uid == 6, what="progress saved")
    mids = _mids(desk)
    assert len(set(mids)) == len(mids) == 5
    assert {"new-after-reset@example.org", "read-by-a-person@example.org"} <= set(mids)
    assert "read-in-2019@example.org" not in mids
    assert poller.stats["duplicate"] == 3
    assert all(SEEN in v["flags"] for v in mailbox.messages("Support").values())
    mailbox.append(message("<after-resync@example.org>"), folder="Support")
    wait_until(lambda: desk.count() == 6, what="mail after the re-sync")


def test_poisoned_message_goes_to_quarantine_and_the_next_is_imported(desk, mailbox):
    poison = bytes(range(256)) * 8 + os.urandom(2000)
    mailbox.append(poison)
    mailbox.append(message("<good-after-poison@example.org>"))
    poller = desk.start(mailbox.account())
    wait_until(lambda: desk.count() == 2 and poller.idling.is_set(), what="2 rows")
    bad = next(r for r in desk.rows() if r.status == m.InboundStatus.QUARANTINED)
    good = next(r for r in desk.rows() if r.status != m.InboundStatus.QUARANTINED)
    assert bad.reason.startswith("not an email")
    stored = desk.blobs.get(bad.raw_blob_key)  # as the server keeps it (Dovecot turns NUL into 0x80)
    assert stored == next(iter(mailbox.messages("Helpline-Quarantine").values()))["raw"]
    assert good.external_id == "good-after-poison@example.org" and good.status == m.InboundStatus.PENDING
    assert desk.submitted == [good.id]
    assert len(mailbox.messages("Helpline-Quarantine")) == 1
    left = list(mailbox.messages().values())
    assert len(left) == 1 and b"good-after-poison" in left[0]["raw"] and SEEN in left[0]["flags"]
    # Nothing is fetched again: a restart finds no work.
    desk.stop(poller)
    again = desk.start(mailbox.account())
    wait_until(again.idling.is_set, what="IDLE")
    assert desk.count() == 2 and again.stats["imported"] == 0


def test_too_large_message_is_quarantined_unfetched(desk, mailbox):
    big = message("<big@example.org>", body="x" * 60_000)
    mailbox.append(big)
    mailbox.append(message("<small@example.org>"))
    poller = desk.start(mailbox.account(quarantine="Too Big"), max_message_bytes=20_000)
    wait_until(lambda: desk.count() == 2 and poller.idling.is_set(), what="2 rows")
    rows = {r.external_id: r for r in desk.rows()}
    assert rows["big@example.org"].status == m.InboundStatus.QUARANTINED
    assert rows["big@example.org"].reason.startswith("too large")
    assert rows["big@example.org"].envelope["sender"]["address"] == "alice@example.org"
    assert rows["small@example.org"].status == m.InboundStatus.PENDING
    assert [v["raw"] for v in mailbox.messages("Too Big").values()] == [big]


def test_message_whose_import_keeps_failing_is_quarantined(desk, mailbox):
    mailbox.append(message("<ok-1@example.org>"))
    mailbox.append(message("<kills-the-parser@example.org>"))
    mailbox.append(message("<ok-2@example.org>"))

    class Buggy:
        settings, blobs = desk.intake.settings, desk.intake.blobs

        def accept_batch(self, offers):
            if any(b"kills-the-parser" in o.raw for o in offers):
                raise RecursionError("maximum recursion depth exceeded")  # a parser bug on this message
            return desk.intake.accept_batch(offers)

    poller = desk.start(mailbox.account(), intake=Buggy())
    wait_until(lambda: desk.count() == 3 and poller.idling.is_set(), timeout=30, what="3 rows")
    rows = {r.external_id: r for r in desk.rows()}
    assert rows["ok-1@example.org"].status == rows["ok-2@example.org"].status == m.InboundStatus.PENDING
    bad = next(r for r in rows.values() if r.status == m.InboundStatus.QUARANTINED)
    assert "did not finish" in bad.reason and b"kills-the-parser" in desk.blobs.get(bad.raw_blob_key)
    assert len(mailbox.messages("Helpline-Quarantine")) == 1


def test_two_pollers_one_lease(desk, mailbox):
    account = mailbox.account(lease_seconds=3)
    a = desk.start(account, holder="daemon-a")
    wait_until(a.idling.is_set, what="a to IDLE")
    b = desk.start(account, holder="daemon-b")
    for n in range(5):
        mailbox.append(message(n))
    wait_until(lambda: desk.count() == 5, what="5 rows")
    assert imap_state.lease_holder(account.key) == "daemon-a"
    assert a.holding and not b.holding and b.stats["connects"] == 0
    assert a.stats["accepted"] == 5
    desk.stop(a)  # a clean stop releases the lease; b takes over
    wait_until(lambda: b.holding and b.idling.is_set(), what="b to take over")
    assert imap_state.lease_holder(account.key) == "daemon-b"
    mailbox.append(message("<after-takeover@example.org>"))
    wait_until(lambda: desk.count() == 6, what="the 6th row")
    assert b.stats["accepted"] == 1 and len(set(_mids(desk))) == 6


def test_database_down_during_import_spools_then_marks(desk, mailbox, imap_db):
    outage = Outage(imap_db)
    try:
        account = mailbox.account(lease_seconds=60)
        poller = desk.start(account)
        wait_until(poller.idling.is_set, what="IDLE")
        outage.cut()
        mailbox.append(message("<while-db-down@example.org>"))
        wait_until(lambda: len(desk.spool) == 1, what="the spool entry")
        wait_until(lambda: all(SEEN in v["flags"] for v in mailbox.messages().values()), what="\\Seen after spooling")
        assert poller.stats["spooled"] == 1
        outage.restore()
        assert desk.intake.drain_spool() == 1
        assert _mids(desk) == ["while-db-down@example.org"]
        mailbox.append(message("<after-db-back@example.org>"))
        wait_until(lambda: desk.count() == 2, what="the next row")
        wait_until(lambda: imap_state.load_state(account.key).last_uid == 2, what="progress saved")
        assert len(desk.spool) == 0 and len(set(_mids(desk))) == 2
    finally:
        outage.close()


def test_poison_while_the_database_is_down_waits_to_be_recorded(desk, mailbox, imap_db):
    outage = Outage(imap_db)
    try:
        poller = desk.start(mailbox.account(lease_seconds=120))
        wait_until(poller.idling.is_set, what="IDLE")
        outage.cut()
        mailbox.append(b"\x00\x01 not a mail \xff" * 50)
        mailbox.append(message("<behind-the-poison@example.org>"))
        wait_until(lambda: poller.stats["errors"] >= 3, timeout=30, what="a few tries")
        assert len(desk.spool) == 1  # the good one, spooled once and marked, not offered again
        first, second = mailbox.messages().values()
        assert SEEN not in first["flags"] and SEEN in second["flags"]
        assert "Helpline-Quarantine" not in mailbox.folders()  # not moved before its row is written
        outage.restore()
        wait_until(
            lambda: "Helpline-Quarantine" in mailbox.folders() and len(mailbox.messages()) == 1,
            timeout=30,
            what="the quarantine",
        )
        assert desk.intake.drain_spool() == 1
        statuses = sorted(r.status for r in desk.rows())
        assert statuses == [m.InboundStatus.PENDING, m.InboundStatus.QUARANTINED]
        wait_until(lambda: imap_state.load_state(mailbox.account().key).last_uid == 2, what="progress saved")
    finally:
        outage.close()


def test_lease_running_out_while_the_database_is_down_stops_the_poller(desk, mailbox, imap_db):
    outage = Outage(imap_db)
    try:
        poller = desk.start(mailbox.account(lease_seconds=3))
        wait_until(poller.idling.is_set, what="IDLE")
        outage.cut()
        wait_until(lambda: not poller.holding, what="the lease to run out")
        wait_until(lambda: not poller.idling.is_set(), what="the poller to leave the mailbox")
        mailbox.append(message("<while-nobody-holds-it@example.org>"))
        errors = poller.stats["errors"]
        wait_until(lambda: poller.stats["errors"] >= errors + 2, what="two more tries to take the lease")
        assert len(desk.spool) == 0 and all(SEEN not in v["flags"] for v in mailbox.messages().values())
        outage.restore()
        wait_until(lambda: desk.count() == 1, timeout=30, what="the row once the database is back")
        assert len(desk.spool) == 0 and poller.holding
    finally:
        outage.close()


def test_not_durable_is_not_marked(imap_db, mailbox, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    outage = Outage(imap_db)
    desk = Desk(outage.settings, tmp_path, spool_dir=str(blocker / "spool"))
    try:
        poller = desk.start(mailbox.account(lease_seconds=60))
        wait_until(poller.idling.is_set, what="IDLE")
        outage.cut()
        mailbox.append(message("<nowhere-to-go@example.org>"))
        wait_until(lambda: poller.stats["temp_failed"] + poller.stats["errors"] >= 2, what="failed attempts")
        assert all(SEEN not in v["flags"] for v in mailbox.messages().values())
        outage.restore()
        wait_until(lambda: desk.count() == 1, timeout=30, what="the row once the database is back")
        wait_until(lambda: all(SEEN in v["flags"] for v in mailbox.messages().values()), what="\\Seen")
    finally:
        desk.close()
        outage.close()


def test_network_trouble_reconnects_with_backoff(desk, mailbox, dovecot, caplog):
    caplog.set_level(logging.INFO, logger="helpline.ingest.imap")
    proxy = TcpProxy("127.0.0.1", dovecot.imap_port)  # the path between Helpline and the provider
    try:
        url = mailbox.url().replace(f":{dovecot.imap_port}/", f":{proxy.port}/")
        poller = desk.start(parse_account(url, lease_seconds=60))
        wait_until(poller.idling.is_set, what="IDLE")
        proxy.cut()
        wait_until(lambda: poller.stats["errors"] >= 4, timeout=30, what="a few failed reconnects")
        mailbox.append(message("<sent-during-the-cut@example.org>"))
        proxy.restore()
        wait_until(lambda: desk.count() == 1, timeout=30, what="the row after reconnecting")
    finally:
        proxy.close()
    errors = [r.getMessage() for r in caplog.records if "event=imap_error" in r.getMessage()]
    assert all(e.startswith(f"event=imap_error account={mailbox.user}@127.0.0.1/INBOX error=") for e in errors)
    waits = [float(e.rsplit("retry_in=", 1)[1].rstrip("s")) for e in errors]
    assert waits[:4] == [0.2, 0.4, 0.8, 1.6]  # doubling (capped at 2 s in these tests, 300 s by default)
    assert poller.stats["connects"] == 2 and mailbox.password not in caplog.text


def test_polling_without_idle(desk, mailbox):
    poller = desk.start(mailbox.account(poll_seconds=1), use_idle=False)
    mailbox.append(message(1))
    wait_until(lambda: desk.count() == 1, what="the row")
    assert not poller.idling.is_set()


def test_idle_is_reissued_on_the_same_connection(desk, mailbox):
    poller = desk.start(mailbox.account(idle_minutes=0.02))  # 1.2 s instead of 9 minutes
    wait_until(lambda: poller.stats["idles"] >= 3, what="IDLE re-issued")
    mailbox.append(message(1))
    wait_until(lambda: desk.count() == 1, what="the row")
    assert poller.stats["connects"] == 1 and poller.stats["errors"] == 0


def test_implicit_tls_with_oauth2_token_command(desk, mailbox, dovecot):
    token = dovecot.add_token(mailbox.user)
    url = (
        f"imaps://{mailbox.user}@127.0.0.1:{dovecot.imaps_port}/INBOX?cafile={dovecot.cafile}&oauth2_cmd=printf+{token}"
    )
    from helpline.ingest.channels.imap_accounts import parse_account

    poller = desk.start(parse_account(url))
    mailbox.append(message(1))
    wait_until(lambda: desk.count() == 1, what="the row")
    assert poller.stats["connects"] == 1


def test_bad_password_is_logged_without_secrets(desk, mailbox, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    # Dovecot slows down later logins from an address that failed: fail from an address of this test's own.
    connect, source = socket.create_connection, f"127.0.{random.randint(1, 250)}.{random.randint(2, 250)}"
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda address, timeout=None, source_address=None, **kw: connect(
            address, timeout, source_address=(source, 0), **kw
        ),
    )
    url = mailbox.url(verify="no").replace(f":{mailbox.password}@", ":wr%2Cong-s3cret@")
    from helpline.ingest.channels.imap_accounts import parse_account

    poller = desk.start(parse_account(url))
    wait_until(lambda: poller.stats["errors"] >= 2, what="two failed logins")
    desk.stop(poller)
    text = caplog.text
    assert "event=imap_error account=%s@127.0.0.1/INBOX error=ImapRefused" % mailbox.user in text
    assert "wr,ong-s3cret" not in text and "wr%2Cong-s3cret" not in text


def test_run_imap_pollers_in_the_daemon_loop(desk, mailbox):
    account = mailbox.account()

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(run_imap_pollers(desk.settings, desk.intake, stop, accounts=[account]))
        mailbox.append(message(1))
        for _ in range(400):
            if await asyncio.to_thread(desk.count) == 1:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 15)

    asyncio.run(main())
    assert desk.count() == 1
    assert imap_state.lease_holder(account.key) is None  # released on stop
