"""Adversarial inputs of the data lifecycle: backups altered, cut short, opened with the wrong passphrase
or crafted to write outside the data directory; erasure and export of what does not exist; attachment
names that try to leave their folder in an export."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from helpline.store import models as m
from helpline.store.lifecycle import backup
from helpline.store.lifecycle.backup_crypto import MAGIC, BackupError, SealedWriter

from ..conftest import make_settings
from ..lifecycle.helpers import rich_mail, run_cli
from ..workers.builders import Desk, mail

PASSPHRASE = "a long and private passphrase"


@pytest.fixture
def made(backend, tmp_path, monkeypatch):
    """A real backup of a desk with one ticket, and an empty SQLite target to restore into."""
    src = backend.replace(backup_passphrase=PASSPHRASE)
    Desk(src).receive(rich_mail("Alice <alice@example.org>", "hello", "<p>hello</p>", [("a.pdf", b"%PDF" * 300)]))
    out = tmp_path / "b.hlbak"
    assert run_cli(monkeypatch, src, "backup", "--out", str(out)) == 0
    target = make_settings(
        tmp_path / "target",
        database_url=f"sqlite:///{tmp_path}/target/db.sqlite3",
        secret_key=(),
        backup_passphrase=PASSPHRASE,
    )
    return out, target


def _nothing_restored(target) -> None:  # noqa: ANN001
    assert not os.path.exists(f"{target.data_dir}/db.sqlite3") or os.path.getsize(f"{target.data_dir}/db.sqlite3") == 0
    blobs = Path(target.effective_blob_dir)
    assert not blobs.exists() or not any(blobs.iterdir())


def _restore(monkeypatch, target, path, capsys) -> tuple[int, str]:  # noqa: ANN001
    code = run_cli(monkeypatch, target, "restore", str(path))
    return code, capsys.readouterr().err


def test_a_changed_byte_anywhere_is_refused_and_nothing_is_written(made, monkeypatch, capsys):
    out, target = made
    data = bytearray(out.read_bytes())
    for where in (len(MAGIC) + 10, len(data) // 2, len(data) - 3):  # header, a middle frame, the last frame
        bad = bytearray(data)
        bad[where] ^= 0x40
        out.write_bytes(bytes(bad))
        code, err = _restore(monkeypatch, target, out, capsys)
        assert code == 1 and ("altered" in err or "damaged" in err or "cannot be opened" in err), err
        _nothing_restored(target)
        assert run_cli(monkeypatch, target, "backup", "verify", str(out)) == 1


def test_a_truncated_backup_is_refused(made, monkeypatch, capsys):
    out, target = made
    data = out.read_bytes()
    for keep in (len(data) - 1, len(data) - 100, len(data) // 2, 20, 3):
        out.write_bytes(data[:keep])
        code, err = _restore(monkeypatch, target, out, capsys)
        assert code == 1 and ("cut short" in err or "not a Helpline backup" in err or "damaged" in err), err
        _nothing_restored(target)


def test_wrong_or_missing_passphrase_is_refused(made, monkeypatch, capsys):
    out, target = made
    code, err = _restore(monkeypatch, target.replace(backup_passphrase="guess"), out, capsys)
    assert code == 1 and "wrong passphrase" in err
    code, err = _restore(monkeypatch, target.replace(backup_passphrase=""), out, capsys)
    assert code == 1 and "HELPLINE_BACKUP_PASSPHRASE" in err
    _nothing_restored(target)


def _sealed(path: Path, members: list[tuple[str, bytes, bytes]]) -> None:
    """A backup sealed with the right passphrase whose archive holds ``members`` (name, type, data)."""
    with open(path, "wb") as raw:
        w = SealedWriter(raw, PASSPHRASE, (), {"created_at": "2026-01-01T00:00:00Z"})
        with tarfile.open(fileobj=w, mode="w|") as tar:
            for name, kind, data in members:
                info = tarfile.TarInfo(name)
                info.type = kind
                if kind == tarfile.SYMTYPE:
                    info.linkname = "/etc/passwd"
                else:
                    info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        w.close()


MANIFEST = json.dumps({"format": "helpline-backup/1", "engine": "sqlite", "created_at": "x", "blobs": 0}).encode()


@pytest.mark.parametrize(
    "name,kind",
    [
        ("../../escaped.txt", tarfile.REGTYPE),
        ("/tmp/helpline-escaped.txt", tarfile.REGTYPE),
        ("blobs/../../escaped.txt", tarfile.REGTYPE),
        ("blobs/" + "a" * 64, tarfile.SYMTYPE),
        ("db/helpline.sqlite3", tarfile.LNKTYPE),
        ("keys/../../../escaped", tarfile.REGTYPE),
    ],
)
def test_archive_members_cannot_write_outside_the_data_directory(tmp_path, monkeypatch, capsys, name, kind):
    target = make_settings(
        tmp_path / "target",
        database_url=f"sqlite:///{tmp_path}/target/db.sqlite3",
        secret_key=(),
        backup_passphrase=PASSPHRASE,
    )
    path = tmp_path / "evil.hlbak"
    _sealed(path, [("manifest.json", tarfile.REGTYPE, MANIFEST), (name, kind, b"owned")])
    code, err = _restore(monkeypatch, target, path, capsys)
    assert code == 1 and "refused" in err, err
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/helpline-escaped.txt").exists()
    assert not list(tmp_path.rglob("escaped*"))
    _nothing_restored(target)


def test_a_blob_whose_bytes_do_not_match_its_name_is_refused(tmp_path):
    path = tmp_path / "swap.hlbak"
    _sealed(path, [("manifest.json", tarfile.REGTYPE, MANIFEST), ("blobs/" + "0" * 64, tarfile.REGTYPE, b"other")])
    with pytest.raises(BackupError, match="content address"):
        backup.verify(str(path), passphrase=PASSPHRASE, secret_keys=())


def test_a_header_asking_for_a_huge_key_derivation_is_refused_at_once(made, tmp_path):
    out, _ = made
    data = out.read_bytes()
    size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    header = json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + size])
    header["n"] = 1 << 30
    raw = json.dumps(header, sort_keys=True).encode()
    evil = tmp_path / "dos.hlbak"
    evil.write_bytes(MAGIC + len(raw).to_bytes(4, "big") + raw + data[len(MAGIC) + 4 + size :])
    started = time.monotonic()
    with pytest.raises(BackupError, match="out of range"):
        backup.verify(str(evil), passphrase=PASSPHRASE, secret_keys=())
    assert time.monotonic() - started < 5


def test_restore_refuses_a_data_directory_in_use(backend, made, monkeypatch, capsys):
    out, _ = made
    code, err = _restore(monkeypatch, backend.replace(backup_passphrase=PASSPHRASE), out, capsys)
    assert code == 1 and "not empty" in err


def test_erase_and_export_of_unknown_customers(backend, tmp_path, monkeypatch, capsys):
    Desk(backend).receive(mail()[0])
    for ref in ("999999", "nobody@example.org", "../../etc/passwd", "' OR 1=1 --", "%"):
        assert run_cli(monkeypatch, backend, "customers", "erase", ref, "--yes") == 1, ref
        assert run_cli(monkeypatch, backend, "customers", "export", ref, "--out", str(tmp_path / "x.zip")) == 1
        assert "no customer" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
    assert m.Identity.select().count() == 1 and not m.Event.select().where(m.Event.kind == "customer_erased").exists()


def test_erase_without_yes_on_a_pipe_does_nothing(backend, monkeypatch, capsys):
    Desk(backend).receive(mail()[0])
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert run_cli(monkeypatch, backend, "customers", "erase", "alice@example.org") == 1
    assert "refusing without --yes" in capsys.readouterr().err
    assert m.Identity.select().count() == 1


def test_attachment_names_cannot_leave_their_folder_in_an_export(backend, tmp_path, monkeypatch):
    names = ["../../../etc/passwd", "/abs/path.txt", "..\\..\\win.ini", "a\x00b.pdf", "...", ""]
    Desk(backend).receive(
        rich_mail(
            "Alice <alice@example.org>",
            "files",
            "<p>files</p>",
            [(n or "x", b"data %d" % i) for i, n in enumerate(names)],
        )
    )
    out = tmp_path / "e.zip"
    assert run_cli(monkeypatch, backend, "customers", "export", "alice@example.org", "--out", str(out)) == 0
    with zipfile.ZipFile(out) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            assert ".." not in parts and not info.filename.startswith("/") and "\\" not in info.filename
            assert parts[0] in ("README.txt", "customer.json", "tickets")
