"""The [priority] section of the TOML file: the sample states the built-in rules, mistakes are named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from helpline.router.priority import PriorityFacts, evaluate
from helpline.store.siteconfig.config_file import ConfigFileError, EMPTY, parse
from helpline.store.siteconfig.priority_config import DEFAULT, DEFAULT_RULES

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "helpline.toml.example"


def test_the_sample_writes_out_exactly_the_built_in_rules():
    cfg = parse(SAMPLE.read_text(), str(SAMPLE)).priority
    assert cfg.rules == DEFAULT_RULES  # the documentation cannot drift from the code
    assert not cfg.builtin and cfg.default == "medium" and cfg.tier_metadata_key == "tier"
    assert cfg.tiers == {"enterprise": ("bigcustomer.example",), "premium": ("vip@partner.example",)}
    assert cfg.tier_of_sender("ops@BigCustomer.example") == "enterprise"


def test_no_file_and_no_section_mean_the_built_in_rules():
    assert EMPTY.priority is DEFAULT and DEFAULT.builtin
    cfg = parse('[priority]\ndefault = "low"\n[priority.tiers]\nvip = ["a@b.example"]').priority
    assert cfg.rules == DEFAULT_RULES and cfg.builtin and cfg.default == "low"
    assert evaluate(PriorityFacts(subject="hello"), cfg).level == "low"


def test_rules_in_the_file_replace_the_built_in_ones():
    cfg = parse("""
[[priority.rules]]
name = "legal threats"
when.keywords = ["lawyer", "court"]
when.keywords_in = ["text"]
level = "urgent"
stop = true

[[priority.rules]]
when.channel = ["sms"]
when.category = ["Delivery"]
raise = -1
reason = "texts about deliveries can wait"

[[priority.rules]]
name = "chasing"
when.repeated_contact = 2
when.within = "30m"
raise = 2
""").priority
    legal, sms, chasing = cfg.rules
    assert (legal.name, legal.keywords, legal.keywords_in, legal.level, legal.stop) == (
        "legal threats",
        ("lawyer", "court"),
        ("text",),
        "urgent",
        True,
    )
    assert (sms.name, sms.channel, sms.category, sms.raise_by) == ("rule 2", ("sms",), ("delivery",), -1)
    assert chasing.within == dt.timedelta(minutes=30) and cfg.windows == (dt.timedelta(minutes=30),)
    d = evaluate(PriorityFacts(subject="x", channel="sms", category="delivery"), cfg)
    assert d.reasons == ("-1: texts about deliveries can wait",)
    assert evaluate(PriorityFacts(subject="down", text="outage"), cfg).level == "medium"  # defaults are gone


@pytest.mark.parametrize(
    "text, table, key, words",
    [
        ("[priority]\ndefault = 'high-ish'", "priority", "default", "must be one of low, medium, high, urgent"),
        ("[priority]\ncolour = 'red'", "priority", "colour", "unknown key"),
        ("[priority]\nrules = 3", "priority", "rules", "array of tables"),
        ("[[priority.rules]]\nwhen.keywords = ['x']", "priority.rules[0] (name 'rule 1')", "", "does nothing"),
        (
            "[[priority.rules]]\nwhen.keywords = ['x']\nlevel = 'high'\nraise = 1",
            "priority.rules[0] (name 'rule 1')",
            "raise",
            "either level or raise",
        ),
        ("[[priority.rules]]\nlevel = 'high'", "priority.rules[0] (name 'rule 1').when", "", "has no condition"),
        (
            "[[priority.rules]]\nname = 'a'\nwhen.keyword = ['x']\nlevel = 'high'",
            "priority.rules[0] (name 'a').when",
            "keyword",
            "unknown key",
        ),
        (
            "[[priority.rules]]\nwhen.sentiment_below = -2\nlevel = 'high'",
            "priority.rules[0] (name 'rule 1').when",
            "sentiment_below",
            "from -1 to 1",
        ),
        (
            "[[priority.rules]]\nwhen.repeated_contact = 1\nraise = 1",
            "priority.rules[0] (name 'rule 1').when",
            "repeated_contact",
            "2 or more",
        ),
        (
            "[[priority.rules]]\nwhen.repeated_contact = 3\nwhen.within = 'soon'\nraise = 1",
            "priority.rules[0] (name 'rule 1').when",
            "within",
            "not a duration",
        ),
        (
            "[[priority.rules]]\nwhen.channel = ['sms']\nwhen.within = '1h'\nraise = 1",
            "priority.rules[0] (name 'rule 1').when",
            "within",
            "only means something with repeated_contact",
        ),
        (
            "[[priority.rules]]\nwhen.channel = ['sms']\nwhen.keywords_in = ['text']\nraise = 1",
            "priority.rules[0] (name 'rule 1').when",
            "keywords_in",
            "only means something with keywords",
        ),
        (
            "[[priority.rules]]\nwhen.keywords = ['x']\nwhen.keywords_in = ['body']\nraise = 1",
            "priority.rules[0] (name 'rule 1').when",
            "keywords_in",
            "not one of subject, text",
        ),
        (
            "[[priority.rules]]\nwhen.channel = ['sms']\nraise = 5",
            "priority.rules[0] (name 'rule 1')",
            "raise",
            "between -3 and 3",
        ),
        (
            "[priority.tiers]\ngold = ['a.example']\nsilver = ['A.example']",
            "priority.tiers",
            "silver",
            "already listed under tier 'gold'",
        ),
    ],
)
def test_mistakes_name_the_table_and_the_key(text, table, key, words):
    with pytest.raises(ConfigFileError) as err:
        parse(text, "/etc/helpline/helpline.toml")
    assert (err.value.table, err.value.key) == (table, key), str(err.value)
    assert words in str(err.value) and str(err.value).startswith("/etc/helpline/helpline.toml: [")
