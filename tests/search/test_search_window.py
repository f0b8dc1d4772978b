"""The window of newest matches on PostgreSQL: whichever way it is found (a short walk, a longer bounded
walk, or the GIN index), it is the same ids, newest first; and the search over it gives the same hits.
On SQLite the same scenario checks the hits (its window is one FTS5 statement)."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.store import fastsql
from helpline.store.fulltext import search
from helpline.store.db import is_sqlite, run_tx
from helpline.store.fulltext.search_syntax import parse
from helpline.workers.tickets import ticket_tags

from .test_search_index import _ticket, desk, numbers  # noqa: F401 - desk is a fixture


def _truth(words: str, need: int) -> list[int]:
    """Every message matching the words, newest first, the brute-force way (no index, no window)."""
    terms = parse(words).positive
    params: list = []
    match = search._pg_match("mm", terms, params)
    rows = fastsql.fetchall(f'SELECT mm.id FROM "message" mm WHERE {match} ORDER BY mm.id DESC', params)
    return [r[0] for r in rows][:need]


@pytest.mark.parametrize("sample", [1, 3, 1000])
def test_every_way_to_the_window_finds_the_same_newest_matches(desk, monkeypatch, sample):  # noqa: F811
    monkeypatch.setattr(search, "RANK_WINDOW", 3)
    monkeypatch.setattr(search, "SAMPLE_ROWS", sample)
    made = []
    for i in range(8):
        made.append(
            _ticket(
                desk,
                f"Gadget {i}",
                f"The gadget number {i} hums.\n" if i % 2 else f"A lamp number {i} flickers.\n",
                sender=f"C{i} <c{i}@example.org>",
            )
        )
    common = {t.number for t in made}  # "number": in every message
    rare = {t.number for i, t in enumerate(made) if i % 2}  # "gadget": subject of all, body of half
    if not is_sqlite():
        for words in ("number", "gadget hums", "flickers", "nowhere"):
            got = run_tx(lambda w=words: search._pg_window_ids(parse(w).positive), durable=False)
            assert [mid for mid, _ in got] == _truth(words, search.RANK_WINDOW + 1), words
            owners = run_tx(lambda g=got: dict(fastsql.fetchall('SELECT id, ticket_id FROM "message"')), durable=False)
            assert all(owners[mid] == tid for mid, tid in got), words  # each id with its own ticket
    # more matches than the window: the newest; fewer: all of them, ranked
    newest = run_tx(lambda: search.search_tickets(parse("number"), limit=2), durable=False)
    assert [h.number for h in newest] == [made[7].number, made[6].number]
    assert numbers("gadget hums") == rare
    assert numbers("lamp flickers") == common - rare
    assert numbers("nowhere") == set()
    # filters apply after the window; too few left: every match is looked at
    assert numbers('number subject:"gadget 0"') == {made[0].number}
    assert numbers("number -hums") == common - rare


def test_unranked_window_with_filters_and_ticket_documents(desk, monkeypatch):  # noqa: F811
    """More matches than the window: filters are applied to the window's tickets first, and a ticket that
    matches only by its own document (a tag) comes after every message hit, and only when asked for."""
    monkeypatch.setattr(search, "RANK_WINDOW", 3)
    bodies = [
        _ticket(desk, f"Widget {i}", f"The sprocket number {i} rattles.\n", sender=f"S{i} <s{i}@example.org>")
        for i in range(6)
    ]
    only_subject = _ticket(desk, "A question", "Nothing else in here.\n", sender="T <t@example.org>")
    now = dt.datetime(2026, 1, 1)
    run_tx(lambda: ticket_tags.change(only_subject.id, ["sprocket"], [], actor="test", now=now, via="test"))
    everything = {t.number for t in bodies} | {only_subject.number}
    assert numbers("sprocket") == everything
    first = run_tx(lambda: search.search_tickets(parse("sprocket"), limit=2), durable=False)
    assert [h.number for h in first] == [bodies[5].number, bodies[4].number]  # newest message hits first
    assert numbers('sprocket subject:"widget 1"') == {bodies[1].number}  # too few in the window: all matches
    assert numbers("sprocket subject:question") == {only_subject.number}  # by its tag, in the ticket document
