"""``helpline report``: suggestion use, first response with and without a used suggestion, deflection."""

from __future__ import annotations

import datetime as dt
import json

from helpline.ingest.cli import main as cli
from helpline.store.knowledge import kb_state
from helpline.store import models as m
from helpline.store.db import run_tx

from ..reports.test_report import history


def test_report_shows_suggestion_use_and_first_response_split(backend, monkeypatch, capsys):
    from ..workers.builders import Desk

    desk = Desk(backend)
    t0, (a, b, c, d) = history(desk)  # first replies: a 60 s, b 180 s, c 100 s, d none
    now = m.utcnow()

    def suggestions() -> None:
        ids = kb_state.replace_suggestions(
            a,
            [
                {"kind": "article", "ref": "x", "rank": 0, "score": 9.0},
                {"kind": "ticket", "ref": "HL-1", "rank": 1, "score": 3.0},
            ],
            now,
        )
        kb_state.mark_suggestion(ids[0], "sent", "slack:U1", now)
        kb_state.mark_suggestion(ids[1], "dismissed", "slack:U1", now)
        (e,) = kb_state.replace_suggestions(c, [{"kind": "article", "ref": "y", "rank": 0, "score": 5.0}], now)
        kb_state.mark_suggestion(e, "edited", "slack:U2", now)
        kb_state.replace_suggestions(b, [{"kind": "article", "ref": "z", "rank": 0, "score": 2.0}], now)
        for tid in (b, d):
            m.Event.insert(ticket=tid, kind="deflection_offered", data={}, created_at=now).execute()
        m.Event.insert(ticket=d, kind="self_served", data={}, created_at=now).execute()

    run_tx(suggestions)
    monkeypatch.setenv("HELPLINE_DATABASE_URL", backend.database_url)
    monkeypatch.setenv("HELPLINE_DATA_DIR", backend.data_dir)
    assert cli.main(["report", "--json", "--since", (t0 - dt.timedelta(hours=1)).isoformat()]) == 0
    k = json.loads(capsys.readouterr().out)["knowledge"]
    assert k["suggestions"] == {
        "shown": 4,
        "tickets": 3,
        "sent": 1,
        "edited": 1,
        "dismissed": 1,
        "tickets_answered_with_one": 2,
    }
    assert k["first_response_with_suggestion_s"] == {"count": 2, "median": 80.0, "p90": 100.0}
    assert k["first_response_without_suggestion_s"] == {"count": 1, "median": 180.0, "p90": 180.0}
    assert k["deflection"] == {"offered": 2, "self_served": 1, "rate": 0.5}
    assert cli.main(["report", "--since", (t0 - dt.timedelta(hours=1)).isoformat()]) == 0
    text = capsys.readouterr().out
    assert "suggestions: 4 shown on 3 tickets; 1 sent, 1 edited and sent, 1 dismissed" in text
    assert "first response with a suggestion: median 80s (2 tickets); without: median 3.0m (1 tickets)" in text
    assert "deflection: 1 self-served of 2 offered an article (50.0%)" in text
