"""``helpline explain``: every decision made for a ticket with its reasons, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpline.ingest.cli.explain_command import describe, explain, render
from helpline.store import models as m

from ..workers.builders import Desk, mail


def helpline(settings, *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    base.update({"HELPLINE_DATA_DIR": settings.data_dir, "HELPLINE_DATABASE_URL": settings.effective_database_url})
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args], env=base, capture_output=True, text=True, timeout=120
    )


def a_ticket_with_history(desk: Desk) -> m.Ticket:
    """An enterprise customer reports an outage, replies calmly, then angrily."""
    first, _ = desk.new_ticket(subject="Hello", body="Just a question about invoices.\n")
    m.Customer.update(tier="enterprise").where(m.Customer.id == first.customer_id).execute()
    t, mid = desk.new_ticket(
        subject="Our shop is down", body="Nothing loads since this morning. Thanks for looking into it!\n"
    )
    for body in ("Any news? I will wait.\n", "This is terrible. Horrible, unacceptable service, I am furious!\n"):
        raw, _ = mail(subject="Re: Our shop is down", body=body, in_reply_to=mid, references=[mid])
        assert desk.receive(raw).action == "appended"
    return m.Ticket.get_by_id(t.id)


def test_explain_prints_every_decision_with_its_reasons(backend):
    t = a_ticket_with_history(Desk(backend))
    out = helpline(backend, "explain", t.number.lower())
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith(f"{t.number}  [new/urgent]  Our shop is down\n")
    assert "customer Alice Customer (tier enterprise) · channel email" in text and "language en" in text
    lines = text.splitlines()

    def line(kind: str) -> str:
        found = [x for x in lines if x.split()[1:2] == [kind]]
        assert found, (kind, text)
        return found[0]

    assert line("ticket_created").endswith("ticket opened from email: no thread evidence")
    assert line("priority_set").endswith(
        "priority urgent — high: keyword 'down' in subject; +1: customer tier 'enterprise' (customer record)"
    )
    assert "language en: en at 1.00 (low-accuracy lingua)" in line("language_set")
    assert (
        "category " in line("category_set")
        and "confidence" in line("category_set")
        and "model default" in line("category_set")
    )
    assert "routed to team" in line("routed")
    assert line("ack_queued").endswith("acknowledgement queued to alice@example.org")
    assert "sentiment turned negative in message" in line("sentiment_dropped")
    assert "SLA started, policy default:urgent" in line("sla_started")
    block = lines[lines.index("priority, signal by signal:") + 1 : lines.index("messages:")]
    assert block[0].split()[0] == "keywords" and block[0].split()[1].startswith("+")
    assert any(x.split()[:2] == ["tier", "+1"] for x in block) and any(
        "category" in x and "no rule" in x for x in block
    )
    msgs = lines[lines.index("messages:") + 1 :]
    assert len(msgs) == 4  # three from the customer, the acknowledgement
    assert "language en sentiment +0." in msgs[0] and "language en sentiment -0." in msgs[-1]


def test_explain_json(backend):
    t = a_ticket_with_history(Desk(backend))
    out = helpline(backend, "explain", t.number, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ticket"]["number"] == t.number and data["ticket"]["priority"] == "urgent"
    assert data["ticket"]["customer"]["tier"] == "enterprise" and data["ticket"]["language"] == "en"
    kinds = [d["kind"] for d in data["decisions"]]
    assert kinds[:4] == ["ticket_created", "priority_set", "language_set", "category_set"]
    prio = data["decisions"][1]
    assert prio["data"]["reasons"] == [
        "high: keyword 'down' in subject",
        "+1: customer tier 'enterprise' (customer record)",
    ]
    assert prio["what"].startswith("priority urgent — ") and prio["actor"] == "system" and prio["at"].endswith("Z")
    drop = next(d for d in data["decisions"] if d["kind"] == "sentiment_dropped")
    angry = data["messages"][-1]
    assert drop["data"]["message"] == angry["id"] and angry["sentiment"] == drop["data"]["to"] < -0.5
    assert [msg["direction"] for msg in data["messages"]] == ["in", "out", "in", "in"]
    assert data["messages"][1]["language"] is None  # our acknowledgement is not scored
    signals = data["priority_signals"]
    assert list(signals) == ["keywords", "tier", "category", "sentiment", "repeated contact", "SLA"]
    first = prio["data"]["contributions"]
    assert [(c["signals"], c["steps"]) for c in first if c["steps"]] == [(["keywords"], 1), (["tier"], 1)]
    assert signals["keywords"]["steps"] >= 1 and signals["tier"]["steps"] >= 1
    assert signals["keywords"]["details"][0].startswith("medium -> high (+1): rule ")
    assert signals["category"] == {"steps": 0, "details": []}
    assert any(x.startswith("started policy default:urgent") for x in signals["SLA"]["details"])


def test_an_unknown_ticket_says_how_to_find_one(backend):
    out = helpline(backend, "explain", "HL-2026-999999")
    assert out.returncode == 1 and "no ticket 'HL-2026-999999'" in out.stderr and "Traceback" not in out.stderr


def test_sentences_for_decisions_of_other_stages():
    assert (
        describe("priority_changed", {"from": "medium", "to": "high", "reason": "routing rule 'vip'"})
        == "priority medium -> high: routing rule 'vip'"
    )
    assert (
        describe("ack_suppressed", {"reason": "auto-submitted mail"}) == "no acknowledgement sent: auto-submitted mail"
    )
    assert (
        describe("possible_follow_up", {"ticket": 7, "reason": "tag from a non-participant"})
        == "possibly a follow-up of ticket 7: tag from a non-participant"
    )
    assert (
        describe(
            "priority_not_raised",
            {
                "priority": "low",
                "rules_say": "high",
                "reasons": ["high: keyword 'x'"],
                "reason": "a@b set the priority by hand",
            },
        )
        == "priority kept at low (the rules said high: high: keyword 'x') — a@b set the priority by hand"
    )
    assert (
        describe("assigned", {"agent": "bob@example.com", "reason": "least loaded"})
        == "assigned to bob@example.com: least loaded"
    )
    assert describe(
        "category_set",
        {
            "category": "unclassified",
            "confidence": 0.31,
            "predicted": "refund",
            "runner_up": "payment",
            "runner_up_confidence": 0.2,
            "model": "v3",
            "threshold": 0.5,
            "team": "triage",
            "reason": "unclassified: best 'refund' at 0.31 is below the threshold 0.5",
        },
    ) == (
        "category unclassified (confidence 0.31, runner-up payment at 0.20, model v3, threshold 0.5), team triage: "
        "unclassified: best 'refund' at 0.31 is below the threshold 0.5"
    )
    assert describe("something_new", {"a": 1, "reason": "why not"}) == "a=1; why not"  # unknown kinds still read
    assert describe("sentiment_dropped", {"message": "odd"}) == "message='odd'"  # an odd shape does not crash


def test_render_marks_what_people_did():
    out = explain(
        {
            "number": "HL-2026-000001",
            "subject": "S",
            "status": "open",
            "priority": "low",
            "category": None,
            "team": None,
            "assignee": None,
            "language": None,
            "channel": "email",
            "created_at": "t0",
            "customer": {"id": 1, "name": "", "tier": "standard"},
            "events": [
                {
                    "kind": "priority_set",
                    "actor": "slack:U1",
                    "created_at": "t1",
                    "data": {"priority": "low", "from": "medium", "reasons": ["set by an agent in Slack"]},
                }
            ],
            "messages": [],
        },
        {},
    )
    text = render(out)
    assert "  t1  priority_set  priority low (was medium) — set by an agent in Slack [slack:U1]" in text
    assert "customer (no name) (tier standard)" in text
