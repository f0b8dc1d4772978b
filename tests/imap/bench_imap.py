"""Import rate of the IMAP poller: N small messages waiting in a real Dovecot mailbox.

    cd /work/main && python -m tests.imap.bench_imap --count 500 --db sqlite
    cd /work/main && python -m tests.imap.bench_imap --count 500 --db postgres

Measures from the poller's start until every message has its inbound row and is
marked on the server (after=seen by default), then prints messages per second.
Timing claims live here, not in test assertions.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg2

from helpline.ingest.channels.imap_accounts import parse_account
from helpline.ingest.channels.imap_poller import ImapPoller
from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.store import db, migrations, models as m
from helpline.store.storage import blobs
from helpline.store.config import Settings

from .dovecot import Dovecot

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--after", default="seen")
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="helpline-imap-bench-"))
    server = Dovecot().start()
    pg_name = None
    try:
        if args.db == "sqlite":
            url = f"sqlite:///{work}/helpline.sqlite3"
        else:
            pg_name = "helpline_bench_" + uuid.uuid4().hex[:8]
            admin = psycopg2.connect(PG_ADMIN)
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{pg_name}"')
            admin.close()
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name
        settings = Settings(
            data_dir=str(work), database_url=url, support_addresses=("support@example.com",), secret_key=("bench",)
        )
        db.init(url)
        migrations.upgrade()
        submitted: list[int] = []
        intake = EmailIntake(
            settings, blobs.open_store("fs", str(work / "blobs")), submitted.append, Spool(str(work / "spool"))
        )

        user, password = server.add_user()
        from imapclient import IMAPClient

        with IMAPClient("127.0.0.1", server.imap_port, ssl=False) as c:
            c.login(user, password)
            for n in range(args.count):
                c.append(
                    "INBOX",
                    (
                        f"From: Customer {n} <c{n}@example.org>\r\nTo: support@example.com\r\n"
                        f"Subject: Order {n} has not arrived\r\nDate: Tue, 03 Jan 2023 10:00:00 +0000\r\n"
                        f"Message-ID: <bench-{n}-{uuid.uuid4().hex[:6]}@example.org>\r\n"
                        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                        f"Hello, my order {n} has not arrived yet. Could you check?\r\n\r\nThanks,\r\nC{n}\r\n"
                    ).encode(),
                )
        account = parse_account(
            f"imap://{user}:{password}@127.0.0.1:{server.imap_port}/INBOX?verify=no&after={args.after}"
        )
        poller = ImapPoller(account, intake, batch_size=args.batch)
        t0 = time.perf_counter()
        thread = threading.Thread(target=poller.run, daemon=True)
        thread.start()
        while not (poller.idling.is_set() and poller.stats["imported"] >= args.count):
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        poller.stop.set()
        thread.join(15)
        rows = m.Inbound.select().count()
        assert rows == args.count, rows
        print(
            f"imap import: {args.count} messages, db={args.db}, after={args.after}, batch={args.batch}: "
            f"{elapsed:.2f}s = {args.count / elapsed:.0f} msg/s (connect, fetch, durable rows, marked on the server)"
        )
    finally:
        db.database().close()
        server.stop()
        if pg_name:
            admin = psycopg2.connect(PG_ADMIN)
            admin.autocommit = True
            cur = admin.cursor()
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (pg_name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            admin.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
