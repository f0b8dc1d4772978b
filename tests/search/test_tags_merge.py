"""Tags follow a merge (the target gets the source's tags, the source keeps them), a split takes off
what the merge added (and only that), and the Slack card and its update sweep see tag changes."""

from __future__ import annotations

from helpline.notifier.slack import slack_cards
from helpline.store import models as m
from helpline.store.tickets import tags
from helpline.store.db import run_tx
from helpline.workers import slack_outbox
from helpline.workers.tickets import ticket_ops
from helpline.workers.tickets import ticket_split
from helpline.workers.tickets import ticket_tags
from helpline.store.inbound import audit_events

from .test_search_index import _ticket, desk, numbers  # noqa: F401 - desk is a fixture


def _tx(fn):  # noqa: ANN001, ANN202
    def inner():  # noqa: ANN202
        with audit_events.buffered_events():
            return fn()

    return run_tx(inner)


def _events(ticket_id: int, kind: str) -> list[dict]:
    return [e.data for e in m.Event.select().where((m.Event.ticket == ticket_id) & (m.Event.kind == kind))]


def test_merge_carries_tags_and_split_takes_back_only_what_it_added(desk):  # noqa: F811
    src = _ticket(desk, "Refund please", "I want my money back for the kettle.\n", sender="Ann <ann@example.org>")
    dst = _ticket(desk, "Kettle broken", "The kettle stopped working.\n", sender="Ann <ann@example.org>")
    now = m.utcnow()
    _tx(lambda: ticket_tags.change(src.id, ["vip", "refund"], [], actor="test", now=now, via="test"))
    _tx(lambda: ticket_tags.change(dst.id, ["refund", "hardware"], [], actor="test", now=now, via="test"))
    _tx(
        lambda: ticket_ops.merge(
            ticket_ops.load(src.id), ticket_ops.load(dst.id), now=m.utcnow(), settings=desk.settings, actor="test"
        )
    )
    assert run_tx(lambda: tags.tags_of(dst.id)) == ["hardware", "refund", "vip"]
    assert run_tx(lambda: tags.tags_of(src.id)) == ["refund", "vip"]  # the merged ticket keeps its own
    assert _events(dst.id, "merged")[-1]["tags_added"] == ["vip"]
    assert dst.number in numbers("tag:vip")  # the index follows (triggers on ticket_tag)
    card = run_tx(lambda: slack_cards.load_card(dst.id, desk.settings))
    assert card is not None and card.tags == ["hardware", "refund", "vip"]

    _tx(lambda: ticket_split.split(ticket_ops.load(src.id), now=m.utcnow(), settings=desk.settings, actor="test"))
    assert run_tx(lambda: tags.tags_of(dst.id)) == ["hardware", "refund"]  # its own "refund" stays
    assert run_tx(lambda: tags.tags_of(src.id)) == ["refund", "vip"]
    assert _events(dst.id, "split")[-1]["tags_removed"] == ["vip"]
    assert numbers("tag:vip") == {src.number}


def test_merge_respects_the_tag_limit(desk, monkeypatch):  # noqa: F811
    monkeypatch.setattr(tags, "MAX_TAGS", 3)
    src = _ticket(desk, "One", "First question.\n", sender="Bo <bo@example.org>")
    dst = _ticket(desk, "Two", "Second question.\n", sender="Bo <bo@example.org>")
    now = m.utcnow()
    _tx(lambda: ticket_tags.change(src.id, ["a1", "a2", "a3"], [], actor="test", now=now, via="test"))
    _tx(lambda: ticket_tags.change(dst.id, ["b1", "b2"], [], actor="test", now=now, via="test"))
    _tx(
        lambda: ticket_ops.merge(
            ticket_ops.load(src.id), ticket_ops.load(dst.id), now=m.utcnow(), settings=desk.settings, actor="test"
        )
    )
    assert run_tx(lambda: tags.tags_of(dst.id)) == ["a1", "b1", "b2"]
    _tx(lambda: ticket_split.split(ticket_ops.load(src.id), now=m.utcnow(), settings=desk.settings, actor="test"))
    assert run_tx(lambda: tags.tags_of(dst.id)) == ["b1", "b2"]


def test_a_tag_change_is_a_card_change(desk):  # noqa: F811
    t = _ticket(desk, "Card", "Show my tags.\n", sender="Cy <cy@example.org>")
    assert "tags_changed" in slack_outbox.CARD_EVENTS
    _tx(lambda: ticket_tags.change(t.id, ["escalated"], [], actor="test", now=m.utcnow(), via="test"))
    card = run_tx(lambda: slack_cards.load_card(t.id))
    assert card is not None and card.tags == ["escalated"]
