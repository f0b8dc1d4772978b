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

from typing import TYPE_CHECKING, Any

from helpline.store import db

from helpline.notifier import outbox
from helpline.notifier.logkv import line, log

if TYPE_CHECKING:
    from helpline.store.models import Outbox


def after(row: Outbox, outcome: str, error: str = "") -> list[tuple[int, str]]:
    """Write the follow-ups of ``row`` for ``outcome`` (``sent`` or ``failed``); their (id, channel).
    The caller (``deliver``) tries them at once.

    A failure here is logged and never undoes the outcome: the follow-up is a
    courtesy, the message itself was delivered (or not) either way."""
    if not _specs(row, outcome):
        return []
    try:
        return db.run_tx(lambda: outbox.enqueue_followups(row, _specs(row, outcome), error))
    except Exception as exc:  # the database went away between the outcome and this
        log.warning(line("followup_enqueue_failed", outbox_id=row.id, outcome=outcome, error=type(exc).__name__))
        return []


def _specs(row: Outbox, outcome: str) -> list[dict[str, Any]]:
    return list((row.payload or {}).get(f"on_{outcome}") or [])


def on_late_failure(row: Outbox, error: str) -> list[int]:
    """A message reported sent turned out undelivered (an email's bounce, an SMS's ``undelivered`` status
    callback): write its ``on_failed`` follow-ups in the caller's transaction; the delivery round sends them.

    Their keys are those ``after`` uses, so a failure already told (at send
    time, or by an earlier report) is told once."""
    return [oid for oid, _ in outbox.enqueue_followups(row, _specs(row, "failed"), error)]
