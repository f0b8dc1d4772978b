"""The delivery loop of every channel: claim due rows, send each through the
channel's sender, record the outcome.

Called by the worker/scheduler on a timer and for "send now" (``deliver_one``).
A channel without a configured provider does nothing at all, so its rows wait in
``pending`` instead of burning their attempts. Once the provider itself is
unreachable the rest of the batch is not tried (each would wait for the same
timeout); those rows get the same temporary failure and back-off.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Mapping

from helpline.store.config import Settings

from helpline.notifier import followups, outbox
from helpline.notifier.claim_journal import ClaimJournal
from helpline.notifier.errors import OutcomeUnknown, PermanentFailure, RateLimited, RelayUnavailable, TemporaryFailure
from helpline.notifier.logkv import line, log
from helpline.notifier.senders import Sender, make_senders

if TYPE_CHECKING:
    from helpline.store.models import Outbox

_warned_unconfigured: set[str] = set()


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0  # temporary failure, back to pending
    failed: int = 0  # permanent failure or attempts exhausted
    unknown: int = 0  # handed over, no answer: not resent, shown to agents
    skipped: str = ""  # why nothing was attempted, e.g. relay_not_configured

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def _unconfigured(sender: Sender) -> DeliveryReport:
    if sender.channel not in _warned_unconfigured:
        _warned_unconfigured.add(sender.channel)
        log.warning(
            line(
                f"{sender.channel}_provider_not_configured",
                hint=f"{sender.unconfigured_hint}; {sender.channel} messages stay pending until then",
            )
        )
    return DeliveryReport(skipped="relay_not_configured" if sender.channel == "email" else "provider_not_configured")


# Each send is marked as it completes: a small commit is cheap next to a
# provider round trip, and a crash between a send and its mark then resends
# (after the lease, with the same Message-ID) that one message at most.
SENT_MARKS_PER_COMMIT = 1
# Rows one delivery round claims: what a killed sender leaves in 'sending'.
ROUND_SIZE = 16


class _FollowupSenders:
    """Where a round's follow-ups go: the caller's senders (a worker's, one per process), else senders
    made for this round when its first follow-up needs one."""

    def __init__(self, settings: Settings, senders: Mapping[str, Sender] | None) -> None:
        self.settings = settings
        self._senders = senders

    def get(self, channel: str) -> Sender | None:
        if self._senders is None:
            self._senders = make_senders(self.settings)
        return self._senders.get(channel)


def _deliver_rows(
    settings: Settings,
    sender: Sender,
    rows: list[Outbox],
    report: DeliveryReport,
    senders: _FollowupSenders,
    journal: ClaimJournal | None = None,
) -> None:
    relay_down: str = ""
    sent: list[tuple[Outbox, str]] = []
    for row in rows:
        if relay_down:
            _record_temporary(row, relay_down, settings, report, senders)
            continue
        if journal is not None:
            journal.started(row.id)
        try:
            provider_id = sender.send(row.payload)
        except RelayUnavailable as exc:
            relay_down = str(exc)
            _record_temporary(row, relay_down, settings, report, senders)
        except OutcomeUnknown as exc:
            outbox.mark_unknown(row.id, str(exc))
            report.unknown += 1
            # The relay is too slow to answer: the rest of the batch would wait just as long.
            relay_down = f"the provider did not answer in time for an earlier message ({exc}); will retry"
        except TemporaryFailure as exc:
            _record_temporary(
                row,
                str(exc),
                settings,
                report,
                senders,
                delay_s=exc.retry_after,
                count_attempt=not isinstance(exc, RateLimited),
            )
        except PermanentFailure as exc:
            if outbox.mark_failed_permanent(row.id, str(exc)):
                _follow_up(senders, row, "failed", str(exc))
            report.failed += 1
        except Exception as exc:  # a bug must not leave the row in 'sending' nor retry without bound
            log.exception(line(f"{sender.channel}_send_crashed", outbox_id=row.id, error=type(exc).__name__))
            _record_temporary(
                row, f"internal error while sending ({type(exc).__name__}); see the logs", settings, report, senders
            )
        else:
            sent.append((row, provider_id))
            report.sent += 1
            log.info(
                line(
                    f"{sender.channel}_sent",
                    outbox_id=row.id,
                    kind=row.kind,
                    message_id=row.message_id,
                    provider_id=provider_id,
                )
            )
            if len(sent) >= SENT_MARKS_PER_COMMIT:
                _mark_sent(senders, sent)
    _mark_sent(senders, sent)


def _mark_sent(senders: _FollowupSenders, sent: list[tuple[Outbox, str]]) -> None:
    if not sent:
        return
    changed = outbox.mark_sent_many([(row.id, provider_id) for row, provider_id in sent])
    for row, _ in sent:
        if row.id in changed:
            _follow_up(senders, row, "sent")
    sent.clear()


def _follow_up(senders: _FollowupSenders, row: Outbox, outcome: str, error: str = "") -> None:
    """Write ``row``'s follow-ups for ``outcome`` and try them at once; one that fails stays pending for the
    scheduler's delivery round."""
    for oid, channel in followups.after(row, outcome, error):
        sender = senders.get(channel)
        if sender is None:
            continue
        try:
            _deliver_one(senders.settings, sender, oid, senders)
        except Exception as exc:
            log.warning(line("followup_delivery_failed", outbox_id=oid, error=type(exc).__name__))


def _record_temporary(
    row: Outbox,
    error: str,
    settings: Settings,
    report: DeliveryReport,
    senders: _FollowupSenders,
    *,
    delay_s: float | None = None,
    count_attempt: bool = True,
) -> None:
    status = outbox.mark_failed_temporary(row.id, error, settings, delay_s=delay_s, count_attempt=count_attempt)
    if status == "failed":
        report.failed += 1
        _follow_up(senders, row, "failed", error)
    else:
        report.retry += 1


# ``senders`` (keyword of each entry point below): the caller's sender per channel, for the follow-ups
# a send writes (``followups``), which are tried at once; without it, senders are made for that call.
FollowupSenders = Mapping[str, Sender]


def deliver_due(
    settings: Settings,
    sender: Sender,
    limit: int = ROUND_SIZE,
    now: dt.datetime | None = None,
    journal: ClaimJournal | None = None,
    *,
    senders: FollowupSenders | None = None,
) -> DeliveryReport:
    """Send up to ``limit`` rows of the sender's channel due at ``now`` (default: the present);
    returns what happened to them. With a ``journal``, the claim and each send's start are
    written down, so a process killed mid-round gives back the untried rows when it starts again."""
    if not sender.configured:
        return _unconfigured(sender)
    rows = outbox.claim_due(sender.channel, limit, now)
    report = DeliveryReport(claimed=len(rows))
    if journal is not None and rows:
        journal.claimed([r.id for r in rows])
    _deliver_rows(settings, sender, rows, report, _FollowupSenders(settings, senders), journal)
    if journal is not None and rows:
        journal.finished()
    if rows:
        log.info(line(f"{sender.channel}_delivery_round", **report.as_dict()))
    return report


def drain(
    settings: Settings,
    sender: Sender,
    *,
    budget_s: float = 20.0,
    journal: ClaimJournal | None = None,
    senders: FollowupSenders | None = None,
) -> DeliveryReport:
    """Rounds of ``ROUND_SIZE`` until nothing is due, a round fails to send anything (the provider
    is down: back-off decides the next try), or ``budget_s`` is spent (the scheduler's other
    sweeps must run too). A backlog left by an outage then drains as fast as the provider takes
    it, instead of one round per scheduler tick."""
    total = DeliveryReport()
    deadline = time.monotonic() + budget_s
    while True:
        report = deliver_due(settings, sender, journal=journal, senders=senders)
        for name in ("claimed", "sent", "retry", "failed", "unknown"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.skipped = report.skipped
        if report.claimed < ROUND_SIZE or report.sent == 0 or time.monotonic() >= deadline:
            return total


def deliver_one(
    settings: Settings, sender: Sender, outbox_id: int, *, senders: FollowupSenders | None = None
) -> DeliveryReport:
    """Send one row of the sender's channel now if it is pending and due (e.g. right after an agent's reply)."""
    return _deliver_one(settings, sender, outbox_id, _FollowupSenders(settings, senders))


def _deliver_one(settings: Settings, sender: Sender, outbox_id: int, senders: _FollowupSenders) -> DeliveryReport:
    if not sender.configured:
        return _unconfigured(sender)
    row = outbox.claim_one(outbox_id, channel=sender.channel)
    report = DeliveryReport(claimed=1 if row else 0)
    if row is not None:
        _deliver_rows(settings, sender, [row], report, senders)
    return report


def deliver_claimed_many(
    settings: Settings, sender: Sender, rows: list[Outbox], *, senders: FollowupSenders | None = None
) -> DeliveryReport:
    """Send rows their creator already marked ``sending`` in its own transaction
    (``outbox.enqueue(claimed=True)``; one pipeline batch's), their 'sent' marks in one commit: one commit
    less per message. Should the caller die before this returns, ``recover_stuck`` resends them after the
    lease."""
    report = DeliveryReport(claimed=len(rows))
    _deliver_rows(settings, sender, rows, report, _FollowupSenders(settings, senders))
    return report
