"""Acknowledgement backscatter (issue 12 item 7).

A forged From (or a Reply-To naming an outsider) must not make us mail the
attacker's subject line to someone else, and a From domain that failed DMARC
gets no acknowledgement at all. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from helpline.store import models as m
from tests.workers.builders import Desk, ack_of, events, mail

MX = "mx.helpline.test"
PASS = f"{MX}; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
FAIL = f"{MX}; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=fail header.from=example.org"
SPAM_SUBJECT = "Cheap pills at http://spam.example/buy"


@pytest.fixture
def desk(backend) -> Desk:
    return Desk(backend.replace(trusted_authserv_id=MX))


def _receive(desk: Desk, *auth: str, headers: dict | None = None):
    raw, _ = mail(subject=SPAM_SUBJECT, headers=headers)
    outcome = desk.receive("".join(f"Authentication-Results: {h}\r\n" for h in auth).encode() + raw)
    assert outcome.action == "created"
    return m.Ticket.get_by_id(outcome.ticket_id)


def _shown(ack: m.Outbox) -> str:
    return ack.payload["subject"] + "\n" + ack.payload["text"]


def test_unauthenticated_sender_gets_no_echo(desk):
    ticket = _receive(desk)  # no Authentication-Results at all
    ack = ack_of(ticket)
    assert ack.payload["subject"] == f"[{ticket.number}] We have received your message"
    assert "spam.example" not in _shown(ack) and "Alice" not in _shown(ack)


def test_authenticated_sender_gets_their_subject_back(desk):
    ticket = _receive(desk, PASS)
    ack = ack_of(ticket)
    assert ack.recipient == "alice@example.org"
    assert SPAM_SUBJECT in ack.payload["subject"] and "Hello Alice" in ack.payload["text"]


def test_reply_to_an_outsider_gets_no_echo_even_when_from_is_authenticated(desk):
    ticket = _receive(desk, PASS, headers={"Reply-To": "victim@elsewhere.example"})
    ack = ack_of(ticket)
    assert ack.recipient == "victim@elsewhere.example"
    assert "spam.example" not in _shown(ack) and "Alice" not in _shown(ack)


def test_reply_to_in_the_authenticated_domain_may_echo(desk):
    ticket = _receive(desk, PASS, headers={"Reply-To": "alice.desk@example.org"})
    assert SPAM_SUBJECT in ack_of(ticket).payload["subject"]


def test_dmarc_failure_gets_no_acknowledgement(desk):
    ticket = _receive(desk, FAIL)
    assert m.Outbox.select().where((m.Outbox.ticket == ticket) & (m.Outbox.kind == "ack")).count() == 0
    [ev] = events(ticket, "ack_suppressed")
    assert ev.data["reason"].startswith("sender_auth_failed")


def test_dmarc_failure_in_the_topmost_header_stops_the_ack_even_without_a_trusted_id(backend):
    desk = Desk(backend)  # HELPLINE_TRUSTED_AUTHSERV_ID unset: nothing vouches, but a failure still stops mail
    ticket = _receive(desk, FAIL)
    assert m.Outbox.select().where(m.Outbox.kind == "ack").count() == 0
    assert events(ticket, "ack_suppressed")


def test_a_passing_header_of_an_untrusted_host_does_not_unlock_the_echo(backend):
    desk = Desk(backend)
    ticket = _receive(desk, PASS)  # nobody told us to believe mx.helpline.test
    assert "spam.example" not in _shown(ack_of(ticket))
