"""SMTP DATA framing: the end-of-data terminator and dot-stuffed lines split at
every byte, against the real ingest daemon over TCP (issue 12 item 2).

A pause between two sends makes the server see them as two reads (TCP_NODELAY,
and the server is idle-waiting on the socket when the second part arrives).
The stored raw message must be exactly what the client meant to send.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from helpline.ingest.channels.smtp import unstuff
from helpline.ingest.channels.smtp_data import BareLineFeed, read_data
from helpline.store import db, migrations
from helpline.store.storage import blobs
from helpline.store import models as m
from tests.conftest import make_settings
from tests.support.stack import Stack, wait_until

PAUSE = 0.03


def stuff(body: bytes) -> bytes:
    """What a client sends for ``body`` (lines ending CRLF): dot-stuffed, with the terminator."""
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in lines[:-1]) + b".\r\n"


def message(body: str) -> bytes:
    mid = f"<{uuid.uuid4().hex}@example.org>"
    head = (
        f"From: Alice <alice@example.org>\r\nTo: support@example.com\r\nSubject: framing {mid}\r\n"
        f"Message-ID: {mid}\r\nDate: Mon, 7 Dec 2026 08:00:00 +0000\r\n\r\n"
    )
    return (head + body).encode()


DOTTY = "first line\r\n.\r\n..\r\n...\r\n.leading dot\r\nends with a dot.\r\n\r\n. \r\n.\r\n\r\nlast line.\r\n"


# ---- the reader alone, every split --------------------------------------------------------------
async def _read_split(wire: bytes, cuts: list[int]) -> tuple[bytes, bytes]:
    reader = asyncio.StreamReader(limit=16)  # a tiny limit: the LimitOverrunError path runs too
    out = bytearray()

    async def feed() -> None:
        prev = 0
        for cut in cuts + [len(wire)]:
            reader.feed_data(wire[prev:cut])
            prev = cut
            await asyncio.sleep(0)
        reader.feed_data(b"QUIT\r\n")

    task = asyncio.create_task(feed())
    await read_data(reader, out.extend)
    await task
    return bytes(out), await reader.readuntil(b"\r\n")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b".\r\n",
        b"a\r\n",
        DOTTY.encode(),
        b"x\n.x\r\n",
        b"\r.\r\n",
        b"no dot\r\n" * 20 + b"." * 40 + b"\r\n",
    ],
)
def test_reader_every_single_split(body):
    wire = stuff(body)
    for cut in range(len(wire) + 1):
        got, after = asyncio.run(_read_split(wire, [cut]))
        assert unstuff(got) == body, (cut, got)
        assert after == b"QUIT\r\n"  # nothing past the terminator was consumed


@pytest.mark.parametrize("wire", [b"x\n.\r\n.\r\n", b"a\r\nb\n.\r\nc\r\n.\r\n", b"\r\r\n\n.\r\n.\r\n"])
def test_reader_refuses_a_bare_lf_before_a_lone_dot(wire):
    """The SMTP smuggling pattern: no conforming client sends it, every split gives the same answer.
    (As the very first byte of DATA a bare LF is taken as body: never a terminator either way.)"""
    for cut in range(len(wire) + 1):
        with pytest.raises(BareLineFeed):
            asyncio.run(_read_split(wire, [cut]))


def test_reader_byte_by_byte():
    body = DOTTY.encode()
    wire = stuff(body)
    got, after = asyncio.run(_read_split(wire, list(range(1, len(wire)))))
    assert unstuff(got) == body and after == b"QUIT\r\n"


# ---- the real server over TCP ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory, embedded_redis):
    tmp = tmp_path_factory.mktemp("framing")
    settings = make_settings(
        tmp,
        database_url=f"sqlite:///{tmp}/helpline.sqlite3",
        broker_url=embedded_redis.url + "?db=0",
        queue_name="framing-" + uuid.uuid4().hex[:8],
    )
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    stack = Stack(settings, tmp).start_ingest()
    yield stack
    stack.stop()
    db.database().close()


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        assert self.reply().startswith(b"220")

    def reply(self) -> bytes:
        while True:
            lines = self.buf.split(b"\r\n")
            for i, ln in enumerate(lines[:-1]):
                if ln[3:4] == b" ":
                    self.buf = b"\r\n".join(lines[i + 1 :])
                    return b"\r\n".join(lines[: i + 1])
            data = self.sock.recv(65536)
            assert data, "server closed the connection"
            self.buf += data

    def cmd(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def envelope(self) -> None:
        assert self.cmd(b"MAIL FROM:<alice@example.org>").startswith(b"250")
        assert self.cmd(b"RCPT TO:<support@example.com>").startswith(b"250")
        assert self.cmd(b"DATA").startswith(b"354")

    def close(self) -> None:
        self.sock.close()


def _stored(raw_prefix_id: str, settings) -> bytes:
    row = wait_until(lambda: m.Inbound.get_or_none(m.Inbound.external_id == raw_prefix_id), 20, what="the row")
    return blobs.open_store(settings.blob_backend, settings.effective_blob_dir).get(row.raw_blob_key)


def _mid(raw: bytes) -> str:
    return raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()


def test_terminator_and_dot_lines_split_at_every_byte_over_tcp(server):
    c = Client(server.smtp_port)
    try:
        assert c.cmd(b"EHLO t.example").startswith(b"250")
        sent = []
        template = stuff(message(DOTTY))
        # every split of the dot-stuffed tail and of the terminator
        start = template.index(b"first line")
        for cut in range(start, len(template)):
            raw = message(DOTTY)
            wire = stuff(raw)
            cut = cut - len(template) + len(wire)
            c.envelope()
            c.sock.sendall(wire[:cut])
            time.sleep(PAUSE)
            c.sock.sendall(wire[cut:])
            answer = c.reply()
            assert answer.startswith(b"250"), (cut, answer)
            sent.append(raw)
        assert c.cmd(b"QUIT").startswith(b"221")
    finally:
        c.close()
    for raw in sent:
        assert _stored(_mid(raw), server.settings) == raw


def test_one_byte_per_read_over_tcp(server):
    raw = message(DOTTY + "bare\nLF\r\n")
    c = Client(server.smtp_port)
    try:
        assert c.cmd(b"HELO t.example").startswith(b"250")
        c.envelope()
        for byte in stuff(raw):
            c.sock.sendall(bytes([byte]))
            time.sleep(0.002)
        assert c.reply().startswith(b"250")
    finally:
        c.close()
    assert _stored(_mid(raw), server.settings) == raw


def test_bare_lf_before_a_lone_dot_is_refused_and_the_connection_closed(server):
    c = Client(server.smtp_port)
    try:
        assert c.cmd(b"EHLO t.example").startswith(b"250")
        c.envelope()
        c.sock.sendall(
            message("smuggled\n.\r\nMAIL FROM:<x@example.org>\r\n").replace(b"\n.\r\nMAIL", b"\n.\r\nMAIL")
            + b"\r\n.\r\n"
        )
        assert c.reply().startswith(b"554 5.5.2")
        assert c.sock.recv(100) == b""
    finally:
        c.close()


def test_pipelined_command_after_the_terminator_is_kept(server):
    raw1, raw2 = message("one.\r\n"), message("two\r\n.\r\n")
    c = Client(server.smtp_port)
    try:
        assert c.cmd(b"EHLO t.example").startswith(b"250")
        c.envelope()
        # the end of one message and the whole next transaction in one write
        c.sock.sendall(stuff(raw1) + b"MAIL FROM:<a@example.org>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
        assert c.reply().startswith(b"250")
        assert c.reply().startswith(b"250") and c.reply().startswith(b"250") and c.reply().startswith(b"354")
        c.sock.sendall(stuff(raw2)[:-2])
        time.sleep(PAUSE)
        c.sock.sendall(b"\r\nQUIT\r\n")
        assert c.reply().startswith(b"250")
        assert c.reply().startswith(b"221")
    finally:
        c.close()
    assert _stored(_mid(raw1), server.settings) == raw1
    assert _stored(_mid(raw2), server.settings) == raw2


def test_a_clean_resend_after_a_split_is_a_duplicate(server):
    """The reported consequence: the split copy stored a trailing '.', so a clean resend looked new."""
    raw = message("please help\r\n")
    wire = stuff(raw)
    for split in (True, False):
        c = Client(server.smtp_port)
        try:
            assert c.cmd(b"EHLO t.example").startswith(b"250")
            c.envelope()
            if split:
                c.sock.sendall(wire[:-2])
                time.sleep(PAUSE)
                c.sock.sendall(wire[-2:])
            else:
                c.sock.sendall(wire)
            answer = c.reply()
        finally:
            c.close()
    assert b"already have this message" in answer
