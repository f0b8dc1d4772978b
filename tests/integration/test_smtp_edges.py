"""SMTP edges: STARTTLS, and big messages streamed to disk with bounded memory."""

from __future__ import annotations

import smtplib
import ssl
import subprocess
import threading

import psutil

from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_starttls_when_a_certificate_is_configured(backend, tmp_path):
    cert, key = _self_signed(tmp_path)
    s = Stack(backend.replace(smtp_tls_cert=cert, smtp_tls_key=key), tmp_path).start_ingest()
    try:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as conn:
            conn.ehlo("t.example")
            assert conn.has_extn("starttls")
            conn.starttls(context=ctx)
            conn.ehlo("t.example")
            conn.sendmail("a@example.org", ["support@example.com"], make_mail()[0])
        assert m.Inbound.select().count() == 1
    finally:
        s.stop()


def _big_mail(i: int, size: int) -> bytes:
    head, _ = make_mail(sender=f"big{i}@example.org", body=f"big message {i}")
    boundary = f"b{i}"
    chunk = ("QUJD" * 19 + "\r\n").encode()  # base64 lines of 76 characters
    lines = chunk * (size // len(chunk))
    header_end = head.index(b"\r\n\r\n")
    headers = head[:header_end].replace(
        b"Content-Type: text/plain; charset=utf-8", f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode()
    )
    return (
        headers
        + f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--{boundary}\r\n"
        f'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="dump{i}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode()
        + lines
        + f"--{boundary}--\r\n".encode()
    )


def test_five_simultaneous_20mb_messages_keep_memory_bounded(backend, tmp_path):
    s = Stack(backend, tmp_path).start_ingest()
    try:
        proc = psutil.Process(s.procs["ingest"].pid)
        baseline = proc.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                done.wait(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        mails = [_big_mail(i, 20 * 1024 * 1024) for i in range(5)]
        codes: list[int] = []

        def send(raw: bytes) -> None:
            with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=300) as conn:
                codes.append(conn.sendmail("big@example.org", ["support@example.com"], raw) and 0 or 250)

        threads = [threading.Thread(target=send, args=(raw,)) for raw in mails]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()
        sampler.join()
        assert codes == [250] * 5
        wait_until(lambda: m.Inbound.select().count() == 5, 60)
        growth_mb = (peak[0] - baseline) / 2**20
        # Five messages are 100 MB on the wire; they are streamed to disk and parsed one at a time.
        assert growth_mb < 300, f"ingest grew by {growth_mb:.0f} MB"
        print(f"ingest RSS grew by {growth_mb:.0f} MB for 5 x 20 MB at once")
    finally:
        s.stop()
