"""The pipeline's triage stage: language, sentiment and priority of a customer message.

Two halves, because SQLite has one writer for the whole desk:

- ``signals`` is CPU only (lingua, VADER) and runs in ``pipeline.prepare``,
  before the write transaction;
- ``new_ticket_priority`` and ``after_customer_message`` run inside it: they
  read what needs the database (the customer's tier and how often they wrote
  lately, in one statement) and record each decision as an event with its reason.

A message added to an open ticket can raise its priority (the third message in
an hour, an angry reply), never lower it, and not over an agent who set the
priority by hand. A sharp negative turn is a ``sentiment_dropped`` event.
Neither a broken configuration file nor a bad language list stops a ticket
from being made: the built-in rules, or no language, are used and it is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from helpline.router import language as lang
from helpline.router import lifecycle, sentiment
from helpline.router.priority import LEVELS, PriorityDecision, PriorityFacts, evaluate, resolve_tier
from helpline.store.tickets import triage_state
from helpline.store.config import ConfigError, Settings
from helpline.store.siteconfig.config_file import site_config
from helpline.store.envelope import Envelope
from helpline.store.siteconfig.priority_config import DEFAULT, PriorityConfig

from helpline.store.inbound import audit_events
from helpline.workers.tickets import ticket_ops

log = logging.getLogger("helpline.workers")


@dataclass(frozen=True)
class Signals:
    """What the text says about itself, worked out before the write transaction."""

    language: str = ""  # "" = undetermined
    language_confidence: float = 0.0
    language_reason: str = ""
    sentiment: float | None = None  # VADER compound; None = not scored

    def message_columns(self) -> dict[str, Any]:
        """Columns of the message row (migration 8)."""
        return {"language": self.language or None, "sentiment": self.sentiment}

    def language_event(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "confidence": round(self.language_confidence, 3),
            "reason": self.language_reason,
        }


NONE = Signals(language_reason="not detected")
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """A bad setting would otherwise log once per message."""
    if message not in _warned:
        _warned.add(message)
        log.error(message)


def _stated_language(env: Envelope) -> str:
    """A language the channel states (a webhook source's user locale) beats a guess from the text."""
    fields = env.metadata.get("fields")
    value = env.metadata.get("language") or (fields.get("language") if isinstance(fields, dict) else "") or ""
    code = str(value).strip().lower().replace("_", "-").split("-")[0]
    return code if len(code) == 2 and code.isalpha() else ""


def signals(env: Envelope, settings: Settings) -> Signals:
    """Language and sentiment of a customer's message; no database."""
    if env.author_role != "customer":
        return NONE
    stated = _stated_language(env)
    try:
        guess = (
            lang.LanguageGuess(stated, 1.0, "stated by the channel (metadata)")
            if stated
            else lang.detect(env.subject, env.text, settings.languages, settings.language_accuracy)
        )
    except ConfigError as exc:
        _warn_once(f"event=language_detection_off error={str(exc)!r}")
        guess = lang.LanguageGuess("", 0.0, f"not detected: {exc}")
    mood = sentiment.score(env.text, guess.code)
    return Signals(guess.code, guess.confidence, guess.reason, mood.compound if mood else None)


def priority_config(settings: Settings) -> PriorityConfig:
    try:
        return site_config(settings).priority
    except ConfigError as exc:
        _warn_once(f"event=config_file_unusable stage=priority using=builtin_rules error={str(exc)[:300]!r}")
        return DEFAULT


def _facts(
    env: Envelope,
    subject: str,
    category: str,
    sig: Signals,
    record_tier: str,
    contacts: dict[dt.timedelta, int],
    cfg: PriorityConfig,
    *,
    stored: bool,
) -> PriorityFacts:
    """``stored``: the message is already a row, so the counts include it."""
    tier, source = resolve_tier(record_tier, env.metadata, env.sender.address, cfg)
    return PriorityFacts(
        subject=subject,
        text=env.text,
        channel=env.channel,
        category=category,
        customer_tier=tier,
        tier_source=source,
        language=sig.language,
        sentiment=sig.sentiment,
        contacts={w: n + (0 if stored else 1) for w, n in contacts.items()},
    )


def new_ticket_priority(
    env: Envelope, subject: str, customer_id: int, category: str, sig: Signals, settings: Settings, now: dt.datetime
) -> PriorityDecision:
    """The priority of a ticket this message is about to open, with its reasons."""
    cfg = priority_config(settings)
    record_tier, contacts = triage_state.customer_facts(customer_id, env.sender.address, cfg.windows, now)
    return evaluate(_facts(env, subject, category, sig, record_tier, contacts, cfg, stored=False), cfg)


def ticket_columns(sig: Signals) -> dict[str, Any]:
    """The new ticket's columns from its first message (its language), written with its INSERT."""
    return {"language": sig.language} if sig.language else {}


def on_new_ticket(ticket_id: int, sig: Signals, now: dt.datetime) -> None:
    """The event saying why the new ticket has its language."""
    audit_events.event(ticket_id, "language_set", sig.language_event(), now=now)


def after_customer_message(
    ticket_id: int, message_id: int, env: Envelope, sig: Signals, customer_id: int, settings: Settings, now: dt.datetime
) -> None:
    """A customer message added to an existing ticket: fill its language, note a
    sharp negative turn, raise the priority when the rules now say more."""
    cfg = priority_config(settings)
    t = triage_state.ticket_facts(ticket_id, customer_id, env.sender.address, cfg.windows, now)
    if t is None:
        return
    if sig.language and not t["language"]:
        triage_state.fill_ticket_language(ticket_id, sig.language)
        audit_events.event(ticket_id, "language_set", {**sig.language_event(), "message": message_id}, now=now)
    if sig.sentiment is not None and sig.sentiment <= settings.sentiment_drop_threshold:
        before = triage_state.previous_sentiment(ticket_id, message_id)
        if before and sentiment.dropped(before[1], sig.sentiment, settings.sentiment_drop_threshold):
            audit_events.event(
                ticket_id,
                "sentiment_dropped",
                {
                    "message": message_id,
                    "from": before[1],
                    "to": sig.sentiment,
                    "previous_message": before[0],
                    "threshold": settings.sentiment_drop_threshold,
                    "reason": f"sentiment fell from {before[1]:.2f} to {sig.sentiment:.2f} "
                    f"(at or below {settings.sentiment_drop_threshold:g})",
                },
                now=now,
            )
    if t["status"] not in lifecycle.ACTIVE:
        return
    current = t["priority"] if t["priority"] in LEVELS else "medium"
    decision = evaluate(_facts(env, env.subject, t["category"], sig, t["tier"], t["contacts"], cfg, stored=True), cfg)
    # Only a rule raises: a ticket a routing rule or an agent put at "low" does not drift back to the default.
    if not decision.rules or LEVELS.index(decision.level) <= LEVELS.index(current):
        return
    actor = triage_state.last_priority_actor(ticket_id)
    if actor and actor != "system":
        audit_events.event(
            ticket_id,
            "priority_not_raised",
            {
                "message": message_id,
                "priority": current,
                "rules_say": decision.level,
                "reasons": list(decision.reasons),
                "reason": f"{actor} set the priority by hand; the rules do not overrule a person",
            },
            now=now,
        )
        return
    # Through ticket_ops, the one place a priority changes, so the SLA clocks are re-planned for it.
    ticket_ops.set_priority(
        ticket_ops.load(ticket_id),
        decision.level,
        now=now,
        settings=settings,
        actor="system",
        reason=f"message {message_id}: {decision.summary}",
    )
