"""An SLA email to the team lead repeats the ticket's subject: personal data in it is masked."""

from __future__ import annotations

from .conftest import berlin, configured_desk
from .test_sla_scenarios import billing_ticket, fire, notifications, start_clocks

IBAN = "DE89 3704 0044 0532 0130 00"


def test_the_leads_email_masks_the_subject(backend, tmp_path):
    desk = configured_desk(backend, tmp_path)
    ticket = billing_ticket(desk, f"Urgent: refund to {IBAN}")
    start_clocks(desk, ticket.id, berlin(2026, 3, 9, 9, 0))
    fire(desk, berlin(2026, 3, 9, 12, 0))
    mails = notifications()
    assert mails and all(IBAN not in n.payload["subject"] + n.payload["text"] for n in mails)
    assert "[IBAN DE••••3000]" in mails[0].payload["text"]  # the ticket's subject is in the body
