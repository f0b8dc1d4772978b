"""A hung relay must not stop ticket creation (issue 12, fault 13): acknowledgements go out on
the send pool, never on the worker's thread; a full or stale backlog hands rows back."""

from __future__ import annotations

import socket
import threading
import time

from helpline.store import models as m
from helpline.workers import actors, send_pool

from .builders import Desk, mail


class HungRelay:
    """Accepts TCP connections and never says a word (not even the greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                if self.closed:  # accepted while closing: close it too, or its sender waits for a greeting
                    conn.close()
                    return
                self.conns.append(conn)

    def close(self) -> None:
        """Shut the listener down first: closing it alone leaves a thread blocked in accept() holding it
        open, and connections still in its backlog would then wait for their SMTP timeout."""
        with self.lock:
            self.closed = True
            for c in self.conns:
                c.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_hung_relay_does_not_hold_ticket_creation(backend):
    relay = HungRelay()
    settings = backend.replace(smtp_relay=relay.address)
    desk = Desk(settings)
    actors.configure(settings)
    try:
        ids = [desk.deliver(mail(sender=f"c{i}@example.org", subject=f"Help {i}")[0]) for i in range(4)]
        started = time.monotonic()
        for inbound_id in ids:
            actors.process_inbound.fn(inbound_id)
        elapsed = time.monotonic() - started
        assert m.Ticket.select().count() == 4
        assert elapsed < 8, f"the worker thread waited for the relay ({elapsed:.1f} s)"
        acks = list(m.Outbox.select().where(m.Outbox.kind == "ack"))
        assert len(acks) == 4 and all(a.status in ("sending", "pending") for a in acks)
    finally:
        relay.close()  # the send threads' connections fail now: rows go back to pending
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if all(a.status == "pending" for a in m.Outbox.select().where(m.Outbox.kind == "ack")):
            break
        time.sleep(0.2)
    assert {a.status for a in m.Outbox.select().where(m.Outbox.kind == "ack")} == {"pending"}


def test_full_backlog_and_stale_jobs_are_given_back():
    pool = send_pool.SendPool(threads=1, backlog=1, max_wait_s=0.3)
    gate = threading.Event()
    ran, given = [], []
    try:
        assert pool.submit(gate.wait, "blocker")
        assert pool.submit(lambda: ran.append("queued"), "queued", give_back=lambda: given.append("queued"))
        assert not pool.submit(lambda: ran.append("third"), "third")  # backlog full: the caller gives back
        time.sleep(0.5)
        gate.set()
        deadline = time.monotonic() + 5
        while not given and time.monotonic() < deadline:
            time.sleep(0.05)
        assert given == ["queued"] and ran == []  # waited past max_wait_s: handed back, not tried
        assert pool.submit(lambda: ran.append("later"), "later")
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ran == ["later"]
    finally:
        gate.set()
        pool.shutdown()
