"""The category stage inside the pipeline: every new ticket gets a category and the reason for it."""

from __future__ import annotations

from tests.workers.builders import events, reload


def test_new_ticket_is_categorised_with_a_reason(desk):
    ticket, _ = desk.new_ticket(
        subject="Refund please", body="I want a refund for order 12345, the item arrived broken.\n"
    )
    ticket = reload(ticket)
    (event,) = events(ticket, "category_set")
    assert ticket.category == event.data["category"] == "cancellation_refund"
    assert event.data["confidence"] >= 0.5
    assert "cancellation_refund" in event.data["reason"]


def test_below_the_threshold_is_unclassified_and_goes_to_triage(desk):
    strict = desk.configured(category_threshold=1.01, triage_team="first-line")  # nothing is that sure
    ticket, _ = strict.new_ticket(subject="Refund please", body="I want a refund for order 12345.\n")
    ticket = reload(ticket)
    (event,) = events(ticket, "category_set")
    assert (ticket.category, ticket.team) == ("unclassified", "first-line")
    assert event.data["predicted"] == "cancellation_refund"
    assert "below the threshold" in event.data["reason"]
