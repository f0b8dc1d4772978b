"""``helpline report --json`` on a history built with explicit timestamps, whose figures are known."""

from __future__ import annotations

import datetime as dt
import json

from helpline.ingest.cli import main as cli
from helpline.router.report_figures import TicketRow, compute, p90
from helpline.store import fastsql
from helpline.store.tickets import csat_state
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers.tickets import ticket_ops
from helpline.store.inbound import message_state

from ..routing.conftest import in_tx
from ..workers.builders import Desk

S = dt.timedelta(seconds=1)


def reply(ticket_id: int, when: dt.datetime) -> None:
    run_tx(
        lambda: message_state.add_outbound(
            ticket_id,
            channel="email",
            author_role="agent",
            message_id="",
            sender="ann@example.com",
            subject="",
            text="Answer",
            now=when,
        )
    )


def status(desk: Desk, ticket_id: int, to: str, when: dt.datetime) -> None:
    in_tx(
        lambda: ticket_ops.change_status(
            ticket_ops.load(ticket_id), to, now=when, settings=desk.settings, actor="agent", reason="test"
        )
    )


def history(desk: Desk) -> tuple[dt.datetime, list[int]]:
    t0 = (m.utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
    ids = []
    for i in range(4):
        ticket, _ = desk.new_ticket(subject=f"Problem {i}", sender=f"c{i}@example.org")
        run_tx(
            lambda tid=ticket.id: fastsql.execute(
                'UPDATE "ticket" SET created_at = ?, assignee = ? WHERE id = ?',
                [t0, "ann@example.com" if tid % 2 else "ben@example.com", tid],
            )
        )
        ids.append(ticket.id)
    run_tx(lambda: fastsql.execute("UPDATE \"ticket\" SET priority = 'high' WHERE id = ?", [ids[3]]))
    a, b, c, _ = ids
    reply(a, t0 + 60 * S)  # one reply, resolved: first contact
    status(desk, a, "resolved", t0 + 600 * S)
    reply(b, t0 + 180 * S)  # two replies
    reply(b, t0 + 300 * S)
    status(desk, b, "resolved", t0 + 1200 * S)
    reply(c, t0 + 100 * S)  # resolved, reopened, resolved again
    status(desk, c, "resolved", t0 + 400 * S)
    status(desk, c, "open", t0 + 500 * S)
    status(desk, c, "resolved", t0 + 2000 * S)
    now = m.utcnow()
    run_tx(lambda: csat_state.record(a, 5, "great", now, via="page"))
    run_tx(lambda: csat_state.record(b, 3, None, now, via="page"))
    return t0, ids


def test_report_json_on_a_known_history(backend, monkeypatch, capsys):
    desk = Desk(backend)
    t0, ids = history(desk)
    monkeypatch.setenv("HELPLINE_DATABASE_URL", backend.database_url)
    monkeypatch.setenv("HELPLINE_DATA_DIR", backend.data_dir)
    assert cli.main(["report", "--json", "--since", (t0 - dt.timedelta(hours=1)).isoformat()]) == 0
    f = json.loads(capsys.readouterr().out)
    assert f["tickets"] == 4
    assert f["volume"] == {
        "channel": {"email": 4},
        "category": f["volume"]["category"],
        "priority": {"high": 1, "medium": 3},
    }
    assert sum(f["volume"]["category"].values()) == 4
    # Acknowledgements and surveys are system messages: only the agents' replies count.
    assert f["first_response_s"] == {"count": 3, "median": 100.0, "p90": 180.0}
    assert f["resolution_s"] == {"count": 3, "median": 1200.0, "p90": 2000.0}
    assert f["fcr"] == 1 / 3 and f["reopen_rate"] == 1 / 3
    assert f["csat"] == {"average": 4.0, "answered": 2, "sent": 3, "response_rate": 2 / 3}
    assert f["targets"]["first_response_median_s"] == {"value": 100.0, "target": 120.0, "met": True}
    assert f["targets"]["fcr"]["met"] is False and f["targets"]["csat"]["met"] is False
    # The reopened ticket's agent is no configured agent, so reopening left it unassigned.
    assert sum(a["assigned"] for a in f["agents"].values()) == 3
    assert sum(a["replies"] for a in f["agents"].values()) == 3 and sum(a["open"] for a in f["agents"].values()) == 1
    # The window: nothing created before t0 - 1 h's window start; --until before t0 leaves nothing.
    assert cli.main(["report", "--json", "--until", (t0 - dt.timedelta(hours=1)).isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["tickets"] == 0
    assert cli.main(["report"]) == 0
    text = capsys.readouterr().out
    assert "first-contact resolution: 33.3% [target > 70.0%: MISSED]" in text
    assert "median 100s, p90 3.0m [target median < 2.0m: ok]" in text


def test_business_hours_and_percentiles_as_plain_functions():
    from zoneinfo import ZoneInfo  # noqa: F401 - the calendar below is in UTC

    from helpline.store.siteconfig.config_file import parse

    cfg = parse('[business_hours.office]\ntimezone = "UTC"\nweekdays = ["09:00-17:00"]\n', "t.toml")
    cal = cfg.calendar("office")
    fri = dt.datetime(2026, 5, 1, 16, 50)  # a Friday, ten minutes before closing
    row = TicketRow(
        1,
        "email",
        "x",
        "low",
        "t",
        "",
        "resolved",
        fri,
        dt.datetime(2026, 5, 4, 9, 20),
        dt.datetime(2026, 5, 4, 9, 5),
        1,
        0,
        cal,
    )
    f = compute([row])
    assert f["first_response_s"]["median"] == 15 * 60  # 10 min on Friday + 5 on Monday
    assert f["resolution_s"]["median"] == 30 * 60
    assert p90(list(range(1, 11))) == 9 and p90([]) is None


def test_report_metrics_on_scrape_with_a_cache(backend):
    from prometheus_client import CollectorRegistry, generate_latest

    from helpline.ingest.http.report_metrics import ReportCollector

    history(Desk(backend))
    calls = []
    collector = ReportCollector(backend.replace(report_metrics_cache_s=3600))
    real = collector._compute
    collector._compute = lambda: calls.append(1) or real()
    reg = CollectorRegistry()
    reg.register(collector)
    text = generate_latest(reg).decode()
    generate_latest(reg)
    assert len(calls) == 1  # the second scrape used the cache (register() collected once too)
    assert 'helpline_report_duration_seconds{measure="first_response",stat="median"} 100.0' in text
    assert 'helpline_report_ratio{measure="fcr"} 0.333' in text
    assert "helpline_report_csat_average 4.0" in text


def test_sms_digit_answers_an_open_survey(backend):
    from helpline.store.envelope import Envelope
    from helpline.workers.inbound.sms_stage import sms_answer

    desk = Desk(backend)
    ticket, _ = desk.new_ticket()
    now = m.utcnow()
    run_tx(lambda: csat_state.create(ticket.id, "sms", "+15550001111", now, now + dt.timedelta(days=1)))
    env = Envelope.from_dict(
        {
            "channel": "sms",
            "external_id": "SM1",
            "received_at": now.isoformat(),
            "sender": {"address": "+15550001111", "kind": "phone"},
            "text": " 4 ",
        }
    )
    assert run_tx(lambda: sms_answer(env, now)) == f"CSAT answer 4 for ticket {ticket.id}"
    assert csat_state.get(ticket.id).score == 4
    env.text = "42"
    assert run_tx(lambda: sms_answer(env, now)) is None  # not a rating: an ordinary message
    env.sender.address = "+15559999999"
    env.text = "5"
    assert run_tx(lambda: sms_answer(env, now)) is None  # no survey open for that number
