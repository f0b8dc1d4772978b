"""The TOML configuration file: the sample parses, mistakes are named precisely."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from helpline.store import config
from helpline.store.siteconfig.config_file import (
    ALWAYS,
    ConfigFileError,
    format_duration,
    parse,
    parse_duration,
    site_config,
)

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "helpline.toml.example"


def test_the_sample_file_parses_into_everything_it_shows():
    cfg = parse(SAMPLE.read_text(), str(SAMPLE))
    assert [t.name for t in cfg.teams] == ["billing", "tech", "oncall"]
    assert cfg.default_team.name == "tech"
    billing = cfg.team("billing")
    assert billing.addresses == ("billing@help.example.com",) and billing.strategy == "skills"
    assert billing.lead_email == "billing-lead@example.com"
    office = cfg.calendar("office")
    assert office.timezone == "Europe/Berlin" and office.week[0] == ((540, 750), (810, 1050))
    assert office.week[5] == () and dt.date(2025, 12, 25) in office.holidays
    assert cfg.calendar("always").always_open and cfg.calendar("") is ALWAYS
    agents = {a.email: a for a in cfg.agents}
    assert agents["alice@example.com"].skills == {"refund": 4, "invoice": 3, "de": 5}
    assert agents["bob@example.com"].teams == ("billing", "oncall") and agents["bob@example.com"].tier == 2
    assert agents["carol@example.com"].teams == ("tech",)  # only listed under [[teams]] agents
    assert [r.name for r in cfg.rules][0] == "invoices go to billing"
    assert cfg.policy("premium").first_response == dt.timedelta(hours=1)
    assert cfg.policy("premium").warn_at == 0.5 and cfg.policy("standard").warn_at == 0.75
    assert cfg.escalations[0].to_tier == 2 and cfg.escalations[0].notify == ("lead", "team")
    assert cfg.escalations[1].raise_priority and cfg.escalations[1].target == ("first_response",)


@pytest.mark.parametrize(
    "text, table, key, words",
    [
        ("teams = 3", "top level", "teams", "array of tables"),
        ("[[teams]]\nslack_channel = '#x'", "teams[0]", "name", "is required"),
        ("[[teams]]\nname = 'a'\nstrategy = 'random'", "teams[0] (name 'a')", "strategy", "round_robin"),
        ("[[teams]]\nname = 'a'\ncapacty = 3", "teams[0] (name 'a')", "capacty", "unknown key"),
        ("[[teams]]\nname = 'a'\nbusiness_hours = 'office'", "teams[0] (name 'a')", "business_hours", "no calendar"),
        ("[[teams]]\nname = 'a'\n[[teams]]\nname = 'a'", "teams[1]", "name", "defined twice"),
        (
            "[[teams]]\nname = 'a'\ndefault = true\n[[teams]]\nname = 'b'\ndefault = true",
            "teams",
            "default",
            "only one",
        ),
        (
            "[[teams]]\nname = 'a'\naddress = 'x@y'\n[[teams]]\nname = 'b'\naddresses = ['X@y']",
            "teams (name 'b')",
            "addresses",
            "already the address of team 'a'",
        ),
        ("[[agents]]\nemail = 'a@x'\ntier = 4", "agents[0] (email 'a@x')", "tier", "between 1 and 3"),
        ("[[agents]]\nemail = 'a@x'\ncapacity = 'ten'", "agents[0] (email 'a@x')", "capacity", "whole number"),
        ("[[agents]]\nemail = 'a@x'\nteams = ['nope']", "agents[0] (email 'a@x')", "teams", "no team 'nope'"),
        ("[[agents]]\nemail = 'a@x'\nskills = { refund = 9 }", "agents[0] (email 'a@x')", "skills.refund", "1 to 5"),
        ("[[agents]]\nemail = 'a@x'\navailability = 'asleep'", "agents[0] (email 'a@x')", "availability", "offline"),
        (
            "[business_hours.o]\ntimezone = 'Mars/Olympus'\nmonday = ['09:00-17:00']",
            "business_hours.o",
            "timezone",
            "not a known time zone",
        ),
        ("[business_hours.o]\ntimezone = 'UTC'\nmonday = ['17:00-09:00']", "business_hours.o", "monday", "ends before"),
        ("[business_hours.o]\ntimezone = 'UTC'\nmonday = ['9-17']", "business_hours.o", "monday", "HH:MM-HH:MM"),
        (
            "[business_hours.o]\ntimezone = 'UTC'\nmonday = ['09:00-12:00', '11:00-13:00']",
            "business_hours.o",
            "monday",
            "overlap",
        ),
        ("[business_hours.o]\ntimezone = 'UTC'", "business_hours.o", "", "no opening hours"),
        (
            "[business_hours.o]\ntimezone = 'UTC'\nweekdays = ['09:00-17:00']\nholidays = ['25.12.2025']",
            "business_hours.o",
            "holidays",
            "not a date",
        ),
        ("[sla.policies.p]\nfirst_response = '1h'", "sla.policies.p", "resolution", "is required"),
        (
            "[sla.policies.p]\nfirst_response = '1 hour'\nresolution = '2h'",
            "sla.policies.p",
            "first_response",
            "not a duration",
        ),
        (
            "[sla.policies.p]\nfirst_response = '1h'\nresolution = '2h'\npriority = ['normal']",
            "sla.policies.p",
            "priority",
            "'normal' is not one of low, medium, high, urgent",
        ),
        ("[sla]\nwarn_at = 75", "sla", "warn_at", "between 0 and 1"),
        ("[[routing.rules]]\nname = 'r'\nwhen.category = ['x']", "routing.rules[0] (name 'r').set", "", "sets nothing"),
        (
            "[[routing.rules]]\nname = 'r'\nset.team = 'ghost'",
            "routing.rules[0] (name 'r').set",
            "team",
            "no team 'ghost'",
        ),
        (
            "[[routing.rules]]\nname = 'r'\nset.sla = 'gold'",
            "routing.rules[0] (name 'r').set",
            "sla",
            "no policy 'gold'",
        ),
        (
            "[[routing.rules]]\nname = 'r'\nwhen.subject_matches = '(unclosed'\nset.priority = 'high'",
            "routing.rules[0] (name 'r').when",
            "subject_matches",
            "regular expression",
        ),
        (
            "[[routing.rules]]\nname = 'r'\nwhen.sender = 'x'\nset.priority = 'high'",
            "routing.rules[0] (name 'r').when",
            "sender",
            "unknown key",
        ),
        ("[[escalation.rules]]\nname = 'e'\nthen.tier = 2", "escalation.rules[0] (name 'e').when", "event", "required"),
        (
            "[[escalation.rules]]\nname = 'e'\nwhen.event = 'breach'\nthen.tier = 5",
            "escalation.rules[0] (name 'e').then",
            "tier",
            "between 0 and 3",
        ),
        (
            "[[escalation.rules]]\nname = 'e'\nwhen.event = 'breach'\nthen.notify = ['pager']",
            "escalation.rules[0] (name 'e').then",
            "notify",
            "'pager' is not one of",
        ),
    ],
)
def test_mistakes_name_the_file_the_table_and_the_key(text, table, key, words):
    with pytest.raises(ConfigFileError) as caught:
        parse(text, "/etc/helpline/helpline.toml")
    err = caught.value
    assert (err.source, err.table, err.key) == ("/etc/helpline/helpline.toml", table, key)
    assert words in str(err) and str(err).startswith("/etc/helpline/helpline.toml: [")
    assert isinstance(err, config.ConfigError)  # `helpline` prints it as a configuration error, exit 2


def test_invalid_toml_says_where():
    with pytest.raises(ConfigFileError, match=r"site\.toml: \[\]: is not valid TOML: .*line 2"):
        parse("[[teams]]\nname = \n", "site.toml")


def test_durations():
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration(" 2d ") == dt.timedelta(days=2)
    assert parse_duration("1.5h") == dt.timedelta(minutes=90)
    assert format_duration(dt.timedelta(minutes=90)) == "1h30m"
    for bad in ("", "15", "m15", "15 minutes", "0m", "1h 2x"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_site_config_is_read_again_only_when_the_file_changes(tmp_path):
    path = tmp_path / "helpline.toml"
    path.write_text("[[teams]]\nname = 'one'\n")
    settings = config.Settings(data_dir=str(tmp_path), config_file=str(path))
    first = site_config(settings)
    assert [t.name for t in first.teams] == ["one"]
    assert site_config(settings) is first  # unchanged file: the same object, not parsed again
    path.write_text("[[teams]]\nname = 'one'\n[[teams]]\nname = 'two'\n")
    os.utime(path, ns=(1, 10**18))
    assert [t.name for t in site_config(settings).teams] == ["one", "two"]
    # A file broken while running keeps the last good version in the worker ...
    path.write_text("[[teams]]\nname = \n")
    os.utime(path, ns=(1, 2 * 10**18))
    assert [t.name for t in site_config(settings).teams] == ["one", "two"]
    # ... but a process starting with a broken file is told.
    other = tmp_path / "other.toml"
    other.write_text("x = ")
    with pytest.raises(ConfigFileError):
        site_config(settings.replace(config_file=str(other)))
    assert site_config(config.Settings(data_dir=str(tmp_path))).teams == ()
    with pytest.raises(config.ConfigError, match="HELPLINE_CONFIG_FILE=.*missing.toml cannot be read"):
        site_config(settings.replace(config_file=str(tmp_path / "missing.toml")))
