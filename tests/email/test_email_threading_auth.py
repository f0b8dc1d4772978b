"""Thread hints and Authentication-Results."""

from __future__ import annotations

import pytest
from helpline.ingest.email.auth import authentication_results
from helpline.ingest.email.headers import Headers
from helpline.ingest.email.mime import parse

HEAD = b"From: a@example.com\r\nTo: support@helpline.example\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\n"


def _auth(*values: bytes) -> dict:
    raw = b"".join(b"Authentication-Results: " + v + b"\r\n" for v in values) + HEAD + b"\r\nx\r\n"
    warnings: list[str] = []
    return authentication_results(Headers(parse(raw, warnings), warnings))


def test_auth_results_failures_and_comments():
    assert _auth(
        b"mx.helpline.example;\r\n spf=softfail (domain of x does not designate 1.2.3.4) "
        b"smtp.mailfrom=x.example;\r\n dkim=fail (bad signature) header.d=x.example;\r\n"
        b" dmarc=fail (p=REJECT) header.from=x.example"
    ) == {
        "authserv_id": "mx.helpline.example",
        "spf": "softfail",
        "dkim": "fail",
        "dmarc": "fail",
        "failed": ["spf", "dkim", "dmarc"],
    }


def test_auth_results_one_good_dkim_signature_is_enough():
    assert _auth(b"mx.example; dkim=fail header.d=a.example; dkim=pass header.d=b.example; spf=none")["dkim"] == "pass"


def test_auth_results_microsoft_without_authserv_id():
    assert _auth(
        b"spf=pass (sender IP is 40.107.20.101) smtp.mailfrom=contoso.example; dkim=none (message "
        b"not signed) header.d=none;dmarc=permerror action=none header.from=contoso.example;"
        b"compauth=pass reason=100"
    ) == {"authserv_id": "", "spf": "pass", "dkim": "none", "dmarc": "permerror", "failed": ["dmarc"]}


def test_auth_results_only_the_topmost_counts():
    assert _auth(b"mx.ours; none", b"evil.example; spf=pass; dkim=pass; dmarc=pass") == {
        "authserv_id": "mx.ours",
        "spf": "",
        "dkim": "",
        "dmarc": "",
        "failed": [],
    }


def test_no_auth_results_is_an_empty_dict(normalise):
    assert normalise("apple_mail.eml").auth == {}


@pytest.mark.parametrize(
    "subject, ref",
    [
        (b"Re: [HL-2026-000123] CSV export", "HL-2026-000123"),
        (b"AW: WG: [HL-2025-1234567] long number", "HL-2025-1234567"),
        (b"HL-2026-000123 without brackets", ""),
        (b"[HL-26-000123] short year", ""),
    ],
)
def test_ticket_ref(normalise, subject, ref):
    raw = HEAD + b"Message-ID: <t@example.com>\r\nSubject: " + subject + b"\r\n\r\nx\r\n"
    assert normalise(raw).thread.ticket_ref == ref


def test_message_ids_without_brackets_and_with_comments(normalise):
    raw = HEAD + (
        b"Message-ID: bare-id@example.com\r\nIn-Reply-To: <a@x.example> (Bob's message of Monday)\r\n"
        b"References: <r1@x.example>\r\n\t<r2@x.example> <r1@x.example>\r\n\r\nx\r\n"
    )
    thread = normalise(raw).thread
    assert thread.message_id == "bare-id@example.com"
    assert thread.in_reply_to == "a@x.example"
    assert thread.references == ["r1@x.example", "r2@x.example"]


def test_reply_token_in_cc_and_bad_thread_index(normalise):
    raw = HEAD.replace(
        b"To: support@helpline.example", b'To: bob@example.com\r\nCc: "Support" <Support+AbC.123@Helpline.Example>'
    ) + (b"Message-ID: <c@example.com>\r\nThread-Index: not base64!\r\n\r\nx\r\n")
    env = normalise(raw)
    assert env.thread.reply_token == "AbC.123"
    assert env.thread.thread_index == ""
    assert env.warnings == ["bad_thread_index"]
