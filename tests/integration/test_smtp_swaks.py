"""SMTP conformance with swaks (Debian's package), a client that is not ours,
against the real ingest daemon: PIPELINING, 8BITMIME, SMTPUTF8, dot-stuffing,
STARTTLS with a test certificate, long lines. (The terminator split at every
byte is in tests/security/test_smtp_framing.py, on raw sockets; swaks cannot
split writes.) swaks 20201014 has no option for the BODY=8BITMIME and SMTPUTF8
MAIL parameters, so those two are also sent with smtplib.
"""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import uuid

import pytest

from helpline.store import db, migrations
from helpline.store.storage import blobs
from helpline.store import models as m
from tests.conftest import make_settings
from tests.integration.test_smtp_edges import _self_signed
from tests.support.stack import Stack, wait_until


@pytest.fixture(scope="module")
def stack(tmp_path_factory, embedded_redis):
    if shutil.which("swaks") is None or subprocess.run(["perl", "-MNet::SSLeay", "-e1"]).returncode:
        pytest.fail(
            "swaks or its TLS module is missing: install the Debian packages 'swaks' and "
            "'libnet-ssleay-perl' (.ci/run does)"
        )
    tmp = tmp_path_factory.mktemp("swaks")
    cert, key = _self_signed(tmp)
    settings = make_settings(
        tmp,
        database_url=f"sqlite:///{tmp}/helpline.sqlite3",
        broker_url=embedded_redis.url + "?db=0",
        queue_name="swaks-" + uuid.uuid4().hex[:8],
        smtp_tls_cert=cert,
        smtp_tls_key=key,
    )
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    s = Stack(settings, tmp).start_ingest()
    yield s
    s.stop()
    db.database().close()


def _message(body: str, *, sender: str = "alice@example.org", subject: str = "conformance") -> tuple[bytes, str]:
    mid = f"{uuid.uuid4().hex}@example.org"
    head = (
        f"From: Alice <{sender}>\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
        "Date: Mon, 7 Dec 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + body).encode(), mid


def _swaks(stack: Stack, tmp_path, raw: bytes, *extra: str, sender: str = "alice@example.org") -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.eml"
    path.write_bytes(raw + b".\r\n")  # the closing dot: swaks then adds no line of its own
    proc = subprocess.run(
        [
            "swaks",
            "--server",
            "127.0.0.1",
            "--port",
            str(stack.smtp_port),
            "--helo",
            "client.test",
            "--from",
            sender,
            "--to",
            "support@example.com",
            "--data",
            f"@{path}",
            *extra,
        ],
        capture_output=True,
        timeout=60,
    )
    out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, out
    return out


def _stored(stack: Stack, mid: str) -> bytes:
    row = wait_until(lambda: m.Inbound.get_or_none(m.Inbound.external_id == mid), 20, what="the inbound row")
    return blobs.open_store(stack.settings.blob_backend, stack.settings.effective_blob_dir).get(row.raw_blob_key)


def test_ehlo_offers_what_we_test(stack, tmp_path):
    raw, _ = _message("hello\r\n")
    out = _swaks(stack, tmp_path, raw, "--quit-after", "EHLO")
    for ext in ("PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS", "SIZE"):
        assert f"<~  250-{ext}" in out or f"<-  250-{ext}" in out, (ext, out)
    assert "CHUNKING" not in out  # not offered, so not tested


def test_pipelining(stack, tmp_path):
    raw, mid = _message("sent with PIPELINING\r\n")
    out = _swaks(stack, tmp_path, raw, "--pipeline")
    # swaks sends MAIL, RCPT and DATA in one write only when the server offers PIPELINING
    assert "-> MAIL FROM:<alice@example.org>\n -> RCPT TO:<support@example.com>\n -> DATA" in out, out
    assert _stored(stack, mid) == raw


def test_pipelining_with_a_refused_recipient(stack, tmp_path):
    raw, mid = _message("one good recipient of two\r\n")
    out = _swaks(stack, tmp_path, raw, "--pipeline", "--to", "support@example.com,nobody@example.com")
    assert "<** 550 5.1.1" in out, out
    assert "250 2.0.0 OK: queued" in out, out
    assert _stored(stack, mid) == raw


def test_dot_stuffing(stack, tmp_path):
    body = "first\r\n.\r\n..\r\n.leading dot\r\n...three\r\nlast line.\r\n"
    raw, mid = _message(body)
    _swaks(stack, tmp_path, raw)
    assert _stored(stack, mid) == raw


def test_8bit_body_and_utf8_addresses(stack, tmp_path):
    raw, mid = _message(
        "Grüße aus Köln — 東京 ✓\r\n", sender="jürgen@bücher.example", subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?="
    )
    _swaks(stack, tmp_path, raw, sender="jürgen@bücher.example")
    stored = _stored(stack, mid)
    assert stored == raw
    row = m.Inbound.get(m.Inbound.external_id == mid)
    assert row.envelope["sender"]["address"] == "jürgen@bücher.example"
    assert "Grüße aus Köln — 東京 ✓" in row.envelope["full_text"]


def test_8bitmime_and_smtputf8_parameters(stack):
    raw, mid = _message("Grüße, 8BITMIME and SMTPUTF8\r\n", sender="jürgen@bücher.example")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30) as conn:
        conn.ehlo("client.test")
        assert conn.has_extn("8bitmime") and conn.has_extn("smtputf8")
        conn.sendmail("jürgen@bücher.example", ["support@example.com"], raw, mail_options=["BODY=8BITMIME", "SMTPUTF8"])
    assert _stored(stack, mid) == raw


def test_starttls_with_a_test_certificate(stack, tmp_path):
    raw, mid = _message("over TLS\r\n")
    out = _swaks(stack, tmp_path, raw, "--tls")
    assert "TLS started" in out, out
    assert _stored(stack, mid) == raw


def test_long_lines(stack, tmp_path):
    body = "x" * 5000 + "\r\n" + ("word " * 4000).strip() + "\r\n" + "." + "y" * 3000 + "\r\n"
    raw, mid = _message(body)
    _swaks(stack, tmp_path, raw)
    assert _stored(stack, mid) == raw
