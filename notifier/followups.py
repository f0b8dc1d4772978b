"""Messages that depend on how another one fared: "sent" and "failed" follow-ups.

An agent's reply written in Slack goes out by email or SMS; the agent should
see in the Slack thread that it left (a reaction) or that it did not (a notice
with the reason). The row that carries the reply names its follow-ups in its
payload (``on_sent`` / ``on_failed``: outbox rows to write), so the delivery
loop stays channel-blind: once the outcome is recorded, the follow-ups become
outbox rows of their own (same guarantees, own retries) and are tried at once.
A failure learned later (a bounce, an SMS status callback) writes the same
``on_failed`` rows (``on_late_failure``).
"""
from __future__ import annotations

from typing import Any

from helpline.store import db
from helpline.store.config import Settings
from helpline.store.models import Outbox

from . import outbox
from .logkv import line, log

_senders: dict[int, dict[str, Any]] = {}


def _sender(settings: Settings, channel: str) -> Any:
    from .senders import make_senders

    key = id(settings)
    if key not in _senders:
        _senders.clear()  # one Settings per process in practice; never grow
        _senders[key] = make_senders(settings)
    return _senders[key].get(channel)


def after(settings: Settings, row: Outbox, outcome: str, error: str = "") -> list[int]:
    """Write and try the follow-ups of ``row`` for ``outcome`` (``sent`` or ``failed``); their ids.

    A failure here is logged and never undoes the outcome: the follow-up is a
    courtesy, the message itself was delivered (or not) either way."""
    specs = (row.payload or {}).get(f"on_{outcome}") or []
    if not specs:
        return []
    try:
        ids = db.run_tx(lambda: _enqueue(row, specs, error))
    except Exception as exc:  # the database went away between the outcome and this
        log.warning(line("followup_enqueue_failed", outbox_id=row.id, outcome=outcome, error=type(exc).__name__))
        return []
    from .deliver import deliver_one

    for oid, channel in ids:
        sender = _sender(settings, channel)
        if sender is None:
            continue
        try:
            deliver_one(settings, sender, oid)
        except Exception as exc:  # left pending; the scheduler's delivery round sends it
            log.warning(line("followup_delivery_failed", outbox_id=oid, error=type(exc).__name__))
    return [oid for oid, _ in ids]


def _enqueue(row: Outbox, specs: list[dict[str, Any]], error: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for spec in specs:
        payload = dict(spec["payload"])
        if error:
            payload["error"] = error[:300]
        new = outbox.enqueue(channel=spec["channel"], kind=spec["kind"], recipient=spec.get("recipient", ""),
                             payload=payload, unique_key=f"{spec['unique_key']}:{row.id}",
                             ticket=row.ticket_id)
        if new is not None:
            out.append((new.id, new.channel))
    return out


def on_late_failure(row: Outbox, error: str) -> list[int]:
    """A message reported sent turned out undelivered (an email's bounce, an SMS's ``undelivered`` status
    callback): write its ``on_failed`` follow-ups in the caller's transaction; the delivery round sends them.

    Their keys are those ``after`` uses, so a failure already told (at send
    time, or by an earlier report) is told once."""
    specs = (row.payload or {}).get("on_failed") or []
    return [oid for oid, _ in _enqueue(row, specs, error)] if specs else []
