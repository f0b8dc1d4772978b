"""The acknowledgement: threading headers, loop-safety headers, and no echo of the customer."""

import json

import pytest

from helpline.notifier.loops import reply_address
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.templates import ack_subject, build_email, render_ack

BODY_TOKEN = "MARMOT-BODY-7731 buy cheap watches at http://spam.example"
SUBJECT_TOKEN = "QUOKKA-SUBJ-4410"


def _ack_for(env, **over):
    args = dict(
        ticket_number="HL-2026-000042",
        subject=env.subject,
        customer_name=env.sender.name,
        support_address="support@example.com",
        recipient=reply_address(env),
        in_reply_to=env.thread.message_id,
        references=env.thread.references,
        message_id=make_message_id("example.com", "HL-2026-000042"),
    )
    args.update(over)
    return render_ack(**args)


def test_payload_headers_and_threading(make_envelope):
    env = make_envelope()
    payload = _ack_for(env)
    assert payload["from"] == "support@example.com"
    assert payload["to"] == "ann@customer.example"
    assert payload["subject"] == "[HL-2026-000042] Re: Printer broken"
    assert payload["in_reply_to"] == "<cust-1@customer.example>"
    assert payload["references"] == ["<older@customer.example>", "<cust-1@customer.example>"]
    assert payload["headers"] == {
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
        "X-Helpline-Ticket": "HL-2026-000042",
    }
    assert "HL-2026-000042" in payload["text"] and "reply to this email" in payload["text"]
    assert payload["text"].startswith("Hello Ann Customer,")
    json.dumps(payload)  # the outbox stores it as JSON


def test_customer_text_is_never_echoed(make_envelope):
    env = make_envelope(
        subject=f"Re: {SUBJECT_TOKEN}",
        text=BODY_TOKEN,
        full_text=f"{BODY_TOKEN}\n> quoted",
        html=f"<p>{BODY_TOKEN}</p>",
        sender={"address": "victim@customer.example", "name": "Visit http://spam.example now"},
    )
    payload = _ack_for(env)
    raw = build_email(payload).as_bytes().decode("ascii")
    assert "MARMOT" not in json.dumps(payload) and "MARMOT" not in raw
    assert "spam.example" not in json.dumps(payload) and "spam.example" not in raw
    assert SUBJECT_TOKEN not in payload["text"]
    assert payload["subject"] == f"[HL-2026-000042] Re: {SUBJECT_TOKEN}"
    assert payload["text"].startswith("Hello,\n")
    msg = build_email(payload)
    assert msg.get_content_type() == "multipart/alternative"  # text, then HTML
    for part in msg.iter_parts():
        assert SUBJECT_TOKEN not in part.get_content() and "MARMOT" not in part.get_content()


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("Printer broken", "[HL-1] Re: Printer broken"),
        ("Re: Printer broken", "[HL-1] Re: Printer broken"),
        ("RE: re: AW: Sv: Printer", "[HL-1] Re: Printer"),
        ("Re[2]: Printer", "[HL-1] Re: Printer"),
        ("Re: [HL-2026-000001] Re: Printer", "[HL-1] Re: Printer"),
        ("Fwd: Printer", "[HL-1] Re: Fwd: Printer"),
        ("", "[HL-1] Re: (no subject)"),
        ("Line\r\nBcc: victim@example.org", "[HL-1] Re: Line Bcc: victim@example.org"),
    ],
)
def test_subject_does_not_stack_re(subject, expected):
    assert ack_subject("HL-1", subject) == expected


def test_subject_is_capped():
    subject = ack_subject("HL-1", "x" * 5000)
    assert len(subject) <= len("[HL-1] Re: ") + 200


def test_references_are_trimmed_and_sanitised(make_envelope):
    refs = [f"<r{i}@customer.example>" for i in range(40)] + ["junk", "<no-at-sign>", "<a@b> <c@d>"]
    payload = _ack_for(make_envelope(), references=refs, in_reply_to="<parent@customer.example>")
    assert len(payload["references"]) == 20
    assert payload["references"][-1] == "<parent@customer.example>"
    assert all(r.startswith("<") and "@" in r for r in payload["references"])


def test_build_email(make_envelope):
    payload = _ack_for(make_envelope(), customer_name="Zoë")
    msg = build_email(payload)
    assert msg["Message-ID"] == payload["message_id"]
    assert msg["In-Reply-To"] == "<cust-1@customer.example>"
    assert msg["References"] == "<older@customer.example> <cust-1@customer.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["From"] == "support@example.com"
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()  # plain text first: clients that cannot show HTML stop there
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert text.get_content().startswith("Hello Zoë,")
    assert "<p>Hello Zoë,</p>" in html.get_content() and "HL-2026-000042" in html.get_content()
    raw = msg.as_bytes()
    assert raw.isascii() and b"\r\n" in raw  # 7-bit, CRLF: any relay takes it
