"""Hostile files given to ``helpline import``: nothing outside the source is read, nothing hangs,
nothing unreadable stops the import, and every refusal is listed."""

from __future__ import annotations

import os

from helpline.ingest.importer import run, sources
from helpline.store import models as m

MAIL = (
    "From: Ann Customer <ann@example.com>\nTo: support@example.com\nSubject: {subject}\n"
    "Date: Tue, 02 Jan 2024 10:00:00 +0000\nMessage-ID: <{mid}@example.com>\n\n{body}\n"
)


def _mail(mid: str, body: str = "My order did not arrive.", subject: str = "Order") -> bytes:
    return MAIL.format(mid=mid, body=body, subject=subject).encode()


def _box(*messages: bytes) -> bytes:
    return b"".join(b"From ann@example.com Tue Jan  2 10:00:00 2024\n" + raw + b"\n" for raw in messages)


def test_huge_line_is_skipped_without_holding_it(tmp_path):
    big = b"x" * (3 * 1024 * 1024)  # one line, no newline inside
    path = tmp_path / "big.mbox"
    path.write_bytes(_box(_mail("a1"), _mail("a2", body="")[:-1] + big + b"\n", _mail("a3")))
    got = list(sources.mbox(str(path), max_bytes=1024 * 1024))
    assert [bool(r.error) for r in got] == [False, True, False]
    assert "larger than" in got[1].error and got[1].data == b""
    assert b"a3@example.com" in got[2].data


def test_long_line_under_the_limit_is_kept(tmp_path):
    path = tmp_path / "long.mbox"
    path.write_bytes(_box(_mail("b1", body="y" * 300_000)))
    (only,) = list(sources.mbox(str(path)))
    assert not only.error and b"y" * 300_000 in only.data


def test_from_line_inside_a_body_does_not_split_the_message(tmp_path):
    body = (
        "Hello,\n\nFrom the start it failed.\n\nFrom: not a header either\n\n"
        ">From escaped in mboxrd\n\nFrom 3 to 5 pm we are closed, said the shop."
    )
    path = tmp_path / "from.mbox"
    path.write_bytes(_box(_mail("c1", body=body), _mail("c2")))
    got = list(sources.mbox(str(path)))
    assert len(got) == 2
    assert b"From the start it failed." in got[0].data and b"From 3 to 5 pm" in got[0].data
    assert b"\nFrom escaped in mboxrd" in got[0].data  # one '>' taken off, as mboxrd says


def test_binary_junk_is_listed_and_the_import_goes_on(backend, tmp_path):
    junk = bytes((i * 7919 + 13) % 256 for i in range(20000))
    path = tmp_path / "junk.mbox"
    path.write_bytes(junk + b"\n\n" + _box(_mail("d1")) + junk)
    report = run.run_import("mbox", str(path), backend, jobs=1)
    assert m.Message.select().count() == 1
    assert len(report.unreadable) >= 1 and m.Outbox.select().count() == 0
    only_junk = tmp_path / "only.mbox"
    only_junk.write_bytes(junk)
    report = run.run_import("mbox", str(only_junk), backend, jobs=1)
    assert report.read == 1 and len(report.unreadable) == 1


def test_maildir_symlinks_pointing_outside_are_not_followed(backend, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.eml").write_bytes(_mail("secret", body="the host's secret"))
    (outside / "cur").mkdir()
    (outside / "cur" / "other:2,S").write_bytes(_mail("secret2", body="another secret"))
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1:2,S").write_bytes(_mail("e1"))
    os.symlink(outside / "secret.eml", root / "cur" / "2:2,S")  # a file link
    os.symlink("/etc/passwd", root / "new" / "3")
    os.symlink(outside, root / ".Linked")  # a folder link: Maildir++ sub-folder pointing out
    report = run.run_import("maildir", str(root), backend, jobs=1)
    texts = [msg.text for msg in m.Message.select()]
    assert len(texts) == 1 and not any("secret" in t for t in texts)
    refused = {os.path.basename(w): why for w, why in report.unreadable}
    assert refused == {"2:2,S": "a symbolic link; not followed", "3": "a symbolic link; not followed"}


def test_directory_loop_ends_and_imports_each_message_once(backend, tmp_path):
    root = tmp_path / "export"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.eml").write_bytes(_mail("f1"))
    (root / "a" / "b" / "two.eml").write_bytes(_mail("f2", body="The invoice total is wrong.", subject="Other"))
    os.symlink(root, root / "a" / "b" / "loop")  # export/a/b/loop -> export
    os.symlink(root / "a", root / "a" / "b" / "up")
    report = run.run_import("eml", str(root), backend, jobs=1)
    assert report.read == 2 and not report.unreadable
    assert m.Message.select().count() == 2


def test_fifo_and_unreadable_entries_do_not_block(tmp_path):
    root = tmp_path / "export"
    root.mkdir()
    os.mkfifo(root / "pipe.eml")  # opening a FIFO for reading would wait forever without O_NONBLOCK
    (root / "ok.eml").write_bytes(_mail("g1"))
    got = {os.path.basename(r.where): r.error for r in sources.eml(str(root))}
    assert got == {"ok.eml": "", "pipe.eml": "not a regular file"}
