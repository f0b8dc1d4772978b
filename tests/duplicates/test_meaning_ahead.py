"""The comparison by meaning embeds before the write transaction (``pipeline.prepare``), not under the lock:
on SQLite the transaction holds the desk's one writer lock, and 7-14 ms of embedding there stalled every other
worker and intake. Through the real intake and pipeline, on SQLite and PostgreSQL, with the real embedder
wrapped to record whether a write transaction was open at each call."""

from __future__ import annotations

import numpy as np
import pytest

from helpline.router.categories import embeddings
from helpline.store import db
from helpline.store import models as m
from helpline.workers import pipeline
from helpline.workers.inbound import duplicates

from ..support.fake_twilio import inbound_form
from ..workers.builders import events, mail
from .test_duplicates import LOCKED, LOCKED_AGAIN

INVOICE = "Could you send me the invoice for the annual plan as a PDF?"


class Recording:
    """The process's embedder, recording each call's texts and whether a write transaction was open."""

    def __init__(self) -> None:
        self.real = embeddings.get_embedder()
        self.calls: list[tuple[list[str], bool]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append((list(texts), db.database().in_transaction()))
        return self.real.embed(texts)

    def in_tx(self) -> list[str]:
        return [t for texts, inside in self.calls if inside for t in texts]

    def outside(self) -> list[str]:
        return [t for texts, inside in self.calls if not inside for t in texts]


@pytest.fixture
def recording(monkeypatch) -> Recording:
    rec = Recording()
    monkeypatch.setattr(embeddings, "get_embedder", lambda: rec)
    return rec


def _similarity(rec: Recording, a: str, b: str) -> float:
    v = rec.real.embed([a, b])
    return round(float(v[0] @ v[1]), 2)


@pytest.mark.parametrize("ahead", [True, False], ids=["ahead", "in-transaction"])
def test_the_new_text_is_embedded_before_the_transaction_and_the_suggestion_is_the_same(
    desk, recording, monkeypatch, ahead
):
    """ahead: every embedding before the transaction, none under the lock. in-transaction (``meaning_ahead``
    switched off, as before): the same suggestion, embedded under the lock, which shows the recording sees it."""
    if not ahead:
        monkeypatch.setattr(duplicates, "meaning_ahead", lambda *a, **kw: None)
    first = desk.receive(mail(subject="Login problem", body=LOCKED)[0])
    assert recording.calls == []  # a new customer has no open ticket: nothing to compare, nothing embedded
    second = desk.receive(mail(subject="Still locked out", body=LOCKED_AGAIN)[0])
    new_text, first_text = "Still locked out\n" + LOCKED_AGAIN, "Login problem\n" + LOCKED
    assert second.action == "created" and second.ticket_id != first.ticket_id
    suggested = events(second.ticket_id, "merge_suggested")
    assert len(suggested) == 1 and suggested[0].data["by"] == "meaning"
    assert suggested[0].data["ticket"] == m.Ticket.get_by_id(first.ticket_id).number
    assert (
        suggested[0].data["similarity"] == _similarity(recording, new_text, first_text) >= duplicates.MEANING_THRESHOLD
    )
    if ahead:
        assert recording.in_tx() == []
        assert sorted(recording.outside()) == sorted([new_text, first_text])
    else:
        assert recording.outside() == [] and new_text in recording.in_tx()


def test_a_candidate_opened_after_the_reads_ahead_is_embedded_in_the_transaction_alone(desk, recording, monkeypatch):
    """The vectors computed ahead are keyed by their text: when the customer's open tickets changed between
    ``prepare`` and the transaction, only the text not seen ahead is embedded under the lock, and the answer is
    what the transaction reads."""
    first = desk.receive(mail(subject="Login problem", body=LOCKED)[0])
    second_id = desk.deliver(mail(subject="Still locked out", body=LOCKED_AGAIN)[0])
    pre = pipeline.prepare(second_id, desk.settings)
    assert pre is not None and pre.meaning is not None
    assert set(pre.meaning.by_text) == {"Still locked out\n" + LOCKED_AGAIN, "Login problem\n" + LOCKED}
    other = desk.receive(mail(subject="Invoice", body=INVOICE)[0])  # opened in between: a new candidate
    assert other.action == "created" and not events(other.ticket_id, "merge_suggested")
    recording.calls.clear()
    monkeypatch.setattr(pipeline, "prepare", lambda inbound_id, settings: pre)  # the reads ahead, now stale
    second = desk.run(second_id)
    assert recording.in_tx() == ["Invoice\n" + INVOICE] and recording.outside() == []
    suggested = events(second.ticket_id, "merge_suggested")
    assert len(suggested) == 1 and suggested[0].data["by"] == "meaning"
    assert suggested[0].data["ticket"] == m.Ticket.get_by_id(first.ticket_id).number


def test_nothing_is_embedded_for_a_text_in_a_known_conversation(desk, recording):
    """A text whose conversation already has a ticket joins it: the reads ahead see the conversation's key and
    spare the embedding (the customer has an open ticket and the words differ, so without it they would not)."""
    first = desk.run(desk.accept(inbound_form(LOCKED)))
    second = desk.run(desk.accept(inbound_form(LOCKED_AGAIN)))
    assert first.action == "created" and second.action == "appended" and second.ticket_id == first.ticket_id
    assert recording.calls == []


def test_the_words_alike_spare_the_embedding(desk, recording):
    """When the words' signature finds the open ticket alike, meaning is never asked: nothing is embedded."""
    from .test_duplicates import OUTAGE, OUTAGE_AGAIN

    first = desk.receive(mail(subject="Internet down", body=OUTAGE)[0])
    second = desk.receive(mail(subject="URGENT: still no connection", body=OUTAGE_AGAIN + "\n\nAlice")[0])
    assert second.ticket_id == first.ticket_id and recording.calls == []
