"""The ``[priority]`` section of the TOML configuration file: priority rules and customer tiers.

Kept apart from ``config_file.py`` (which calls ``parse_priority``) because the
rules have a vocabulary of their own. The file only states the rules; what they
decide is ``router.priority.evaluate``. Without a ``[priority]`` section, or
with one that lists no rules, the built-in ``DEFAULT_RULES`` apply (the
keyword list of issue 6, enterprise customers one step up, angry customers at
least high, the third message in an hour one step up), so a desk with no file
still gets an explainable priority. Rules written in the file replace the
built-in ones entirely: what the file says is all that applies.

    [priority]
    default = "medium"                 # the level when no rule raises it
    tier_metadata_key = "tier"         # webhook metadata naming the customer's tier

    [priority.tiers]                   # tiers by sender domain or address
    enterprise = ["bigcorp.example", "ceo@partner.example"]

    [[priority.rules]]
    name = "outage words"
    when.keywords = ["outage", "down"]
    level = "urgent"                   # at least this level; or raise = 1 (steps up, -1 down)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from helpline.store.config_errors import kind

if TYPE_CHECKING:  # config_file imports this module; its _Ctx is only a type here
    from helpline.store.siteconfig.config_file import _Ctx

PRIORITIES = ("low", "medium", "high", "urgent")
KEYWORD_PLACES = ("subject", "text")
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class PriorityRule:
    """All conditions in ``when`` must hold; then the level becomes at least
    ``level``, or moves ``raise_by`` steps. Conditions left empty are not checked."""

    name: str
    level: str = ""  # at least this level ("" = use raise_by)
    raise_by: int = 0  # steps up (+) or down (-), capped at low and urgent
    stop: bool = False  # when it matches, later rules are not tried
    reason: str = ""  # said instead of the conditions, when given
    keywords: tuple[str, ...] = ()  # words or phrases, case-insensitive, whole words
    keywords_in: tuple[str, ...] = KEYWORD_PLACES
    customer_tier: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    sentiment_below: float | None = None  # VADER compound score strictly below this
    repeated_contact: int = 0  # this message is at least the Nth from the customer within ``within``
    within: dt.timedelta = HOUR

    @property
    def effect(self) -> str:
        """ "high", "+1", "-1": what the rule does, as its reasons start."""
        return self.level or f"{self.raise_by:+d}"


# The defaults of issue 6. Keyword lists match whole words in the subject or the text.
URGENT_KEYWORDS = ("emergency", "outage", "data loss", "security breach", "hacked")
HIGH_KEYWORDS = (
    "urgent",
    "critical",
    "down",
    "broken",
    "not working",
    "security",
    "cannot log in",
    "can't log in",
    "cannot login",
    "can't login",
    "unable to log in",
    "refund",
    "legal",
    "dringend",
    "urgente",
)

DEFAULT_RULES: tuple[PriorityRule, ...] = (
    PriorityRule("outage or data loss", level="urgent", keywords=URGENT_KEYWORDS),
    PriorityRule("urgent words", level="high", keywords=HIGH_KEYWORDS),
    PriorityRule("enterprise customers", raise_by=1, customer_tier=("enterprise",)),
    PriorityRule("angry customer", level="high", sentiment_below=-0.6),
    PriorityRule("repeated contact", raise_by=1, repeated_contact=3, within=HOUR),
)


@dataclass(frozen=True)
class PriorityConfig:
    default: str = "medium"
    rules: tuple[PriorityRule, ...] = DEFAULT_RULES
    tiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # tier -> sender domains / addresses
    tier_metadata_key: str = "tier"
    builtin: bool = True  # the rules are DEFAULT_RULES (no rules in the file)

    @property
    def windows(self) -> tuple[dt.timedelta, ...]:
        """The distinct repeated-contact windows the rules ask about (one count each)."""
        return tuple(sorted({r.within for r in self.rules if r.repeated_contact}))

    @property
    def uses_tier(self) -> bool:
        return any(r.customer_tier for r in self.rules)

    def tier_of_sender(self, address: str) -> str:
        """The configured tier of an address or its domain ("" when none lists it)."""
        addr = address.strip().lower()
        domain = addr.rpartition("@")[2] if "@" in addr else ""
        for tier, entries in self.tiers.items():
            if addr in entries or (domain and domain in entries):
                return tier
        return ""


DEFAULT = PriorityConfig()

_WHEN = {
    "keywords",
    "keywords_in",
    "customer_tier",
    "category",
    "channel",
    "language",
    "sentiment_below",
    "repeated_contact",
    "within",
}


def _rule(source: str, index: int, data: Any, ctx_type: type["_Ctx"]) -> PriorityRule:
    ctx = ctx_type(source, f"priority.rules[{index}]")
    if not isinstance(data, dict):
        raise ctx.fail("", f"must be a table, not {kind(data)}")
    name = ctx.string(data, "name") or f"rule {index + 1}"
    base = f"priority.rules[{index}] (name {name!r})"
    ctx = ctx_type(source, base)
    ctx.only(data, {"name", "when", "level", "raise", "stop", "reason"})
    when = ctx.table_of(data, "when")
    wctx = ctx_type(source, base + ".when")
    wctx.only(when, _WHEN)
    level = ctx.choice(data, "level", PRIORITIES)
    raise_by = ctx.integer(data, "raise", 0, -3, 3)
    if level and raise_by:
        raise ctx.fail("raise", "give either level or raise, not both")
    if not level and not raise_by:
        raise ctx.fail("", 'does nothing: give level = "high" (at least that level) or raise = 1 (steps up)')
    sentiment = when.get("sentiment_below")
    if sentiment is not None and (
        isinstance(sentiment, bool) or not isinstance(sentiment, (int, float)) or not -1 <= sentiment <= 1
    ):
        raise wctx.fail(
            "sentiment_below", f"must be a number from -1 to 1 (VADER's compound score, e.g. -0.6), not {sentiment!r}"
        )
    repeated = wctx.integer(when, "repeated_contact", 0, 0, 1000)
    if repeated == 1:
        raise wctx.fail("repeated_contact", "must be 2 or more (1 would match every message)")
    if "within" in when and not repeated:
        raise wctx.fail("within", "only means something with repeated_contact")
    within = wctx.duration(when, "within", required=False) or HOUR
    keywords = wctx.strings(when, "keywords", lower=True)
    rule = PriorityRule(
        name=name,
        level=level,
        raise_by=raise_by,
        stop=ctx.boolean(data, "stop"),
        reason=ctx.string(data, "reason"),
        keywords=keywords,
        keywords_in=wctx.choices(when, "keywords_in", KEYWORD_PLACES) or KEYWORD_PLACES,
        customer_tier=wctx.strings(when, "customer_tier", lower=True),
        category=wctx.strings(when, "category", lower=True),
        channel=wctx.strings(when, "channel", lower=True),
        language=wctx.strings(when, "language", lower=True),
        sentiment_below=float(sentiment) if sentiment is not None else None,
        repeated_contact=repeated,
        within=within,
    )
    if "keywords_in" in when and not keywords:
        raise wctx.fail("keywords_in", "only means something with keywords")
    if not (
        rule.keywords
        or rule.customer_tier
        or rule.category
        or rule.channel
        or rule.language
        or rule.sentiment_below is not None
        or rule.repeated_contact
    ):
        raise wctx.fail("", "has no condition; to change the level of every ticket set [priority] default instead")
    return rule


def parse_priority(source: str, data: Mapping[str, Any], ctx_type: type["_Ctx"]) -> PriorityConfig:
    """The ``[priority]`` table (``data``, possibly empty) as a PriorityConfig."""
    ctx = ctx_type(source, "priority")
    ctx.only(data, {"default", "tier_metadata_key", "tiers", "rules"})
    default = ctx.choice(data, "default", PRIORITIES, "medium") or "medium"
    tiers_raw = ctx.table_of(data, "tiers")
    tctx = ctx_type(source, "priority.tiers")
    tiers: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for tier in tiers_raw:
        entries = tctx.strings(tiers_raw, tier, lower=True)
        for e in entries:
            if e in owner:
                raise tctx.fail(tier, f"{e} is already listed under tier {owner[e]!r}")
            owner[e] = tier.lower()
        tiers[tier.strip().lower()] = entries
    rules = tuple(_rule(source, i, body, ctx_type) for i, body in enumerate(ctx.tables(data, "rules")))
    return PriorityConfig(
        default=default,
        rules=rules or DEFAULT_RULES,
        tiers=tiers,
        tier_metadata_key=ctx.string(data, "tier_metadata_key", "tier") or "tier",
        builtin=not rules,
    )
