"""A help desk with teams, agents and SLA policies on each backend, and a clock the tests set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpline.store.siteconfig import config_file
from helpline.store.tickets import routing_state
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers.tickets import ticket_ops
from helpline.store.inbound import audit_events

from ..workers.builders import Desk

BERLIN = ZoneInfo("Europe/Berlin")

DESK_TOML = """
[business_hours.office]
timezone = "Europe/Berlin"
weekdays = ["09:00-17:00"]
holidays = ["2026-04-03"]

[[teams]]
name = "billing"
addresses = ["billing@example.com"]
categories = ["invoice", "refund"]
strategy = "least_loaded"
business_hours = "office"
lead_email = "billing-lead@example.com"
slack_channel = "C0BILLING"

[[teams]]
name = "tech"
strategy = "round_robin"
default = true

[[teams]]
name = "experts"
addresses = ["experts@example.com"]
strategy = "skills"

[[agents]]
email = "ann@example.com"
teams = ["billing"]
capacity = 2

[[agents]]
email = "ben@example.com"
teams = ["billing"]
capacity = 3
tier = 2

[[agents]]
email = "tom@example.com"
teams = ["tech"]
capacity = 5

[[agents]]
email = "tia@example.com"
teams = ["tech"]
capacity = 5

[[agents]]
email = "eva@example.com"
teams = ["experts"]
skills = { de = 5 }

[[agents]]
email = "eli@example.com"
teams = ["experts"]
skills = { refund = 2, en = 1 }

[[routing.rules]]
name = "VIPs are high"
when.subject_matches = "(?i)\\\\bvip\\\\b"
set.priority = "high"
"""


def berlin(*args: int) -> dt.datetime:
    """A Berlin wall-clock time as naive UTC (the database's form)."""
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(dt.timezone.utc).replace(tzinfo=None)


def write_config(tmp_path: Path, text: str, name: str = "helpline.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def configured_desk(settings, tmp_path: Path, text: str = DESK_TOML, **over) -> Desk:  # noqa: ANN001, ANN003
    """A desk whose configuration file is ``text``, with its teams and agents synced."""
    over.setdefault("support_addresses", ("support@example.com", "billing@example.com", "experts@example.com"))
    s = settings.replace(config_file=write_config(tmp_path, text), **over)
    run_tx(lambda: routing_state.sync(config_file.site_config(s)))
    return Desk(s)


@pytest.fixture
def routed(backend, tmp_path) -> Desk:
    return configured_desk(backend, tmp_path)


def in_tx(fn):  # noqa: ANN001, ANN201
    """Run ``fn`` the way the workers do: one transaction, events buffered."""

    def tx():  # noqa: ANN202
        with audit_events.buffered_events():
            return fn()

    return run_tx(tx)


def state(ticket_id: int) -> ticket_ops.TicketState:
    return run_tx(lambda: ticket_ops.load(ticket_id))


def agent_loads() -> dict[str, tuple[int, int]]:
    """email -> (open_count column, active tickets actually assigned)."""
    out = {}
    for a in routing_state.Agent.select():
        real = (
            m.Ticket.select().where((m.Ticket.assignee == a.email) & m.Ticket.status.in_(m.TicketStatus.ACTIVE)).count()
        )
        out[a.email] = (a.open_count, real)
    return out


def event_data(ticket_id: int, kind: str) -> list[dict]:
    return [
        e.data
        for e in m.Event.select().where((m.Event.ticket == ticket_id) & (m.Event.kind == kind)).order_by(m.Event.id)
    ]


@pytest.fixture
def desk(backend) -> Desk:
    """A desk without a configuration file."""
    return Desk(backend)
