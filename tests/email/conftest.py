"""Fixtures for the email normaliser tests: an in-memory blob store and a normalise() with test defaults."""

from __future__ import annotations

import pytest
from email_testkit import RECEIVED, SUPPORT, BlobStore, raw_mail
from helpline.ingest.email import normalise_email


@pytest.fixture
def blobs() -> BlobStore:
    return BlobStore()


@pytest.fixture
def normalise(blobs):
    """normalise("file.eml") or normalise(raw_bytes), with test defaults."""

    def run(source, **kw):
        raw = raw_mail(source) if isinstance(source, str) else source
        kw.setdefault("support_addresses", SUPPORT)
        kw.setdefault("received_at", RECEIVED)
        return normalise_email(raw, put_blob=blobs.put, **kw)

    return run
