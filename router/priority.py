"""Priority from explainable rules: a level plus the reasons that made it.

The rules come from the ``[priority]`` section of the configuration file
(``store.priority_config``; built-in defaults without one). They are tried in
order over the facts of one message; a rule whose conditions all hold sets the
level to at least its ``level``, or moves it ``raise`` steps, and its reason is
kept when it changed the level. So an agent reads why a ticket is urgent:
"high: keyword 'down' in subject; +1: customer tier 'enterprise' (customer
record)".

``evaluate`` is a plain function of ``PriorityFacts``; the worker stage
(``workers.triage``) gathers the facts that need the database (the customer's
tier, how many messages they sent within the rules' windows).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from helpline.store.siteconfig.config_file import format_duration
from helpline.store.siteconfig.priority_config import DEFAULT, PriorityConfig, PriorityRule

LEVELS = ("low", "medium", "high", "urgent")
SUBJECT_CHARS = 1000  # keyword search bounds: the start of a long mail says what it is about
TEXT_CHARS = 4000


@dataclass(frozen=True)
class PriorityFacts:
    """What the rules may look at, for one customer message."""

    subject: str = ""
    text: str = ""
    channel: str = ""
    category: str = ""
    customer_tier: str = "standard"
    tier_source: str = ""  # customer record, webhook metadata, configuration
    language: str = ""
    sentiment: float | None = None  # VADER compound; None when not scored (not English)
    contacts: Mapping[dt.timedelta, int] = field(default_factory=dict)  # messages within each window, this one too


@dataclass(frozen=True)
class PriorityDecision:
    level: str
    reasons: tuple[str, ...]
    rules: tuple[str, ...] = ()  # names of the rules that changed the level
    # every rule that matched: its signals, what it moved the level from and to (steps 0: already there)
    contributions: tuple[dict[str, Any], ...] = ()

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)

    def as_event(self) -> dict[str, Any]:
        """The data of the ``priority_set`` event."""
        return {
            "priority": self.level,
            "reasons": list(self.reasons),
            "rules": list(self.rules),
            "summary": self.summary,
            "contributions": list(self.contributions),
        }


@lru_cache(maxsize=512)
def _keyword_regex(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation per keyword list; a phrase's spaces match any run of white space."""
    alts = sorted((r"\s+".join(re.escape(w) for w in k.split()) for k in keywords), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'") if "\u2019" in text else text  # typographic apostrophe: can’t -> can't


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _conditions(rule: PriorityRule, facts: PriorityFacts) -> list[str] | None:
    """Why the rule holds, one phrase per condition; None when one of them does not."""
    why: list[str] = []
    if rule.keywords:
        rx = _keyword_regex(rule.keywords)
        for where in rule.keywords_in:
            value = facts.subject[:SUBJECT_CHARS] if where == "subject" else facts.text[:TEXT_CHARS]
            m = rx.search(_normalise(value)) if value else None
            if m:
                why.append(f"keyword {' '.join(m.group(0).lower().split())!r} in {where}")
                break
        else:
            return None
    if rule.customer_tier:
        if facts.customer_tier.lower() not in rule.customer_tier:
            return None
        why.append(
            f"customer tier {facts.customer_tier.lower()!r}" + (f" ({facts.tier_source})" if facts.tier_source else "")
        )
    for wanted, value, label in (
        (rule.category, facts.category, "category"),
        (rule.channel, facts.channel, "channel"),
        (rule.language, facts.language, "language"),
    ):
        if wanted:
            if value.lower() not in wanted:
                return None
            why.append(f"{label} {value.lower()!r}")
    if rule.sentiment_below is not None:
        if facts.sentiment is None or not facts.sentiment < rule.sentiment_below:
            return None
        why.append(f"negative sentiment ({facts.sentiment:.2f} below {rule.sentiment_below:g})")
    if rule.repeated_contact:
        n = facts.contacts.get(rule.within, 1)
        if n < rule.repeated_contact:
            return None
        why.append(f"{_ordinal(n)} message from this customer within {format_duration(rule.within)}")
    return why


def _apply(rule: PriorityRule, level: str) -> str:
    if rule.level:
        return rule.level if LEVELS.index(rule.level) > LEVELS.index(level) else level
    return LEVELS[max(0, min(len(LEVELS) - 1, LEVELS.index(level) + rule.raise_by))]


def evaluate(facts: PriorityFacts, config: PriorityConfig = DEFAULT, start: str | None = None) -> PriorityDecision:
    """The level for ``facts`` under ``config``'s rules, from ``start`` (default: the configured default).

    Only rules that changed the level are reasons: with "urgent: keyword
    'outage'" already said, a later "high: keyword 'down'" adds nothing."""
    level = start or config.default
    reasons: list[str] = []
    names: list[str] = []
    contributions: list[dict[str, Any]] = []
    for rule in config.rules:
        why = _conditions(rule, facts)
        if why is None:
            continue
        new = _apply(rule, level)
        contributions.append(
            {
                "rule": rule.name,
                "signals": rule_signals(rule),
                "why": why,
                "from": level,
                "to": new,
                "steps": LEVELS.index(new) - LEVELS.index(level),
            }
        )
        if new != level:
            reasons.append(f"{rule.effect}: {rule.reason or ' and '.join(why)}")
            names.append(rule.name)
            level = new
        if rule.stop:
            break
    if not reasons:
        reasons.append(f"{level}: " + ("default, no rule matched" if start is None else "no rule raised it"))
    return PriorityDecision(level, tuple(reasons), tuple(names), tuple(contributions))


def rule_signals(rule: PriorityRule) -> list[str]:
    """The signals a rule reads, as ``helpline explain`` groups contributions."""
    kinds = [
        ("keywords", bool(rule.keywords)),
        ("tier", bool(rule.customer_tier)),
        ("category", bool(rule.category)),
        ("channel", bool(rule.channel)),
        ("language", bool(rule.language)),
        ("sentiment", rule.sentiment_below is not None),
        ("repeated contact", bool(rule.repeated_contact)),
    ]
    return [k for k, used in kinds if used] or ["default"]


def resolve_tier(
    record_tier: str, metadata: Mapping[str, Any], sender: str, config: PriorityConfig = DEFAULT
) -> tuple[str, str]:
    """(tier, where it came from). The customer record wins when an agent or an
    import set it (anything but "standard"); then what a signed webhook source
    says in its metadata; then the configuration's lists of domains and addresses."""
    record = (record_tier or "").strip().lower()
    if record and record != "standard":
        return record, "customer record"
    fields = metadata.get("fields") if isinstance(metadata, Mapping) else None
    claimed = str((fields or {}).get(config.tier_metadata_key) or "").strip().lower()
    if claimed:
        return claimed[:64], "webhook metadata"
    configured = config.tier_of_sender(sender) if sender else ""
    if configured:
        return configured, "configuration"
    return record or "standard", "customer record" if record else ""
