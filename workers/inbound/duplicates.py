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
transaction); here are only the indexed reads and the inserts. So are the
sentence vectors, when the comparison by meaning will most likely run
(``meaning_ahead``: the same reads, once before the transaction, decide it):
on SQLite the transaction holds the desk's one writer lock, and 7-14 ms of
embedding there held every other worker and intake. Inside, a text whose
vector was computed ahead is not embedded again; only a text the reads ahead
did not see (a ticket opened or changed in between) is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

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
from helpline.workers.inbound import threads
from helpline.workers.inbound.threads import Candidate, ThreadDecision

log = logging.getLogger("helpline.workers.duplicates")


def fingerprint_of(env: Envelope, settings: Settings) -> sim.Fingerprint | None:
    """The signature of a customer's new text, or None when the stage is off or the text too short."""
    if not settings.similarity or env.author_role != "customer":
        return None
    return sim.fingerprint(env.text or env.full_text)


def meaning_text(env: Envelope) -> str:
    """The text compared by meaning: the subject, then the message (as a ticket's first message reads)."""
    return f"{env.subject or ''}\n{env.text or env.full_text}"


def meaning_on(settings: Settings, text: str) -> bool:
    """May the comparison by meaning run for ``text`` (the operator's switch, the extra installed)?"""
    return settings.duplicates_by_meaning and bool(text.strip()) and embeddings.missing() is None


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
    usable = _usable(refs, candidates)
    if not usable or not text.strip():
        return None
    v = vectors([text] + [other for _, other in usable])
    sims = v[1:] @ v[0]
    best = int(np.argmax(sims))
    score = float(sims[best])
    if score < threshold:
        return None
    return Near(usable[best][0].ticket_id, usable[best][0].number, score, False, "meaning")


def _usable(refs: frozenset[str], candidates: Sequence[tuple[state.Indexed, str]]) -> list[tuple[state.Indexed, str]]:
    """The candidates worth comparing by meaning: a first message to read, no other reference number."""
    return [
        (t, other) for t, other in candidates if other.strip() and not sim.refs_conflict(refs, sim.parse_refs(t.refs))
    ]


def _candidates(tickets: Sequence[state.Indexed]) -> list[tuple[state.Indexed, str]]:
    """The newest few open tickets with their first message's text (indexed reads)."""
    return [(t, kb_tickets.question_of(t.ticket_id)[0]) for t in tickets[:MEANING_CANDIDATES]]


def _by_words(fp: sim.Fingerprint, tickets: Sequence[state.Indexed], settings: Settings) -> Near | None:
    return best_match(
        fp, tickets, merge_threshold=settings.dup_merge_threshold, suggest_threshold=settings.dup_suggest_threshold
    )


@dataclass(frozen=True)
class Vectors:
    """Sentence vectors computed before the write transaction, by their exact text.

    Keyed by the text itself, not by ticket: a text's vector depends on nothing else (``Embedder.embed`` runs
    one text per call), so a vector found here is the one the transaction would compute, whatever changed in
    between; a text not found (a ticket opened, merged or edited since the reads ahead) is embedded then."""

    by_text: Mapping[str, np.ndarray]

    def embed(self, texts: list[str]) -> np.ndarray:
        """``Embedder.embed`` of ``texts``, embedding only those not computed ahead."""
        if not texts:
            return embeddings.get_embedder().embed([])
        todo = list(dict.fromkeys(t for t in texts if t not in self.by_text))
        fresh: dict[str, np.ndarray] = {}
        if todo:
            # Costs a few ms under the write lock: a sign that the reads ahead saw another candidate set.
            log.debug("event=meaning_embedded_in_tx texts=%d ahead=%d", len(todo), len(self.by_text))
            fresh = dict(zip(todo, embeddings.get_embedder().embed(todo), strict=True))
        return np.stack([self.by_text[t] if t in self.by_text else fresh[t] for t in texts])


def meaning_ahead(
    env: Envelope, fp: sim.Fingerprint, customer_id: int, settings: Settings, now: dt.datetime
) -> Vectors | None:
    """Before the write transaction (read-only, no lock): the sentence vectors of the new text and of the
    candidates it will be compared with, when ``find_near`` will most likely compare by meaning; None when it
    certainly or most likely will not (the message follows up a known conversation, the customer has no open
    ticket, the words found one alike, no candidate has a text to compare).

    The same reads as ``find_near``'s, a moment earlier: if they changed by then, ``find_near`` still decides
    on what it reads itself and embeds only the texts missing here (``Vectors``)."""
    text = meaning_text(env)
    if not meaning_on(settings, text):
        return None
    keys = threads.thread_keys(env)
    if keys and thread_state.any_known(keys):  # one more message of a known conversation: no new ticket
        return None
    tickets = state.customer_open(customer_id, now - dt.timedelta(seconds=settings.dup_window_s))
    if not tickets or _by_words(fp, tickets, settings) is not None:
        return None
    usable = _usable(fp.refs, _candidates(tickets))
    if not usable:
        return None
    texts = list(dict.fromkeys([text] + [other for _, other in usable]))
    return Vectors(dict(zip(texts, embeddings.get_embedder().embed(texts), strict=True)))


def find_near(
    customer_id: int,
    fp: sim.Fingerprint,
    settings: Settings,
    now: dt.datetime,
    text: str = "",
    ahead: Vectors | None = None,
) -> Near | None:
    """Serialises this customer's new messages (PostgreSQL; SQLite's write lock does it already), so
    an email and a text sent seconds apart cannot both open a ticket, then looks: by the words' signature,
    then (``text`` given, the extra installed, nothing found) by meaning, with the vectors computed ``ahead``
    of the transaction (``meaning_ahead``) where they are the same texts."""
    state.serialise_customer(customer_id)
    tickets = state.customer_open(customer_id, now - dt.timedelta(seconds=settings.dup_window_s))
    if not tickets:
        return None
    near = _by_words(fp, tickets, settings)
    if near is not None or not meaning_on(settings, text):
        return near
    vectors = (ahead or Vectors({})).embed
    return meaning_match(text, fp.refs, _candidates(tickets), vectors)


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
