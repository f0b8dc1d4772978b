"""The scheduler process: periodic sweeps, each guarded so one failure never stops the rest."""
from __future__ import annotations

import functools
import logging
import signal
import threading
from typing import Callable

from helpline.store.config import Settings

from . import actors, broker, sweeper

log = logging.getLogger("helpline.workers")


def tick(settings: Settings, extra: dict[str, Callable[[], object]] | None = None) -> dict[str, object]:
    """One round of every sweep; returns what each did (or the error it hit)."""
    from helpline.notifier import outbox
    from helpline.notifier.deliver import deliver_due

    jobs: dict[str, Callable[[], object]] = {
        "inbound": lambda: sweeper.sweep_inbound(settings, actors.submit),
        "outbox_recovered": lambda: outbox.recover_stuck(settings),
    }
    if settings.twilio_auth_token:
        from helpline.notifier import sms_media

        jobs["sms_media"] = lambda: sms_media.fetch_stale(settings, actors.blob_store())
    if settings.slack_bot_token and settings.slack_channel:  # parents changed by routing, SLA clocks, sweeps
        from . import slack_outbox

        jobs["slack_updates"] = slack_outbox.sweep_updates
        jobs["slack_team_notifications"] = lambda: slack_outbox.sweep_team_notifications(settings)
        jobs["slack_merge_suggestions"] = slack_outbox.sweep_merge_suggestions
    for channel, sender in actors.senders().items():
        jobs[f"outbox_delivered_{channel}"] = functools.partial(deliver_due, settings, sender)
    from . import ticket_timers  # SLA warnings and breaches, lifecycle timers, team queues, agent loads

    jobs.update(ticket_timers.jobs(settings))
    jobs.update(extra or {})
    done: dict[str, object] = {}
    for name, job in jobs.items():
        try:
            done[name] = job()
        except Exception as exc:  # the database or Redis may be down; try again next tick
            done[name] = exc
            log.warning("event=sweep_failed job=%s error=%s", name, type(exc).__name__)
    return done


def run(settings: Settings, extra: dict[str, Callable[[], object]] | None = None) -> None:
    broker.setup(settings)
    from helpline.store.db import Checkpointer

    checkpointer = Checkpointer(settings.effective_database_url).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("event=scheduler_started interval=%s", settings.sweep_interval_s)
    grouping = threading.Thread(target=_group_incidents, args=(settings, stop), name="incident-grouper", daemon=True)
    grouping.start()
    while not stop.is_set():
        tick(settings, extra)
        stop.wait(settings.sweep_interval_s)
    grouping.join(timeout=10)
    checkpointer.stop()
    log.info("event=scheduler_stopped")


def _group_incidents(settings: Settings, stop: threading.Event) -> None:
    """Its own cadence: an outage should show as one incident within seconds, not at the next 30 s sweep."""
    from .incident_grouper import Grouper

    grouper = Grouper(settings)
    while not stop.is_set():
        try:
            done = grouper.run_round()
            if done.tickets:
                log.info("event=incident_round tickets=%d joined=%d opened=%d", done.tickets, done.joined,
                         len(done.opened))
        except Exception as exc:  # the database may be down; the next round tries again
            grouper.index = None  # reload: the round's writes may be undone while the index kept them
            log.warning("event=sweep_failed job=incidents error=%s", type(exc).__name__)
        stop.wait(settings.incident_interval_s)
    try:
        grouper.release()
    except Exception:  # the lease runs out by itself
        pass
