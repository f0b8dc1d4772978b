"""A full disk (a real one: a small tmpfs filled up) answers SMTP with 452 4.3.1 and leaves no
temporary files behind in blobs/ or the spool (issue 12, fault 19)."""

from __future__ import annotations

import errno
import os
import smtplib
import subprocess
from pathlib import Path

import pytest

from helpline.ingest.spool import Spool
from helpline.store.storage.blobs import FileBlobStore
from tests.support.mail import make_mail
from tests.support.stack import Stack


@pytest.fixture
def full_disk(tmp_path):
    """A 512 KiB tmpfs with its blobs/ and spool/ made, then filled to the last byte."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    assert done.returncode == 0, f"this test mounts a small tmpfs and needs root: {done.stderr}"
    try:
        (mount / "blobs").mkdir()
        (mount / "spool").mkdir()
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.startswith(".") or ".tmp" in p.name)


def test_blob_write_on_a_full_disk_leaves_no_temporary_file(full_disk):
    store = FileBlobStore(str(full_disk / "blobs"))
    for i in range(20):
        with pytest.raises(OSError) as caught:
            with store.synced_together():
                store.put(b"x" * 100_000 + bytes([i]))
        assert caught.value.errno == errno.ENOSPC
    assert _leftovers(full_disk / "blobs") == []


def test_spool_write_on_a_full_disk_leaves_no_temporary_file(full_disk):
    spool = Spool(str(full_disk / "spool"))
    for _ in range(20):
        with pytest.raises(OSError):
            spool.put(b"y" * 100_000, {"kind": "email"})
    assert _leftovers(full_disk / "spool") == [] and len(spool) == 0


def test_smtp_answers_452_when_the_disk_is_full(backend, tmp_path, full_disk):
    settings = backend.replace(blob_dir=str(full_disk / "blobs"), spool_dir=str(full_disk / "spool"))
    s = Stack(settings, tmp_path).start_ingest()
    try:
        raw = make_mail(body="z" * 200_000)[0]
        for _ in range(3):
            with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=60) as conn:
                conn.ehlo("t.example")
                with pytest.raises(smtplib.SMTPDataError) as refused:
                    conn.sendmail("a@example.org", ["support@example.com"], raw)
            assert refused.value.smtp_code == 452, refused.value
            assert b"4.3.1" in refused.value.smtp_error
    finally:
        s.stop()
    assert _leftovers(full_disk / "blobs") == [] and _leftovers(full_disk / "spool") == []
    assert os.path.exists(full_disk / "filler")
