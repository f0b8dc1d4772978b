"""The email delivery loop: claim due rows, send each on the kept connection, record the outcome.

Called by the worker/scheduler on a timer and for "send now" (``deliver_one``).
Without a relay it does nothing at all, so unsent mail waits in ``pending``
instead of burning its attempts. Once the relay itself is unreachable the rest
of the batch is not tried (each would wait for the same timeout); those rows
get the same temporary failure and back-off.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from helpline.store.config import Settings
from helpline.store.models import Outbox

from . import outbox
from .email_sender import EmailSender
from .errors import PermanentFailure, RelayUnavailable, TemporaryFailure
from .logkv import line, log

CHANNEL = "email"
_warned_unconfigured = False


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0  # temporary failure, back to pending
    failed: int = 0  # permanent failure or attempts exhausted
    skipped: str = ""  # why nothing was attempted, e.g. relay_not_configured

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _unconfigured() -> DeliveryReport:
    global _warned_unconfigured
    if not _warned_unconfigured:
        _warned_unconfigured = True
        log.warning(line("email_relay_not_configured", hint="set HELPLINE_SMTP_RELAY; mail stays pending until then"))
    return DeliveryReport(skipped="relay_not_configured")


def _deliver_rows(settings: Settings, sender: EmailSender, rows: list[Outbox], report: DeliveryReport) -> None:
    relay_down: str = ""
    for row in rows:
        if relay_down:
            _record_temporary(row, relay_down, settings, report)
            continue
        try:
            provider_id = sender.send(row.payload)
        except RelayUnavailable as exc:
            relay_down = str(exc)
            _record_temporary(row, relay_down, settings, report)
        except TemporaryFailure as exc:
            _record_temporary(row, str(exc), settings, report)
        except PermanentFailure as exc:
            outbox.mark_failed_permanent(row.id, str(exc))
            report.failed += 1
        except Exception as exc:  # a bug must not leave the row in 'sending' nor retry without bound
            log.exception(line("email_send_crashed", outbox_id=row.id, error=type(exc).__name__))
            _record_temporary(row, f"internal error while sending ({type(exc).__name__}); see the logs", settings, report)
        else:
            outbox.mark_sent(row.id, provider_id)
            report.sent += 1
            log.info(line("email_sent", outbox_id=row.id, kind=row.kind, message_id=row.message_id,
                          recipient_domain=row.recipient.rpartition("@")[2], provider_id=provider_id))


def _record_temporary(row: Outbox, error: str, settings: Settings, report: DeliveryReport) -> None:
    status = outbox.mark_failed_temporary(row.id, error, settings)
    if status == "failed":
        report.failed += 1
    else:
        report.retry += 1


def deliver_due(settings: Settings, sender: EmailSender, limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` due email rows; returns what happened to them."""
    if not sender.configured:
        return _unconfigured()
    rows = outbox.claim_due(CHANNEL, limit)
    report = DeliveryReport(claimed=len(rows))
    _deliver_rows(settings, sender, rows, report)
    if rows:
        log.info(line("email_delivery_round", **report.as_dict()))
    return report


def deliver_one(settings: Settings, sender: EmailSender, outbox_id: int) -> DeliveryReport:
    """Send one email row now if it is pending and due (e.g. right after an agent's reply)."""
    if not sender.configured:
        return _unconfigured()
    row = outbox.claim_one(outbox_id, channel=CHANNEL)
    report = DeliveryReport(claimed=1 if row else 0)
    if row is not None:
        _deliver_rows(settings, sender, [row], report)
    return report


def deliver_claimed(settings: Settings, sender: EmailSender, row: Outbox) -> DeliveryReport:
    """Send a row its creator already marked ``sending`` in its own transaction
    (``outbox.enqueue(claimed=True)``): one commit less per message. Should the
    caller die before this returns, ``recover_stuck`` resends it after the lease."""
    report = DeliveryReport(claimed=1)
    _deliver_rows(settings, sender, [row], report)
    return report
