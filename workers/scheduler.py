"""The scheduler process: periodic sweeps, each guarded so one failure never stops the rest."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Callable

from helpline.store.config import Settings

from helpline.workers import actors, broker, systemd
from helpline.workers.jobs import sweeper

if TYPE_CHECKING:
    from helpline.notifier.claim_journal import ClaimJournal
    from helpline.notifier.senders import Sender

log = logging.getLogger("helpline.workers")


def tick(settings: Settings, extra: dict[str, Callable[[], object]] | None = None) -> dict[str, object]:
    """One round of every sweep; returns what each did (or the error it hit)."""
    from helpline.notifier import outbox
    from helpline.notifier.deliver import drain

    jobs: dict[str, Callable[[], object]] = {
        "inbound": lambda: sweeper.sweep_inbound(settings, actors.submit),
        "outbox_recovered": lambda: outbox.recover_stuck(settings),
    }
    if settings.twilio_auth_token:
        from helpline.notifier.sms import sms_media

        jobs["sms_media"] = lambda: sms_media.fetch_stale(settings, actors.blob_store())
    if settings.slack_bot_token and settings.slack_channel:  # parents changed by routing, SLA clocks, sweeps
        from helpline.workers import slack_outbox

        jobs["slack_updates"] = slack_outbox.sweep_updates
        jobs["slack_team_notifications"] = lambda: slack_outbox.sweep_team_notifications(settings)
        jobs["slack_merge_suggestions"] = slack_outbox.sweep_merge_suggestions
        jobs["slack_detach_offers"] = slack_outbox.sweep_detach_offers
    if settings.clamd_socket:  # attachments that arrived since: scanned before anyone asks for them
        from helpline.store.storage import attachment_scan

        jobs["attachment_scan"] = lambda: attachment_scan.scan_pending(settings)

    def delivered(channel: str, sender: Sender) -> Callable[[], object]:
        """The sweep of one channel's outbox (its journal opened at each run, as before)."""
        return lambda: drain(
            settings,
            sender,
            budget_s=max(settings.sweep_interval_s, 5.0),
            journal=claim_journal(settings, channel),
            senders=actors.senders(),
        )

    for channel, sender in actors.senders().items():
        jobs[f"outbox_delivered_{channel}"] = delivered(channel, sender)
    from helpline.workers.jobs import (
        ticket_timers,
    )  # SLA warnings and breaches, lifecycle timers, team queues, agent loads

    jobs.update(ticket_timers.jobs(settings))
    if settings.config_file:  # [[retention.policies]], every HELPLINE_RETENTION_INTERVAL_S
        from helpline.workers.jobs import retention_job

        jobs["retention"] = lambda: retention_job.due_job(settings)
    if settings.pii_at_rest == "redact":
        jobs["pii_at_rest"] = lambda: _redact_at_rest(settings)
    if settings.model_retrain_interval_s > 0:  # opt-in gated retrain from agents' labels
        from helpline.workers.jobs import model_retrain_job

        jobs["model_retrain"] = lambda: model_retrain_job.due_job(settings)
    jobs.update(extra or {})
    done: dict[str, object] = {}
    for name, job in jobs.items():
        try:
            done[name] = job()
        except Exception as exc:  # the database or Redis may be down; try again next tick
            done[name] = exc
            log.warning("event=sweep_failed job=%s error=%s", name, type(exc).__name__)
    return done


def claim_journal(settings: Settings, channel: str) -> "ClaimJournal":
    """This scheduler's journal of ``channel``'s claims (one scheduler per data directory)."""
    from helpline.notifier.claim_journal import ClaimJournal

    return ClaimJournal(os.path.join(settings.data_dir, "claims", f"{channel}.journal"))


def release_unsent_claims(settings: Settings) -> int:
    """At start: rows a killed predecessor claimed and never began to send go back to pending now,
    not after the lease; the one whose send had begun is left to ``recover_stuck``."""
    from helpline.notifier.outbox import release_claims

    released = 0
    for channel in actors.senders():
        journal = claim_journal(settings, channel)
        ids = journal.unstarted()
        if ids:
            released += release_claims(ids)
        journal.finished()
    if released:
        log.warning("event=unsent_claims_released count=%d", released)
    return released


def _redact_at_rest(settings: Settings) -> object:
    """HELPLINE_PII_AT_REST=redact: one batch of old messages' personal data masked in the store, logged."""
    from helpline.store.privacy import pii_at_rest

    report = pii_at_rest.redact_due(settings)
    if report.messages:
        log.info(
            "event=pii_redacted_at_rest messages=%d raw_blobs_dropped=%d", report.messages, report.raw_blobs_dropped
        )
    return report


def run(settings: Settings, extra: dict[str, Callable[[], object]] | None = None) -> None:
    broker.setup(settings)
    try:
        release_unsent_claims(settings)
    except Exception as exc:  # the database may be down: the lease takes them later
        log.warning("event=unsent_claims_release_failed error=%s", type(exc).__name__)
    from helpline.store.db import Checkpointer

    checkpointer = Checkpointer(settings.effective_database_url).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("event=scheduler_started interval=%s", settings.sweep_interval_s)
    grouping = threading.Thread(target=_group_incidents, args=(settings, stop), name="incident-grouper", daemon=True)
    grouping.start()
    last_tick = [time.monotonic()]
    # Alive while ticks keep finishing: a tick may take a while (a large outbox
    # backlog), a scheduler stuck in one for ten minutes is restarted by systemd.
    systemd.start_watchdog(lambda: time.monotonic() - last_tick[0] < max(600.0, 3 * settings.sweep_interval_s), stop)
    systemd.notify("READY=1")
    while not stop.is_set():
        tick(settings, extra)
        last_tick[0] = time.monotonic()
        stop.wait(settings.sweep_interval_s)
    systemd.notify("STOPPING=1")
    grouping.join(timeout=10)
    checkpointer.stop()
    log.info("event=scheduler_stopped")


def _group_incidents(settings: Settings, stop: threading.Event) -> None:
    """Its own cadence: an outage should show as one incident within seconds, not at the next 30 s sweep."""
    from helpline.workers.jobs.incident_grouper import Grouper

    grouper = Grouper(settings)
    while not stop.is_set():
        try:
            done = grouper.run_round()
            if done.tickets:
                log.info(
                    "event=incident_round tickets=%d joined=%d opened=%d", done.tickets, done.joined, len(done.opened)
                )
        except Exception as exc:  # the database may be down; the next round tries again
            grouper.index = None  # reload: the round's writes may be undone while the index kept them
            log.warning("event=sweep_failed job=incidents error=%s", type(exc).__name__)
        stop.wait(settings.incident_interval_s)
    try:
        grouper.release()
    except Exception:  # the lease runs out by itself
        pass
