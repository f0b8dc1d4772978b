"""Forged Slack interactions against roles and the Reveal button: a message id of another ticket, ids that are
no number, a first-line agent's click on a button their role lacks. Through the real listener (signed
payloads, as Slack would deliver a tampered client's click) on both databases."""

from __future__ import annotations

from helpline.store import models as m
from helpline.store.tickets import routing_state as rs

from ..slack.conftest import AGENT2, fake_slack, inbound_count, slack_settings  # noqa: F401  (fixtures)
from ..slack.test_slack_controls import click, team  # noqa: F401  (the fixture)
from ..workers.builders import events

CARD = "4539 1488 0343 6467"


def reveal(team, ticket, value: str, user: str = AGENT2) -> dict:
    return click(team, ticket, {"type": "button", "action_id": "helpline_reveal", "value": value}, user=user)


def test_reveal_of_another_tickets_message_or_a_bad_id_reveals_nothing(team):
    rs.Agent.create(email="sam@support.example.com", name="Sam", slack_user=AGENT2, role="senior")
    secret, _ = team.customer_writes(subject="Payment", body=f"card {CARD}")
    other, _ = team.customer_writes(sender="Bob <bob@example.org>", subject="Hello", body="Just hello.")
    secret_msg = m.Message.get(m.Message.ticket == secret.id).id
    answer = reveal(team, other, str(secret_msg))  # the button of other's thread, tampered to name secret's message
    assert CARD not in answer["text"] and "not part of this ticket" in answer["text"]
    for bad in ("99999999999999999999999", "-1", "1 OR 1=1", "", "１"):
        answer = reveal(team, other, bad)
        assert CARD not in answer.get("text", "")
    assert not events(secret, "pii_revealed") and not events(other, "pii_revealed")


def test_a_tampered_action_id_needs_more_not_less(team):
    ticket, _ = team.customer_writes()
    before = inbound_count()
    answer = click(team, ticket, {"type": "button", "action_id": "helpline_ticket:frobnicate", "value": ticket.number})
    assert "senior role" in answer["text"] and inbound_count() == before
