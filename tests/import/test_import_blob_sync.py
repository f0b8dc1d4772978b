"""The import's blob writer makes a chunk's blobs durable before it hands the chunk back: the parent
commits the rows naming them only after that, so no committed row names a blob a crash could lose."""

from __future__ import annotations

import os

from helpline.ingest.importer import parse
from helpline.store import config
from helpline.store.storage import blobs


def _mails(n: int) -> list[tuple[str, str, bytes, str]]:
    return [
        (
            f"mail {i}",
            str(i),
            (
                f"From: Ana <ana{i}@x.example>\nTo: support@helpline.example\nSubject: Printer {i}\n"
                f"Message-ID: <m{i}@x.example>\nDate: Mon, 4 Mar 2024 09:00:00 +0000\n\nIt prints blank page {i}.\n"
            ).encode(),
            "",
        )
        for i in range(n)
    ]


def _record(monkeypatch, events: list[tuple[str, str]]) -> None:  # noqa: ANN001
    real_syncfs, real_replace, real_fsync = blobs.syncfs, os.replace, os.fsync

    def syncfs(path: os.PathLike[str]) -> bool:
        flushed = real_syncfs(path)
        if flushed:
            events.append(("syncfs", ""))
        return flushed

    monkeypatch.setattr(blobs, "syncfs", syncfs)
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", str(b))) or real_replace(a, b))
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", "")) or real_fsync(fd))


def _chunk(tmp_path, monkeypatch) -> tuple[list[tuple[str, str]], list[parse.Parsed], blobs.FileBlobStore]:  # noqa: ANN001
    settings = config.load(
        {
            "HELPLINE_DATA_DIR": str(tmp_path),
            "HELPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
            "HELPLINE_SUPPORT_ADDRESSES": "support@helpline.example",
        }
    )
    parse.init(settings, False)
    events: list[tuple[str, str]] = []
    _record(monkeypatch, events)
    done = parse.parse_chunk(_mails(3))
    events.append(("returned", ""))
    return events, done, parse._state["store"]


def test_a_chunk_is_flushed_once_after_its_files_and_again_after_their_renames(tmp_path, monkeypatch):
    events, done, store = _chunk(tmp_path, monkeypatch)
    kinds = [k for k, _ in events]
    assert kinds == ["syncfs", "replace", "replace", "replace", "syncfs", "returned"]  # no fsync per file
    renamed = {path for k, path in events if k == "replace"}
    for p in done:
        assert str(store._path(p.item.env.raw_blob_key.split(":")[1])) in renamed
        assert store.get(p.item.env.raw_blob_key).startswith(b"From: Ana")


def test_without_syncfs_each_file_is_fsynced_before_its_rename(tmp_path, monkeypatch):
    """A kernel without a syncfs that reports errors (before Linux 5.8): fsync file by file, as live intake."""
    monkeypatch.setattr(blobs, "_syncfs_available", lambda: None)
    events, done, store = _chunk(tmp_path, monkeypatch)
    kinds = [k for k, _ in events]
    first_rename = kinds.index("replace")
    assert kinds[:first_rename] == ["fsync"] * 3 and "syncfs" not in kinds
    assert kinds[first_rename : first_rename + 3] == ["replace"] * 3
    assert kinds[first_rename + 3 :] == ["fsync"] * 3 + ["returned"]  # the three fan-out directories
    assert all(store.exists(p.item.env.raw_blob_key) for p in done)
