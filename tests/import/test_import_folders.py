"""``helpline import maildir`` and ``helpline import eml``: the same pipeline over folders of files."""

from __future__ import annotations

import os

from helpline.ingest.importer import run
from helpline.store import models as m

from . import make_mbox
from .helpers import counts


def _messages(n: int, tmp_path) -> list[bytes]:  # noqa: ANN001
    """Messages of the generator (threads included), split out of an mbox it wrote."""
    from helpline.ingest.importer import sources

    box = tmp_path / "src.mbox"
    make_mbox.generate(str(box), n, seed=21, duplicates=0, broken=0)
    return [r.data for r in sources.mbox(str(box))]


def test_maildir_with_subfolders(backend, tmp_path):
    msgs = _messages(60, tmp_path)
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp", ".Archive/cur", ".Archive/new"):
        (root / sub).mkdir(parents=True)
    for i, raw in enumerate(msgs):
        folder = ("cur", "new", ".Archive/cur")[i % 3]
        (root / folder / f"{1700000000 + i}.M{i}P1.host:2,S").write_bytes(raw)
    (root / "tmp" / "1.half-delivered").write_bytes(b"From: x@example.com\n\nhalf")  # tmp/ is not delivered mail
    (root / "cur" / "broken:2,S").write_bytes(b"\x00\xff\xfe garbage")
    report = run.run_import("maildir", str(root), backend, jobs=2)
    got = counts()
    assert got["messages"] == len(msgs) and got["outbox"] == 0
    assert report.read == len(msgs) + 1 and len(report.unreadable) == 1
    assert report.unreadable[0][0].endswith("broken:2,S")
    assert 0 < got["tickets"] < len(msgs)  # replies joined their conversations
    assert {t.status for t in m.Ticket.select()} == {"resolved"}
    again = run.run_import("maildir", str(root), backend, jobs=2)  # finished: the checkpoint skips it all
    assert again.read == 0 and counts() == got


def test_eml_folder_recursive_and_resumable(backend, tmp_path):
    msgs = _messages(40, tmp_path)
    root = tmp_path / "export"
    for i, raw in enumerate(msgs):
        d = root / f"{2020 + i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:04d}.eml").write_bytes(raw)
    (root / "notes.txt").write_text("not mail, not .eml: ignored")
    first = run.run_import("eml", str(root), backend, jobs=2)
    got = counts()
    assert first.read == len(msgs) and got["messages"] == len(msgs) and got["outbox"] == 0
    again = run.run_import("eml", str(root), backend, jobs=2, restart=True)  # read all again: nothing doubled
    assert again.actions == {"already_imported": len(msgs)}
    assert counts() == got
    assert os.path.exists(run.checkpoint_path(backend, "eml", str(root)))
    from helpline.store.db import run_tx
    from helpline.workers.jobs import reports

    assert run_tx(lambda: reports.load_rows(backend), durable=False) == []  # not this desk's response times
