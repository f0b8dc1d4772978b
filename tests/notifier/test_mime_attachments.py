"""render_bytes with attachments listed by blob key: multipart/mixed around the text (and HTML)."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import SMTP

import pytest

from helpline.notifier.templates import render_bytes

BASE = {
    "from": "support@example.com",
    "to": "ann@example.org",
    "subject": "[HL-2026-1] Re: Label",
    "message_id": "<a@example.com>",
    "text": "Your label, attached.\n",
}
BLOBS = {"sha256:aa": b"\x00\x01binary\xff" * 100, "sha256:bb": b"plain text\n"}


def parse(data: bytes):
    return message_from_bytes(data, policy=SMTP)


def test_attachments_make_multipart_mixed_with_the_right_bytes_and_names():
    payload = {
        **BASE,
        "attachments": [
            {"blob_key": "sha256:aa", "filename": 'label "1".pdf', "content_type": "application/pdf"},
            {"blob_key": "sha256:bb", "filename": "Überblick €.txt", "content_type": "text/plain\r\nX-Evil: 1"},
        ],
    }
    msg = parse(render_bytes(payload, BLOBS.__getitem__))
    assert msg.get_content_type() == "multipart/mixed" and msg["X-Evil"] is None
    assert msg.get_body(("plain",)).get_content().rstrip() == "Your label, attached."
    got = [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()]
    assert got == [
        ("label '1'.pdf", "application/pdf", BLOBS["sha256:aa"]),
        ("Überblick €.txt", "application/octet-stream", BLOBS["sha256:bb"]),
    ]


def test_html_and_attachments_nest_the_alternative_inside_the_mixed():
    payload = {
        **BASE,
        "html": "<p>Your label</p>",
        "attachments": [{"blob_key": "sha256:bb", "filename": "a.txt", "content_type": "text/plain"}],
    }
    msg = parse(render_bytes(payload, BLOBS.__getitem__))
    first = next(msg.iter_parts())
    assert first.get_content_type() == "multipart/alternative"
    assert "<p>Your label</p>" in msg.get_body(("html",)).get_content()
    assert [a.get_payload(decode=True) for a in msg.iter_attachments()] == [BLOBS["sha256:bb"]]


def test_without_attachments_the_single_part_path_is_unchanged_and_a_missing_store_is_an_error():
    plain = parse(render_bytes(BASE, BLOBS.__getitem__))
    assert plain.get_content_type() == "text/plain" and not plain.is_multipart()
    with pytest.raises(ValueError, match="no blob store"):
        render_bytes({**BASE, "attachments": [{"blob_key": "sha256:aa", "filename": "x"}]})
    with pytest.raises(KeyError):  # a blob gone from the store: the sender fails the row for good
        render_bytes({**BASE, "attachments": [{"blob_key": "sha256:cc", "filename": "x"}]}, BLOBS.__getitem__)
