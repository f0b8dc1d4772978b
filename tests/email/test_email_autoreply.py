"""Machine-written mail: bounces, out-of-office, lists, "via" rewriting; and no false alarms."""

from __future__ import annotations

import pytest
from email_testkit import raw_mail


def test_dsn_bounce(normalise):
    env = normalise("dsn_bounce.eml")
    ar = env.auto_reply
    assert ar.bounce is True
    assert ar.reasons == ["auto_submitted", "null_sender", "mailer_daemon", "delivery_status_report"]
    assert ar.auto_submitted == "auto-replied"
    assert ar.bounced_message_ids == ["HL.1772446797.e1e1@helpline.example"]
    assert env.sender.address == "mailer-daemon@mx.helpline.example"
    assert env.text.startswith("This is the mail system at host mx.helpline.example.")


def test_dsn_with_returned_message_as_message_rfc822(normalise):
    raw = raw_mail("dsn_bounce.eml").replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822")
    assert normalise(raw).auto_reply.bounced_message_ids == ["HL.1772446797.e1e1@helpline.example"]


def test_plain_text_bounce_with_x_failed_recipients(normalise):
    raw = (
        b"Return-Path: <>\r\nFrom: Mail Delivery System <Mailer-Daemon@mx.example.net>\r\n"
        b"To: support@helpline.example\r\nSubject: Mail delivery failed: returning message to sender\r\n"
        b"X-Failed-Recipients: gone@example.net\r\nMessage-Id: <E1x@mx.example.net>\r\n"
        b"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n"
        b"This message was created automatically by mail delivery software.\r\n\r\n"
        b"------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        b"From: support@helpline.example\r\nMessage-ID: <HL.1.x@helpline.example>\r\n\r\nhello\r\n"
    )
    ar = normalise(raw).auto_reply
    assert ar.bounce is True
    assert ar.reasons == ["null_sender", "mailer_daemon", "x_failed_recipients"]
    assert ar.bounced_message_ids == ["HL.1.x@helpline.example"]


def test_exchange_out_of_office(normalise):
    env = normalise("out_of_office.eml")
    ar = env.auto_reply
    assert ar.reasons == ["auto_submitted", "x_auto_response_suppress", "out_of_office", "ooo_subject"]
    assert (ar.auto_submitted, ar.bounce) == ("auto-generated", False)
    assert env.thread.ticket_ref == "HL-2026-000321"
    assert env.thread.thread_index == "AQHajOOFc0m8Y1kZpEKi3nQw5yVb2Q=="


def test_mailing_list(normalise):
    env = normalise("mailing_list.eml")
    ar = env.auto_reply
    assert (ar.precedence, ar.list_id) == ("list", "users.lists.project.example")
    assert ar.reasons == ["precedence:list", "list"]
    assert env.text == "Release 3.2 is out, see the changelog."  # Mailman footer cut


def test_googlegroups_via_rewrite(normalise):
    env = normalise("googlegroups_via.eml")
    assert (env.sender.address, env.sender.name) == ("olga.petrova@example.ru", "Olga Petrova")
    assert env.reply_to == ["olga.petrova@example.ru"]
    assert env.recipients.to == ["support@googlegroups.com"]
    assert env.warnings == ["from_rewritten_by_list"]
    assert env.text == "The PDF export button does nothing."
    assert env.auto_reply.list_id == "support.googlegroups.com"


def test_mailman_via_rewrite_uses_reply_to(normalise):
    raw = (
        b"From: Alice Smith via Users <users@lists.project.example>\r\nReply-To: alice@example.com\r\n"
        b"List-Id: <users.lists.project.example>\r\nTo: users@lists.project.example\r\n"
        b"Subject: hi\r\nMessage-ID: <mm@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nhi\r\n"
    )
    env = normalise(raw)
    assert (env.sender.address, env.sender.name) == ("alice@example.com", "Alice Smith")
    assert "from_rewritten_by_list" in env.warnings


def test_via_in_a_name_without_a_list_is_not_rewritten(normalise):
    raw = (
        b'From: "Bob via Phone" <bob@example.com>\r\nX-Original-From: ceo@victim.example\r\n'
        b"To: support@helpline.example\r\nSubject: hi\r\nMessage-ID: <v@example.com>\r\n"
        b"Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nhi\r\n"
    )
    env = normalise(raw)
    assert env.sender.address == "bob@example.com"
    assert env.warnings == []


HEAD = (
    b"From: Someone <someone@example.com>\r\nTo: support@helpline.example\r\nSubject: Question\r\n"
    b"Message-ID: <q@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"
)


@pytest.mark.parametrize(
    "extra, reasons",
    [
        (b"Precedence: bulk\r\n", ["precedence:bulk"]),
        (b"Auto-Submitted: no\r\n", []),
        (b'Auto-Submitted: auto-replied; owner-email="someone@example.com"\r\n', ["auto_submitted", "out_of_office"]),
        (b"X-Autoreply: yes\r\n", ["x_autoreply"]),
        (b"X-Autorespond: Thank you\r\n", ["x_autorespond"]),
        (b"X-Loop: yes\r\n", ["x_loop"]),
        (b"X-Loop: support@helpline.example\r\n", ["x_loop"]),
        (b"X-Loop: procmail@customer.example\r\n", []),
        (b"X-Auto-Response-Suppress: DR, RN\r\n", []),
        (b"List-Unsubscribe: <https://news.example.com/u>\r\n", ["list_unsubscribe"]),
        (b"Return-Path: <>\r\n", ["null_sender"]),
        (b"X-Mailer: Microsoft Outlook 16.0\r\n", []),
    ],
)
def test_single_signals(normalise, extra, reasons):
    assert normalise(HEAD + extra + b"\r\nHello\r\n").auto_reply.reasons == reasons


def test_null_sender_from_smtp_envelope(normalise):
    raw = HEAD + b"\r\nHello\r\n"
    assert normalise(raw, mail_from="").auto_reply.reasons == ["null_sender"]
    assert normalise(raw, mail_from="<>").auto_reply.reasons == ["null_sender"]  # as aiosmtpd reports it
    assert normalise(raw, mail_from="someone@example.com").auto_reply.reasons == []


@pytest.mark.parametrize(
    "sender, reason",
    [
        (b"noreply@shop.example", "noreply_sender"),
        (b"no-reply-orders@shop.example", "noreply_sender"),
        (b"DoNotReply@shop.example", "noreply_sender"),
        (b"postmaster@shop.example", "mailer_daemon"),
        (b"noreen@shop.example", None),
        (b"replyteam@shop.example", None),
    ],
)
def test_sender_address_signals(normalise, sender, reason):
    raw = HEAD.replace(b"someone@example.com", sender) + b"\r\nHello\r\n"
    assert normalise(raw).auto_reply.reasons == ([reason] if reason else [])


def test_customer_asking_about_out_of_office_is_not_automatic(normalise):
    raw = HEAD.replace(b"Subject: Question", b"Subject: Out of office: how do I set it up?") + b"\r\nHi\r\n"
    assert normalise(raw).auto_reply.reasons == []
