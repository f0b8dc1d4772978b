"""external_id and content_hash: stable across re-delivery, different for a different message."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

from email_testkit import raw_mail
from helpline.ingest.email import inspect_bytes
from helpline.store.envelope import Envelope


def _redeliver(raw: bytes) -> bytes:
    """What a second delivery changes: new trace headers, another Return-Path and Delivered-To."""
    raw = raw.replace(b"Return-Path: <", b"Return-Path: <bounces+x-")
    return (
        b"Delivered-To: other-mailbox@helpline.example\r\n"
        b"Received: from relay2.example (relay2.example [192.0.2.77]) by mx2.helpline.example;\r\n"
        b"\tTue, 3 Mar 2026 08:00:00 +0000\r\n"
    ) + raw


def test_redelivery_keeps_identity(normalise):
    raw = raw_mail("gmail_reply.eml")
    a, b = normalise(raw), normalise(_redeliver(raw))
    assert (a.external_id, a.content_hash) == (b.external_id, b.content_hash)


def test_message_id_reused_for_different_content(normalise):
    raw = raw_mail("gmail_reply.eml")
    a, b = normalise(raw), normalise(raw.replace(b"worked last week", b"worked yesterday"))
    assert a.external_id == b.external_id
    assert a.content_hash != b.content_hash


def test_attachment_bytes_are_part_of_the_content(normalise):
    raw = raw_mail("outlook_desktop.eml")
    other = raw.replace(b"JVBERi0xLjQKJSBmYWtlIGludm9pY2UKJSVFT0Y=", b"JVBERi0xLjQKJSBmYWtlIGludm9pY2UKJSVFT0YK")
    assert other != raw
    assert normalise(raw).content_hash != normalise(other).content_hash


def test_missing_message_id_hash_survives_redelivery_but_not_new_content(normalise):
    raw = raw_mail("no_message_id.eml")
    a, b = normalise(raw), normalise(_redeliver(raw))
    c = normalise(raw.replace(b"link expired", b"link is broken"))
    d = normalise(
        raw.replace(b"Subject: Password reset", b"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nSubject: Password reset")
    )
    assert a.external_id == b.external_id and a.external_id.startswith("sha256:")
    assert len({a.external_id, c.external_id, d.external_id}) == 3  # body and Date both count
    assert a.content_hash == b.content_hash


def test_received_at_is_utc_iso(normalise):
    cet = timezone(timedelta(hours=1))
    assert (
        normalise("iphone.eml", received_at=datetime(2026, 3, 2, 11, 0, tzinfo=cet)).received_at
        == "2026-03-02T10:00:00+00:00"
    )
    assert normalise("iphone.eml", received_at=datetime(2026, 3, 2, 11, 0)).received_at == "2026-03-02T11:00:00+00:00"


def test_inspect_bytes_round_trips_and_uses_sha256_keys():
    raw = raw_mail("winmail_tnef.eml")
    d = inspect_bytes(raw)
    json.dumps(d)  # JSON-serialisable as the CLI prints it
    assert d["raw_blob_key"] == ""
    for att in d["attachments"]:
        assert att["blob_key"] == "sha256:" + att["sha256"]
    assert d["attachments"][0]["sha256"] == hashlib.sha256(b"Quarterly numbers: 42\r\n").hexdigest()
    env = Envelope.from_dict(d)
    assert env.to_dict() == d
    assert (
        inspect_bytes(raw_mail("iphone.eml"), support_addresses=["support@helpline.example"])["thread"]["reply_token"]
        == "7Kq2.Xz9"
    )
