"""The near-duplicate stage: a customer writing about the same problem twice.

A message with no thread evidence would open a new ticket. If the same
customer (any of their linked identities: an email, then a text) has an open
ticket opened within ``dup_window_s`` whose first message reads alike, then:

- at or above ``dup_merge_threshold`` the message joins that ticket (an
  ``near_duplicate_merged`` event says why, and the message's thread keys point
  there, so the customer's replies to either message land in one ticket);
- from ``dup_suggest_threshold`` up, a new ticket is opened and a
  ``merge_suggested`` event on it names the other ticket (Slack/API show it,
  ``helpline tickets merge`` does it);
- below, or when the two texts name different reference numbers, nothing;
- except that, with the ``embeddings`` extra installed, when the words found
  nothing alike among the customer's open tickets, the meaning is compared
  (sentence embeddings of the new text and each of the newest few tickets'
  first message): at or above ``MEANING_THRESHOLD`` a suggestion, never a merge
  (a paraphrase of the same problem shares few words: on Bitext pairs of one
  intent the words' signature reaches 0.3 for 10 %, the meaning 0.6 for 43 %,
  while pairs of different intents pass for 0.2 % and 0.5 %). Only then,
  since that is the only case where it can change the answer: a few ms of CPU
  for the rare message from a customer with another open ticket.

The signature is computed in ``pipeline.prepare`` (CPU, outside the write
transaction); here are only the indexed reads and the inserts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from helpline.router import similarity as sim
from helpline.router.categories import embeddings
from helpline.store.knowledge import kb_tickets
from helpline.store.tickets import similarity_state as state
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs
from helpline.workers.inbound.threads import Candidate, ThreadDecision


def fingerprint_of(env: Envelope, settings: Settings) -> sim.Fingerprint | None:
    """The signature of a customer's new text, or None when the stage is off or the text too short."""
    if not settings.similarity or env.author_role != "customer":
        return None
    return sim.fingerprint(env.text or env.full_text)


MEANING_THRESHOLD = 0.6  # cosine of the two texts' sentence embeddings (see above); a suggestion only
MEANING_CANDIDATES = 3  # the customer's newest open tickets whose first message is compared by meaning


@dataclass(frozen=True)
class Near:
    ticket_id: int
    number: str
    score: float
    merge: bool  # at or above the merge threshold; otherwise a suggestion
    by: str = "words"  # words (the signature) or meaning (embeddings)

    def as_event(self) -> dict:
        out: dict = {"ticket": self.number, "similarity": round(self.score, 2)}
        if self.by != "words":
            out["by"] = self.by
        return out


def best_match(
    fp: sim.Fingerprint, tickets: Sequence[state.Indexed], *, merge_threshold: float, suggest_threshold: float
) -> Near | None:
    """The most similar of the customer's open tickets, if similar enough; a plain function."""
    mine = fp.as_array()
    best: Near | None = None
    for t in tickets:
        if sim.refs_conflict(fp.refs, sim.parse_refs(t.refs)):
            continue
        score = sim.similarity(mine, t.signature)
        if score >= suggest_threshold and (best is None or score > best.score):
            best = Near(t.ticket_id, t.number, score, score >= merge_threshold)
    return best


def meaning_match(
    text: str,
    refs: frozenset[str],
    candidates: Sequence[tuple[state.Indexed, str]],
    vectors: Callable[[list[str]], np.ndarray],
    threshold: float = MEANING_THRESHOLD,
) -> Near | None:
    """The candidate (ticket, its first text) whose text means the most alike ``text``, as a suggestion, if
    its cosine reaches ``threshold``; tickets naming other reference numbers are left out. A plain function
    (``vectors``: unit-length embeddings, one row a text)."""
    usable = [
        (t, other) for t, other in candidates if other.strip() and not sim.refs_conflict(refs, sim.parse_refs(t.refs))
    ]
    if not usable or not text.strip():
        return None
    v = vectors([text] + [other for _, other in usable])
    sims = v[1:] @ v[0]
    best = int(np.argmax(sims))
    score = float(sims[best])
    if score < threshold:
        return None
    return Near(usable[best][0].ticket_id, usable[best][0].number, score, False, "meaning")


def find_near(
    customer_id: int, fp: sim.Fingerprint, settings: Settings, now: dt.datetime, text: str = ""
) -> Near | None:
    """Serialises this customer's new messages (PostgreSQL; SQLite's write lock does it already), so
    an email and a text sent seconds apart cannot both open a ticket, then looks: by the words' signature,
    then (``text`` given, the extra installed, nothing found) by meaning."""
    state.serialise_customer(customer_id)
    tickets = state.customer_open(customer_id, now - dt.timedelta(seconds=settings.dup_window_s))
    if not tickets:
        return None
    near = best_match(
        fp, tickets, merge_threshold=settings.dup_merge_threshold, suggest_threshold=settings.dup_suggest_threshold
    )
    if near is not None or not settings.duplicates_by_meaning or not text.strip() or embeddings.missing() is not None:
        return near
    candidates = [(t, kb_tickets.question_of(t.ticket_id)[0]) for t in tickets[:MEANING_CANDIDATES]]
    return meaning_match(text, fp.refs, candidates, lambda texts: embeddings.get_embedder().embed(texts))


def as_decision(near: Near) -> ThreadDecision:
    return ThreadDecision(
        "append",
        near.ticket_id,
        f"near-duplicate of {near.number} (similarity {near.score:.2f}) from the same customer",
    )


def after_message(
    ticket_id: int,
    customer_id: int,
    fp: sim.Fingerprint | None,
    near: Near | None,
    created: bool,
    message_id: int,
    now: dt.datetime,
) -> None:
    """Near-duplicate events, and the new ticket's fingerprint."""
    if near is not None and near.merge and not created:
        audit_events.event(ticket_id, "near_duplicate_merged", {**near.as_event(), "message": message_id}, now=now)
        return
    if not created or fp is None:
        return
    # Incident grouping reads this row a moment later (workers.incident_grouper), off this transaction.
    state.index_ticket(ticket_id, customer_id, fp.signature, fp.refs, now)
    if near is not None:
        audit_events.event(
            ticket_id,
            "merge_suggested",
            {
                **near.as_event(),
                "reason": (
                    f"the same customer's open ticket {near.number} reads alike (similarity {near.score:.2f}); "
                    f"`helpline tickets merge <this ticket> --into {near.number}` if it is the same problem"
                ),
            },
            now=now,
        )


def follow_merges(cands: list[Candidate]) -> list[Candidate]:
    """Evidence pointing at a merged ticket points at the ticket it was merged into.

    Thread keys move with a merge, but a reply token or a subject tag names the
    source ticket for ever; without this a reply to the source would open a
    follow-up ticket instead of landing on the target."""
    merged = [c.ticket_id for c in cands if c.status == "merged"]
    if not merged:
        return cands
    targets = state.merge_targets(merged)
    out: list[Candidate] = []
    for c in cands:
        tid = targets.get(c.ticket_id) if c.status == "merged" else None
        if tid is None:
            out.append(c)
            continue
        t = ticket_refs.get(tid)
        out.append(
            Candidate(t.id, t.number, t.status, c.via, t.resolved_at, thread_state.participants_of(t.id, t.customer_id))
        )
    return out
