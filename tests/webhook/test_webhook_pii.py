"""Outbound webhook events with HELPLINE_PII_MASK_WEBHOOKS: what customers wrote is masked in the signed body,
by default it is not (the receiver is the shop's own system). The real sender to a local receiver."""

from __future__ import annotations

import json

from helpline.notifier.deliver import deliver_one
from helpline.notifier.senders import make_senders

from .support import SOURCES, message
from .test_outbound_webhooks import verified
from .test_webhook_tickets import HookDesk

CARD = "4539 1488 0343 6467"


def announce(backend, receiver, **over) -> dict:  # noqa: ANN003
    desk = HookDesk(backend.replace(webhook_sources=SOURCES, webhook_callbacks=f"shop={receiver.url}", **over))
    outcome = desk.hook(message(text=f"Please charge {CARD} again, order 4711."), key="m-1")
    (row_id,) = outcome.outbox_ids
    assert deliver_one(desk.settings, make_senders(desk.settings)["webhook"], row_id).sent == 1
    (req,) = receiver.requests
    assert verified(req)  # the masked body is what is signed
    return json.loads(req["body"])


def test_masked_when_opted_in(backend, receiver):
    event = announce(backend, receiver, pii_mask_webhooks=True)
    assert CARD not in json.dumps(event) and "[card ••••6467]" in event["message"]["text"]
    assert "order 4711" in event["message"]["text"]


def test_as_written_by_default(backend, receiver):
    assert CARD in announce(backend, receiver)["message"]["text"]
