"""Broken and unusual MIME, missing headers, and what is not an email at all."""

from __future__ import annotations

import os

import pytest
from email_testkit import raw_mail
from helpline.ingest.email import NotAnEmail, inspect_bytes


def test_multipart_without_boundary_is_repaired(normalise, blobs):
    env = normalise("broken_mime_no_boundary.eml")
    assert env.text == "The attachment shows the error."
    [log] = env.attachments
    assert (log.filename, log.content_type) == ("error.log", "text/plain")
    assert blobs[log.blob_key].strip() == b"ERROR 42 at startup"
    assert env.warnings == ["broken_mime"]


def test_truncated_message_keeps_what_arrived(normalise, blobs):
    raw = raw_mail("outlook_desktop.eml")
    cut = raw.index(b"JVBER") + 20  # inside the attachment's base64, no closing boundaries
    env = normalise(raw[:cut])
    assert env.text.startswith("Hello,\n\nThe invoice for February")
    assert env.attachments[0].filename == "Invoice 2026-02.pdf"
    assert blobs[env.attachments[0].blob_key].startswith(b"%PDF-1.4")
    assert "broken_mime" in env.warnings


def test_missing_message_id_and_date(normalise):
    env = normalise("no_message_id.eml")
    assert env.external_id.startswith("sha256:") and len(env.external_id) == 71
    assert env.thread.message_id == ""
    assert env.text == "Please reset my password, the link expired."
    assert env.warnings == ["missing_message_id", "missing_date"]


def test_missing_from_falls_back_to_the_envelope_sender(normalise):
    env = normalise(b"To: support@helpline.example\r\nSubject: hi\r\n\r\nbody\r\n", mail_from="bob@example.com")
    assert env.sender.address == "bob@example.com"
    assert "missing_from" in env.warnings


def test_html_only_is_sanitised_and_gives_the_text(normalise, blobs):
    env = normalise("html_only.eml")
    assert env.text == (
        "Hello support,\n\nmy order #A-2002 arrived damaged. See the photo below.\n\nOrder page | click me\n\nJack"
    )
    assert env.full_text == env.text
    html = env.html
    for gone in (
        "<script",
        "alert",
        "onload",
        "onclick",
        "onmouseover",
        "<style",
        "tracker.example.net",
        "cdn.example.net",
        "javascript:",
        "style=",
    ):
        assert gone not in html, gone
    assert '<img src="cid:photo1@example.com" alt="photo">' in html
    assert '<a href="https://shop.example.com/orders/A-2002" rel="noopener noreferrer nofollow">Order page</a>' in html
    [photo] = env.attachments
    assert (photo.inline, photo.content_id, photo.content_type, photo.filename) == (
        True,
        "photo1@example.com",
        "image/jpeg",
        "attachment-1.jpg",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \r\n\r\n",
        os.urandom(4096),
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"Just some text\nwith lines\n",
        b"%PDF-1.4\n1 0 obj\n",
    ],
)
def test_not_an_email(data):
    with pytest.raises(NotAnEmail):
        inspect_bytes(data)


def test_a_couple_of_headers_and_a_body_is_an_email():
    d = inspect_bytes(b"From: a@example.com\nSubject: hello\n\nHi there\n")
    assert (d["sender"]["address"], d["subject"], d["text"]) == ("a@example.com", "hello", "Hi there")
    assert d["warnings"] == ["missing_message_id", "missing_date"]


def test_mbox_from_line_is_accepted():
    d = inspect_bytes(b"From alice@example.com Mon Mar  2 10:00:00 2026\nFrom: a@example.com\nSubject: s\n\nx\n")
    assert d["sender"]["address"] == "a@example.com"


@pytest.mark.parametrize("depth", [60, 3000])
def test_hostile_nesting_does_not_raise(normalise, depth):
    head = b"From: a@example.com\r\nMessage-ID: <deep@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
    body = b""
    for i in range(depth):
        body += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
    body += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    env = normalise(head + body)
    assert "mime_too_deep" in env.warnings
