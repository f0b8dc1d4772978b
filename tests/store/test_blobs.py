"""The content-addressed blob store, both backends, on both databases."""

from __future__ import annotations

import hashlib

import pytest

from helpline.store.storage import blobs
from helpline.store.db import run_tx


@pytest.mark.parametrize("backend_kind", ["fs", "db"])
def test_put_get_is_content_addressed_and_idempotent(backend, tmp_path, backend_kind):
    store = blobs.open_store(backend_kind, str(tmp_path / "blobs"))
    data = b"%PDF-1.7 not really a pdf\x00\xff" * 100
    key = run_tx(lambda: store.put(data))
    assert key == "sha256:" + hashlib.sha256(data).hexdigest()
    assert run_tx(lambda: store.put(data)) == key  # stored once
    assert store.get(key) == data
    assert store.exists(key)
    with pytest.raises(blobs.BlobNotFound):
        store.get("sha256:" + "0" * 64)
    with pytest.raises(blobs.BlobNotFound):
        store.get("../../etc/passwd")


def test_fan_out_directory_removed_behind_the_store_is_made_again(tmp_path):
    import shutil

    from helpline.store.storage.blobs import FileBlobStore

    store = FileBlobStore(str(tmp_path / "blobs"))
    key = store.put(b"first")
    shutil.rmtree(tmp_path / "blobs")  # an operator cleaning up, a restore
    (tmp_path / "blobs").mkdir()
    assert store.get(store.put(b"first")) == b"first" and store.put(b"first") == key


def test_blobs_synced_together_appear_only_when_the_block_ends(tmp_path):
    """Inside the block a blob is written under a temporary name: its content address holds only a
    complete, fsync'd file, so a later put of the same bytes can trust that it is there."""
    store = blobs.FileBlobStore(str(tmp_path / "blobs"))
    with store.synced_together():
        a = store.put(b"raw message one")
        b = store.put(b"an attachment")
        assert store.put(b"raw message one") == a  # the same bytes twice in a batch: one file
        assert not store.exists(a) and not store.exists(b)
        assert len(list((tmp_path / "blobs").rglob(".tmp-*"))) == 2
    assert store.get(a) == b"raw message one" and store.get(b) == b"an attachment"
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))


def test_a_failed_block_leaves_no_blob_and_no_temporary_file(tmp_path):
    store = blobs.FileBlobStore(str(tmp_path / "blobs"))
    with pytest.raises(RuntimeError):
        with store.synced_together():
            key = store.put(b"half a batch")
            raise RuntimeError("the parser of the next message crashed the batch")
    assert not store.exists(key)
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))
    assert store.get(store.put(b"half a batch")) == b"half a batch"  # outside a block: durable at once


def test_blobs_that_cannot_be_made_durable_raise_and_are_not_renamed(tmp_path):
    import os

    store = blobs.FileBlobStore(str(tmp_path / "blobs"))
    with pytest.raises(OSError):
        with store.synced_together():
            key = store.put(b"lost disk")
            for tmp in (tmp_path / "blobs").rglob(".tmp-*"):
                os.unlink(tmp)  # the file vanished before its fsync: the block must not pretend
    assert not store.exists(key)
