"""Priority rules as a plain function: which rules fire, in which order, and what they say."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.router.priority import PriorityFacts, evaluate, resolve_tier
from helpline.store.siteconfig.priority_config import DEFAULT, DEFAULT_RULES, HOUR, PriorityConfig, PriorityRule


def facts(**kw) -> PriorityFacts:  # noqa: ANN003
    base = {"subject": "Question about my order", "text": "Hello, where is my parcel?", "channel": "email"}
    base.update(kw)
    return PriorityFacts(**base)


def test_no_signal_is_the_default_level_and_says_so():
    d = evaluate(facts())
    assert (d.level, d.reasons, d.rules) == ("medium", ("medium: default, no rule matched",), ())


def test_keyword_in_subject_and_enterprise_tier_read_like_the_issue():
    d = evaluate(facts(subject="Server down since 9:00", customer_tier="enterprise", tier_source="customer record"))
    assert d.level == "urgent"
    assert d.reasons == ("high: keyword 'down' in subject", "+1: customer tier 'enterprise' (customer record)")
    assert d.summary == "high: keyword 'down' in subject; +1: customer tier 'enterprise' (customer record)"
    assert d.rules == ("urgent words", "enterprise customers")
    assert d.as_event() == {
        "priority": "urgent",
        "reasons": list(d.reasons),
        "rules": list(d.rules),
        "summary": d.summary,
        "contributions": list(d.contributions),
    }
    assert [(c["signals"], c["from"], c["to"], c["steps"]) for c in d.contributions] == [
        (["keywords"], "medium", "high", 1),
        (["tier"], "high", "urgent", 1),
    ]


@pytest.mark.parametrize(
    "subject, text, level, reason",
    [
        ("Outage", "", "urgent", "urgent: keyword 'outage' in subject"),
        ("Help", "We suffered DATA   LOSS overnight", "urgent", "urgent: keyword 'data loss' in text"),
        ("Login", "I can\u2019t log in any more", "high", 'high: keyword "can\'t log in" in text'),
        ("Refund please", "", "high", "high: keyword 'refund' in subject"),
        ("Bitte", "Es ist dringend!", "high", "high: keyword 'dringend' in text"),
    ],
)
def test_default_keywords(subject, text, level, reason):
    d = evaluate(facts(subject=subject, text=text))
    assert (d.level, d.reasons[0]) == (level, reason)


@pytest.mark.parametrize(
    "text",
    ["Where can I download the invoice?", "The downturn hit us", "breakdown of costs", "unbroken seal", "insecurity"],
)
def test_keywords_are_whole_words(text):
    assert evaluate(facts(subject="Question", text=text)).level == "medium"


def test_only_rules_that_change_the_level_are_reasons():
    d = evaluate(facts(subject="Outage: everything is down"))
    assert d.level == "urgent" and d.reasons == ("urgent: keyword 'outage' in subject",)


def test_negative_sentiment_and_repeated_contact():
    angry = evaluate(facts(sentiment=-0.82))
    assert angry.level == "high" and angry.reasons == ("high: negative sentiment (-0.82 below -0.6)",)
    assert evaluate(facts(sentiment=-0.3)).level == "medium"
    assert evaluate(facts(sentiment=None)).level == "medium"  # not scored (another language): no opinion
    third = evaluate(facts(contacts={HOUR: 3}))
    assert third.level == "high" and third.reasons == ("+1: 3rd message from this customer within 1h",)
    assert evaluate(facts(contacts={HOUR: 2})).level == "medium"
    both = evaluate(facts(subject="Refund", sentiment=-0.9, contacts={HOUR: 4}))
    assert both.level == "urgent"
    assert both.reasons == ("high: keyword 'refund' in subject", "+1: 4th message from this customer within 1h")


def test_raise_is_capped_and_can_lower():
    cfg = PriorityConfig(
        rules=(
            PriorityRule("lists are low", raise_by=-2, channel=("form",)),
            PriorityRule("big", raise_by=3, category=("outage",)),
        ),
        builtin=False,
    )
    assert evaluate(facts(channel="form"), cfg).reasons == ("-2: channel 'form'",)
    assert evaluate(facts(channel="form"), cfg).level == "low"
    assert evaluate(facts(category="outage"), cfg).level == "urgent"


def test_order_matters_and_stop_ends_the_walk():
    vip = PriorityRule("vip", level="urgent", customer_tier=("vip",), stop=True, reason="VIP contract")
    lower = PriorityRule("feedback is low", raise_by=-1, category=("feedback",))
    cfg = PriorityConfig(rules=(vip, lower), builtin=False)
    d = evaluate(facts(customer_tier="vip", category="feedback"), cfg)
    assert (d.level, d.reasons) == ("urgent", ("urgent: VIP contract",))
    cfg2 = PriorityConfig(rules=(lower, PriorityRule("vip", level="urgent", customer_tier=("vip",))), builtin=False)
    assert evaluate(facts(customer_tier="vip", category="feedback"), cfg2).level == "urgent"


def test_all_conditions_of_a_rule_must_hold():
    rule = PriorityRule("sms refunds", level="urgent", keywords=("refund",), channel=("sms",), language=("en",))
    cfg = PriorityConfig(rules=(rule,), builtin=False)
    assert evaluate(facts(subject="refund", channel="email", language="en"), cfg).level == "medium"
    d = evaluate(facts(subject="refund", channel="sms", language="en"), cfg)
    assert d.reasons == ("urgent: keyword 'refund' in subject and channel 'sms' and language 'en'",)


def test_keywords_in_subject_only():
    cfg = PriorityConfig(
        rules=(PriorityRule("subj", level="high", keywords=("down",), keywords_in=("subject",)),), builtin=False
    )
    assert evaluate(facts(subject="hi", text="the site is down"), cfg).level == "medium"
    assert evaluate(facts(subject="site down", text=""), cfg).level == "high"


def test_a_start_level_for_later_messages():
    d = evaluate(facts(), DEFAULT, start="high")
    assert d.level == "high" and d.reasons == ("high: no rule raised it",)


def test_windows_and_the_default_config():
    assert DEFAULT.rules == DEFAULT_RULES and DEFAULT.windows == (HOUR,) and DEFAULT.uses_tier
    cfg = PriorityConfig(
        rules=(
            PriorityRule("a", raise_by=1, repeated_contact=3, within=dt.timedelta(minutes=30)),
            PriorityRule("b", raise_by=1, repeated_contact=5, within=HOUR),
        ),
        builtin=False,
    )
    assert cfg.windows == (dt.timedelta(minutes=30), HOUR) and not cfg.uses_tier
    d = evaluate(facts(contacts={dt.timedelta(minutes=30): 3, HOUR: 5}), cfg)
    assert d.reasons == (
        "+1: 3rd message from this customer within 30m",
        "+1: 5th message from this customer within 1h",
    )


def test_tier_sources_in_order():
    cfg = PriorityConfig(tiers={"enterprise": ("bigcorp.example",), "premium": ("vip@example.org",)})
    assert resolve_tier("enterprise", {"fields": {"tier": "premium"}}, "a@bigcorp.example", cfg) == (
        "enterprise",
        "customer record",
    )
    assert resolve_tier("standard", {"fields": {"tier": "Premium"}}, "a@bigcorp.example", cfg) == (
        "premium",
        "webhook metadata",
    )
    assert resolve_tier("standard", {}, "Someone@BigCorp.example", cfg) == ("enterprise", "configuration")
    assert resolve_tier("standard", {}, "vip@example.org", cfg) == ("premium", "configuration")
    assert resolve_tier("standard", {}, "nobody@example.net", cfg) == ("standard", "customer record")
    custom = PriorityConfig(tier_metadata_key="plan")
    assert resolve_tier("standard", {"fields": {"plan": "gold", "tier": "x"}}, "", custom) == (
        "gold",
        "webhook metadata",
    )
