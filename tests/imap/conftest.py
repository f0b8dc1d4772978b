"""Fixtures of the IMAP tests: a real Dovecot, a mailbox per test, intake on each backend, pollers in threads."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode

import pytest
from imapclient import IMAPClient

from helpline.ingest.channels.imap_accounts import parse_account
from helpline.ingest.channels.imap_poller import ImapPoller
from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.store import models as m
from helpline.store.storage import blobs

from tests.support.outage import Outage as _Outage
from tests.support.stack import wait_until as _wait_until

from .dovecot import Dovecot


@pytest.fixture(scope="session")
def dovecot():
    try:
        server = Dovecot().start()
    except (RuntimeError, FileNotFoundError) as exc:
        pytest.fail(f"cannot start Dovecot: {exc} (.ci/run installs dovecot-imapd)", pytrace=False)
    yield server
    server.stop()


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """The shared helper with this suite's shorter timeout and finer polling."""
    return _wait_until(predicate, timeout=timeout, interval=0.05, what=what)


def message(
    n: int | str,
    subject: str | None = None,
    body: str | None = None,
    sender: str = "alice@example.org",
    extra: str = "",
) -> bytes:
    mid = f"<imap-test-{n}-{uuid.uuid4().hex[:8]}@example.org>" if isinstance(n, int) else n
    return (
        f"From: Alice <{sender}>\r\nTo: support@example.com\r\nSubject: {subject or f'Question {n}'}\r\n"
        f"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\nMessage-ID: {mid}\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body or f'Hello, this is message {n}.'}\r\n"
    ).encode()


class Mailbox:
    """One Dovecot user: deliver by APPEND as that user, look at flags and folders."""

    def __init__(self, server: Dovecot) -> None:
        self.server = server
        self.user, self.password = server.add_user()

    def client(self) -> IMAPClient:
        c = IMAPClient("127.0.0.1", self.server.imap_port, ssl=False, timeout=15)
        c.login(self.user, self.password)
        return c

    def url(self, folder: str = "INBOX", scheme: str = "imap", **options: str) -> str:
        port = self.server.imaps_port if scheme == "imaps" else self.server.imap_port
        options.setdefault("cafile", self.server.cafile)
        return (
            f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@127.0.0.1:{port}/"
            f"{quote(folder)}?{urlencode(options)}"
        )

    def account(
        self,
        folder: str = "INBOX",
        *,
        lease_seconds: float = 5,
        idle_minutes: float = 9,
        poll_seconds: float = 3600,
        **options: str,
    ):
        return parse_account(
            self.url(folder, **options),
            lease_seconds=lease_seconds,
            idle_minutes=idle_minutes,
            poll_seconds=poll_seconds,
        )

    def append(self, raw: bytes, folder: str = "INBOX", flags: tuple = ()) -> None:
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw, flags=flags)

    def messages(self, folder: str = "INBOX") -> dict[int, dict]:
        """uid -> {flags, raw}, read without changing anything."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return {}
            c.select_folder(folder, readonly=True)
            uids = c.search(["ALL"])
            if not uids:
                return {}
            data = c.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
            return {u: {"flags": set(d[b"FLAGS"]), "raw": bytes(d[b"BODY[]"])} for u, d in data.items()}

    def folders(self) -> set[str]:
        with self.client() as c:
            return {name for _, _, name in c.list_folders()}


@pytest.fixture
def mailbox(dovecot) -> Mailbox:
    return Mailbox(dovecot)


@pytest.fixture
def imap_db(backend):
    """The backend's database, which has the IMAP tables (migration 3)."""
    return backend


class Desk:
    """Intake as the ingest daemon builds it, with a list as the queue's front door."""

    def __init__(self, settings, tmp_path: Path, spool_dir: str | None = None) -> None:
        self.settings = settings
        self.submitted: list[int] = []
        self.blobs = blobs.open_store("fs", str(tmp_path / "blobs"))
        self.spool = Spool(spool_dir or str(tmp_path / "spool"))
        self.intake = EmailIntake(settings, self.blobs, self.submitted.append, self.spool)
        self.pollers: list[tuple[ImapPoller, threading.Thread]] = []

    def start(self, account, intake: Any = None, **kw: Any) -> ImapPoller:
        poller = ImapPoller(account, intake or self.intake, **kw)
        poller.MIN_BACKOFF_S = poller.backoff_s = 0.2
        poller.MAX_BACKOFF_S = 2.0
        thread = threading.Thread(target=poller.run, name=f"poller-{len(self.pollers)}", daemon=True)
        thread.start()
        self.pollers.append((poller, thread))
        return poller

    def stop(self, poller: ImapPoller, timeout: float = 15) -> None:
        poller.stop.set()
        for p, t in self.pollers:
            if p is poller:
                t.join(timeout)
                assert not t.is_alive(), "poller did not stop"

    def thread(self, poller: ImapPoller) -> threading.Thread:
        return next(t for p, t in self.pollers if p is poller)

    def close(self) -> None:
        for p, _t in self.pollers:
            p.stop.set()
        for _p, t in self.pollers:
            t.join(15)

    @staticmethod
    def rows() -> list[m.Inbound]:
        return list(m.Inbound.select().order_by(m.Inbound.id))

    @staticmethod
    def count() -> int:
        return m.Inbound.select().count()


@pytest.fixture
def desk(imap_db, tmp_path):
    d = Desk(imap_db, tmp_path)
    yield d
    d.close()


def Outage(settings):  # noqa: N802 - kept as the name the tests use
    """The shared outage helper, with this process connected through it."""
    return _Outage(settings, connect_here=True)
