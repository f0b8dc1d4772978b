"""Threading: which ticket does a message belong to? Plain functions, no I/O.

Evidence, strongest first: a Message-ID we know (In-Reply-To, References —
ours or the customer's), Outlook's Thread-Index root, the signed reply token of
a plus address, the ticket tag in the subject. Evidence only counts when the
sender is a participant of that ticket (its customer's identities, or an
address that wrote, was the Reply-To, or was Cc'd there): a guessed tag or a
forwarded thread from an outsider opens a new ticket marked as a possible
follow-up instead of writing into someone else's ticket. Unlike many help desks
we never thread on the subject text alone, so two customers both writing
"Invoice" never land in one ticket.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from helpline.store.envelope import Envelope

# Strength order of the evidence kinds.
VIA_ORDER = ("references", "thread_index", "reply_token", "ticket_tag", "conversation")

_PREFIX = re.compile(
    r"^\s*((re|aw|sv|antw|vs|ref|rif|r|tr|fw|fwd|wg|rv|enc|odp|vl|atb|réf|回复|答复|転送|返信)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_TAG = re.compile(r"\s*\[HL-\d{4}-\d{6,}\]\s*")


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes (Re:, AW:, SV:, Antw:, …) or our tag."""
    s = subject or ""
    for _ in range(5):
        new = _PREFIX.sub("", _TAG.sub(" ", s)).strip()
        if new == s:
            break
        s = new
    return re.sub(r"\s+", " ", s).strip()


def thread_keys(env: Envelope) -> list[str]:
    """Keys that may lead to an existing ticket, most specific first."""
    t = env.thread
    keys: list[str] = []
    if t.in_reply_to:
        keys.append("mid:" + t.in_reply_to.lower())
    keys += ["mid:" + r.lower() for r in reversed(t.references)]
    if t.thread_index:
        keys.append("tix:" + t.thread_index)
    if t.conversation_id:
        keys.append(f"conv:{env.channel}:{t.conversation_id}")
    return list(dict.fromkeys(keys))  # first occurrence of each, in order


def own_keys(env: Envelope) -> list[str]:
    """Keys this message adds to its ticket, so later replies find it."""
    keys = ["mid:" + env.thread.message_id.lower()] if env.thread.message_id else []
    return keys + [k for k in thread_keys(env) if k not in keys]


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    number: str
    status: str
    via: str
    resolved_at: dt.datetime | None = None
    participants: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ThreadDecision:
    action: str  # append, reopen, new, new_follow_up, new_possible_follow_up
    ticket_id: int | None = None  # the ticket appended to, or linked from a new one
    reason: str = ""


ACTIVE = frozenset({"new", "open", "in_progress", "waiting_customer"})


def decide(
    sender_addresses: set[str],
    candidates: list[Candidate],
    *,
    now: dt.datetime,
    reopen_days: float,
) -> ThreadDecision:
    """Pick the ticket a message joins, or say why it starts a new one."""
    ranked = sorted(candidates, key=lambda c: VIA_ORDER.index(c.via) if c.via in VIA_ORDER else 99)
    for c in ranked:
        if not (c.participants & sender_addresses):
            continue
        if c.status in ACTIVE:
            return ThreadDecision("append", c.ticket_id, f"{c.via} matched {c.number}")
        if c.status == "resolved" and c.resolved_at and now - c.resolved_at <= dt.timedelta(days=reopen_days):
            return ThreadDecision(
                "reopen", c.ticket_id, f"{c.via} matched resolved {c.number} within {reopen_days:g} days"
            )
        return ThreadDecision(
            "new_follow_up", c.ticket_id, f"{c.via} matched {c.status} {c.number}; new ticket linked to it"
        )
    if ranked:
        c = ranked[0]
        return ThreadDecision(
            "new_possible_follow_up",
            c.ticket_id,
            f"{c.via} pointed at {c.number} but the sender is not a participant",
        )
    return ThreadDecision("new", None, "no thread evidence")
