"""Macros from DIR/macros/: synced, applied through the API and the CLI (reply path, actions, audit)."""

from __future__ import annotations

import json

from helpline.ingest.cli import main as cli
from helpline.store.knowledge import kb_state
from helpline.store import models as m

from ..workers.builders import events
from .helpers import article, run_sync, write

MACRO = """---
name: refund-done
language: en
actions:
  status: waiting_customer
  priority: low
  tags: [refund, billing]
---
Hello {{ customer_name }},

your refund for {{ ticket_number }} is on its way. See {{ articles['refund-times'].title }}.

{{ agent_name }}
"""


def folder(tmp_path):
    root = tmp_path / "kb"
    write(root, "refund-times.md", article("How long refunds take", ["when do I get my refund"]))
    write(root, "macros/refund-done.md", MACRO)
    write(root, "macros/broken.md", "---\nname: broken\n---\nHi {{ customer_name.__class__ }\n")
    return root


def test_sync_and_apply_through_the_api(api, tmp_path):
    report = run_sync(api.desk.settings, folder(tmp_path))
    assert report.macros["added"] == ["refund-done"]
    (err,) = report.errors
    assert err.path == "macros/broken.md" and err.line == 4 and "template" in err.message
    ticket, _ = api.desk.new_ticket(subject="Refund?", sender="Alice Example <alice@example.org>")
    assert [x["name"] for x in api.call("GET", "/kb/macros", key="read").json()["macros"]] == ["refund-done"]
    assert api.call("POST", f"/tickets/{ticket.number}/macros/refund-done", key="read").status_code == 403
    r = api.call(
        "POST",
        f"/tickets/{ticket.number}/macros/refund-done",
        key="write",
        json={"author": "Dana Agent"},
        headers={"Idempotency-Key": "m1"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["text"].startswith("Hello Alice Example,") and ticket.number in body["text"]
    assert "How long refunds take" in body["text"] and body["text"].endswith("Dana Agent")
    reply = m.Outbox.get((m.Outbox.ticket == ticket.id) & (m.Outbox.kind == "reply"))
    assert "your refund for" in json.dumps(reply.payload)
    t = m.Ticket.get_by_id(ticket.id)
    assert (t.status, t.priority) == ("waiting_customer", "low")
    (ev,) = events(ticket, "macro_applied")
    assert ev.data["macro"] == "refund-done" and ev.data["via"] == "api" and ev.data["tags"] == ["refund", "billing"]
    again = api.call(
        "POST",
        f"/tickets/{ticket.number}/macros/refund-done",
        key="write",
        json={"author": "Dana Agent"},
        headers={"Idempotency-Key": "m1"},
    )
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert len(events(ticket, "macro_applied")) == 1
    assert api.call("POST", f"/tickets/{ticket.number}/macros/nope", key="write").status_code == 404


def test_apply_from_the_cli(backend, tmp_path, monkeypatch, capsys):
    from ..workers.builders import Desk

    desk = Desk(backend)
    run_sync(backend, folder(tmp_path))
    ticket, _ = desk.new_ticket(subject="Refund?", sender="Bob <bob@example.org>")
    monkeypatch.setenv("HELPLINE_DATABASE_URL", backend.database_url)
    monkeypatch.setenv("HELPLINE_DATA_DIR", backend.data_dir)
    assert cli.main(["macros", "list"]) == 0
    assert "refund-done" in capsys.readouterr().out
    assert cli.main(["macros", "apply", "refund-done", ticket.number, "--author", "Eve"]) == 0
    assert "applied; reply by email to bob@example.org" in capsys.readouterr().out
    (ev,) = events(ticket, "macro_applied")
    assert ev.data["via"] == "cli" and ev.actor.startswith("cli:")
    assert m.Ticket.get_by_id(ticket.id).status == "waiting_customer"
    assert cli.main(["macros", "apply", "nope", ticket.number]) == 1
    assert "no macro 'nope'" in capsys.readouterr().err
    # a removed macro file retires the macro
    (tmp_path / "kb/macros/refund-done.md").unlink()
    assert run_sync(backend, tmp_path / "kb").macros["retired"] == ["refund-done"]
    assert kb_state.list_macros() == []
