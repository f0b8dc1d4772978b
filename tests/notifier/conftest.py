"""Helpers for the notifier tests: tickets to hang outbox rows on, and envelopes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from helpline.store import models
from helpline.store.envelope import AutoReply, Envelope, Sender, Thread

_numbers = itertools.count(1)


@pytest.fixture
def ticket(backend) -> models.Ticket:
    customer = models.Customer.create(name="Ann Customer")
    return models.Ticket.create(
        number=f"HL-2026-{next(_numbers):06d}",
        subject="Printer broken",
        channel="email",
        customer=customer,
        support_address="support@example.com",
    )


def make_env(**over: Any) -> Envelope:
    """A plain human email to support@example.com; ``over`` replaces fields."""
    env = Envelope(
        channel="email",
        external_id="<cust-1@customer.example>",
        received_at="2026-11-26T10:00:00Z",
        sender=Sender(address="ann@customer.example", name="Ann Customer"),
        subject="Printer broken",
        text="My printer is on fire.",
        thread=Thread(message_id="<cust-1@customer.example>", references=["<older@customer.example>"]),
    )
    for key, value in over.items():
        if key == "auto_reply":
            value = AutoReply(**value)
        elif key == "sender":
            value = Sender(**value)
        setattr(env, key, value)
    return env


@pytest.fixture
def make_envelope():
    """``make_env`` as a fixture, so test modules need not import conftest by name."""
    return make_env
