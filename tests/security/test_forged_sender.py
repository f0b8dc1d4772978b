"""Forged senders that the MTA in front flagged (issue 12 item 3).

``From: alice@…`` with her ticket's tag (or a reply to our acknowledgement)
and a trusted ``Authentication-Results: …; dmarc=fail`` must not write into
Alice's ticket unless HELPLINE_AUTH_FAILED_POLICY says so; only the topmost
header of HELPLINE_TRUSTED_AUTHSERV_ID is believed. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import smtplib

import pytest

from helpline.ingest.cli.explain_command import FORMATTERS
from helpline.ingest.intake import SenderRefused
from helpline.notifier.slack.slack_blocks import auth_warning, customer_message
from helpline.store import models as m
from helpline.store.config import ConfigError, load
from helpline.store.inbound.sender_auth import judge
from tests.support.stack import Stack, wait_until
from tests.workers.builders import Desk, ack_message_id, events, inbound_messages, mail, quoted

MX = "mx.helpline.test"
FAIL = f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=fail (p=reject) header.from=example.org"
PASS = f"{MX}; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"


@pytest.fixture
def desk(backend) -> Desk:
    return Desk(backend.replace(trusted_authserv_id=MX))


def _forged_tag_reply(ticket, *auth_headers: str) -> bytes:
    """Mallory writes as Alice, with her ticket's tag in the subject; the MTA in front flagged it."""
    raw, _ = mail(subject=f"Re: [{ticket.number}] Order never arrived", body="Please send the refund to IBAN XX00.")
    head = "".join(f"Authentication-Results: {h}\r\n" for h in auth_headers).encode()
    return head + raw


def _forged_reply_to_ack(ticket, first, *auth_headers: str) -> bytes:
    ack = ack_message_id(ticket)
    raw, _ = mail(
        subject=f"Re: [{ticket.number}] Order never arrived",
        body=quoted("Change my address."),
        in_reply_to=ack,
        references=[first, ack],
    )
    return "".join(f"Authentication-Results: {h}\r\n" for h in auth_headers).encode() + raw


# ---- new_ticket (the default) ---------------------------------------------------------------------
def test_forged_tag_opens_a_linked_new_ticket(desk):
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, FAIL))
    assert outcome.action == "created" and outcome.ticket_id != ticket.id
    new = m.Ticket.get_by_id(outcome.ticket_id)
    assert new.possible_follow_up is True and new.follow_up_of_id == ticket.id
    assert "failed authentication" in outcome.reason
    assert len(inbound_messages(ticket)) == 1  # nothing written into Alice's ticket
    [ev] = events(new, "sender_auth_failed")
    assert ev.data["dmarc"] == "fail" and ev.data["policy"] == "new_ticket"
    assert (
        FORMATTERS["sender_auth_failed"](ev.data)
        == "sender authentication failed: dmarc=fail for example.org (policy new_ticket)"
    )  # helpline explain
    assert inbound_messages(new)[0].auth["verdict"]["failed"] is True


def test_forged_reply_to_our_acknowledgement_opens_a_linked_new_ticket(desk):
    ticket, first = desk.new_ticket()
    outcome = desk.receive(_forged_reply_to_ack(ticket, first, FAIL))
    assert outcome.action == "created" and m.Ticket.get_by_id(outcome.ticket_id).follow_up_of_id == ticket.id
    assert len(inbound_messages(ticket)) == 1


def test_spf_fail_without_a_passing_dkim_signature_counts_as_failed(desk):
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=none"))
    assert outcome.action == "created"


def test_authenticated_reply_still_threads(desk):
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, PASS))
    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    assert inbound_messages(ticket)[1].auth["verdict"] == {
        "trusted": True,
        "failed": False,
        "dmarc_failed": False,
        "vouched": True,
        "reason": "authenticated",
    }


def test_only_the_topmost_header_of_the_trusted_mta_counts(desk):
    ticket, _ = desk.new_ticket()
    # The attacker adds a passing header claiming our MTA's id below the real one: the real one wins.
    outcome = desk.receive(_forged_tag_reply(ticket, FAIL, PASS))
    assert outcome.action == "created"
    # A failing header from another server, or a passing one above ours from an unknown host, changes nothing.
    other = desk.receive(_forged_tag_reply(ticket, "relay.internal; dmarc=pass", PASS, FAIL))
    assert (other.action, other.ticket_id) == ("appended", ticket.id)


def test_an_untrusted_header_is_not_believed(backend):
    desk = Desk(backend.replace(trusted_authserv_id="mx.other.test"))
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, FAIL))
    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)  # today's behaviour: nothing vouched
    assert events(ticket, "sender_auth_failed") == []


def test_without_a_trusted_authserv_id_no_header_is_believed(backend):
    desk = Desk(backend)  # HELPLINE_TRUSTED_AUTHSERV_ID unset
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, FAIL))
    assert outcome.action == "appended"


def test_forged_sender_is_not_merged_as_a_near_duplicate(desk):
    body = "Hello,\n\nmy order 99812 never arrived and the tracking page shows nothing since Monday.\n\nAlice\n"
    ticket, _ = desk.new_ticket(body=body)
    raw, _ = mail(subject="Order never arrived", body=body.replace("Monday", "Tuesday"))
    outcome = desk.receive(f"Authentication-Results: {FAIL}\r\n".encode() + raw)
    assert outcome.ticket_id != ticket.id
    assert len(inbound_messages(ticket)) == 1


# ---- thread -----------------------------------------------------------------------------------------
def test_thread_policy_joins_with_a_warning_for_agents(desk):
    desk = desk.configured(auth_failed_policy="thread")
    ticket, _ = desk.new_ticket()
    outcome = desk.receive(_forged_tag_reply(ticket, FAIL))
    assert (outcome.action, outcome.ticket_id) == ("appended", ticket.id)
    msg = inbound_messages(ticket)[1]
    assert [e.data["policy"] for e in events(ticket, "sender_auth_failed")] == ["thread"]
    warning = auth_warning(msg.auth)
    assert "failed authentication" in warning and "dmarc=fail" in warning
    blocks = customer_message(name="Alice", address=msg.sender, channel="email", text=msg.text, warning=warning)
    assert blocks["blocks"][0]["elements"][0]["text"] == warning
    assert auth_warning(inbound_messages(ticket)[0].auth) == ""


# ---- reject -----------------------------------------------------------------------------------------
def test_reject_policy_refuses_at_data_and_quarantines_what_came_another_way(desk):
    desk = desk.configured(auth_failed_policy="reject")
    ticket, _ = desk.new_ticket()
    raw = _forged_tag_reply(ticket, FAIL)
    before = m.Inbound.select().count()
    with pytest.raises(SenderRefused, match="dmarc=fail"):
        desk.intake.accept(raw, None, ["support@example.com"], refusable=True)
    assert m.Inbound.select().count() == before  # nothing stored
    # IMAP (or the spool) cannot say no: the worker quarantines it
    outcome = desk.receive(raw)
    assert outcome.action == "quarantined" and "HELPLINE_AUTH_FAILED_POLICY=reject" in outcome.reason
    assert len(inbound_messages(ticket)) == 1 and m.Ticket.select().count() == 1
    # an authenticated mail is not refused
    assert (
        desk.intake.accept(_forged_tag_reply(ticket, PASS), None, ["support@example.com"], refusable=True).status
        == "accepted"
    )


def test_reject_policy_answers_550_over_smtp(backend, tmp_path):
    s = Stack(backend.replace(trusted_authserv_id=MX, auth_failed_policy="reject"), tmp_path).start_ingest()
    try:
        raw, _ = mail(subject="Re: [HL-2026-000001] refund")
        with smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30) as conn:
            with pytest.raises(smtplib.SMTPDataError) as err:
                conn.sendmail(
                    "alice@example.org", ["support@example.com"], f"Authentication-Results: {FAIL}\r\n".encode() + raw
                )
            assert err.value.smtp_code == 550 and b"5.7.1" in err.value.smtp_error
            conn.sendmail(
                "alice@example.org", ["support@example.com"], f"Authentication-Results: {PASS}\r\n".encode() + mail()[0]
            )
        wait_until(lambda: m.Inbound.select().count() == 1, 10)
    finally:
        s.stop()


# ---- the judgement and the setting ----------------------------------------------------------------
@pytest.mark.parametrize(
    "header,failed,vouched",
    [
        (FAIL, True, False),
        (PASS, False, True),
        (f"{MX}; spf=softfail smtp.mailfrom=example.org; dkim=none; dmarc=none", False, False),
        (f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=none", False, True),
        (f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=fail header.d=example.org", True, False),
        (f"{MX}; dmarc=fail header.from=other.example", False, False),  # about another domain than From
        (f"{MX}; spf=pass smtp.mailfrom=bounce.example.org; dkim=pass header.d=attacker.example", False, True),
        (f"{MX}; dkim=pass header.d=attacker.example; spf=pass smtp.mailfrom=attacker.example", False, False),
    ],
)
def test_judgement(header, failed, vouched):
    from helpline.ingest.email.auth import parse_one

    v = judge({"headers": [parse_one(header, domains=True)]}, MX, "alice@example.org")
    assert (v.trusted, v.failed, v.vouched) == (True, failed, vouched)


def test_opendkim_and_opendmarc_headers_of_the_trusted_mta_are_read_together():
    from helpline.ingest.email.auth import parse_one

    dmarc = parse_one(f"{MX}; dmarc=none header.from=example.org; spf=fail smtp.mailfrom=example.org", domains=True)
    dkim = parse_one(f"{MX}; dkim=pass header.d=example.org", domains=True)
    forged = parse_one(f"{MX}; dkim=pass header.d=example.org", domains=True)
    other = parse_one("relay.example; dkim=fail", domains=True)
    assert judge({"headers": [dmarc, dkim]}, MX, "alice@example.org").failed is False
    assert judge({"headers": [dmarc, dkim]}, MX, "alice@example.org").vouched is True
    # only the run right below the topmost one: a header further down may have come with the message
    assert judge({"headers": [dmarc, other, forged]}, MX, "alice@example.org").failed is True


def test_the_policy_setting_is_checked():
    with pytest.raises(ConfigError, match="HELPLINE_AUTH_FAILED_POLICY"):
        load({"HELPLINE_AUTH_FAILED_POLICY": "drop"})
