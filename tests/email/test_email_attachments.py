"""Attachments: winmail.dat unpacked, attached messages kept as .eml, names decoded and made safe."""

from __future__ import annotations

import base64
import hashlib

from email_testkit import raw_mail


def test_winmail_dat_is_unpacked(normalise, blobs):
    env = normalise("winmail_tnef.eml")
    assert [(a.filename, a.content_type, a.size) for a in env.attachments] == [
        ("report.txt", "text/plain", 23),
        ("logo.png", "image/png", 22),
    ]
    report = env.attachments[0]
    assert blobs[report.blob_key] == b"Quarterly numbers: 42\r\n"
    assert report.sha256 == hashlib.sha256(b"Quarterly numbers: 42\r\n").hexdigest()
    assert env.text == "Please find the quarterly report attached.\n\nKarl"
    assert env.warnings == []


def test_unreadable_winmail_dat_is_kept_with_a_warning(normalise, blobs):
    raw = raw_mail("winmail_tnef.eml")
    start = raw.index(b"Content-Transfer-Encoding: base64\r\n\r\n") + 37
    end = raw.index(b"\r\n--_002_", start)
    junk = base64.encodebytes(b"not a TNEF stream at all").replace(b"\n", b"\r\n")
    env = normalise(raw[:start] + junk + raw[end:])
    [dat] = env.attachments
    assert (dat.filename, dat.content_type) == ("winmail.dat", "application/ms-tnef")
    assert blobs[dat.blob_key] == b"not a TNEF stream at all"
    assert env.warnings == ["tnef_unpack_failed"]


def test_forwarded_message_is_kept_as_eml(normalise, blobs):
    env = normalise("forwarded_rfc822.eml")
    assert env.text == "Is this invoice from you? See the attached message."
    [eml] = env.attachments
    assert (eml.filename, eml.content_type, eml.inline) == (
        "Invoice #42 _ overdue_ pay now!.eml",
        "message/rfc822",
        False,
    )
    data = blobs[eml.blob_key]
    assert data.startswith(b"Return-Path: <billing@phish.example>")
    assert b"Message-ID: <phish-42@phish.example>" in data and b"Pay now at" in data
    assert env.sender.address == "lena@example.com"  # the inner From is not the sender


def test_base64_encoded_attached_message_is_decoded(normalise, blobs):
    inner = b"From: a@example.com\r\nSubject: Inner one\r\nMessage-ID: <in@example.com>\r\n\r\nhello\r\n"
    raw = (
        b"From: x@example.com\r\nMessage-ID: <out@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
        b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
        b"--BB\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
        + b"--BB--\r\n"
    )
    [eml] = normalise(raw).attachments
    assert eml.filename == "Inner one.eml"
    assert blobs[eml.blob_key] == inner


def test_filenames_are_decoded_and_stripped_of_paths(normalise):
    raw = (
        b"From: x@example.com\r\nMessage-ID: <names@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
        b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nfiles\r\n"
        b"--BB\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?B?w4RuZGVydW5nZW4ueGxzeA==?="\r\n\r\nx\r\n'
        b'--BB\r\nContent-Type: text/plain; name="../../etc/passwd"\r\n\r\nroot\r\n'
        b"--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\n%PDF\r\n"
        b"--BB\r\nContent-Type: image/png\r\nContent-ID: <image001.png@01DA6C2B.5E9F3A10>\r\n\r\npng\r\n"
        b"--BB--\r\n"
    )
    env = normalise(raw)
    assert [(a.filename, a.content_type, a.inline, a.content_id) for a in env.attachments] == [
        ("Änderungen.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False, ""),
        ("passwd", "text/plain", False, ""),
        ("attachment-3.pdf", "application/pdf", False, ""),
        ("image001.png", "image/png", True, "image001.png@01DA6C2B.5E9F3A10"),
    ]
    assert env.text == "files"


def test_report_parts_get_descriptive_names(normalise):
    env = normalise("dsn_bounce.eml")
    assert [(a.filename, a.content_type) for a in env.attachments] == [
        ("delivery-status.txt", "message/delivery-status"),
        ("returned-headers.txt", "text/rfc822-headers"),
    ]
