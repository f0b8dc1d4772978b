"""The search box's language: words, "exact phrases", -excluded, and field:value.

``parse`` takes any string and returns a ``Query`` or raises ``QueryError`` with
a sentence a person can act on. It never builds SQL: the engines get the
words and phrases as data (``store.search`` quotes them for FTS5 or passes
them as parameters to PostgreSQL's ``plainto_tsquery``/``phraseto_tsquery``),
so nothing typed here can reach either engine's query syntax (FTS5's NEAR,
column filters, ``*`` or PostgreSQL's ``&|!``).

Fields (``name:value``, or ``name:"two words"``):

- ``from:`` the customer: an address, a domain (``@example.com``) or part of a name;
- ``subject:`` words that must be in the ticket's subject (also ranked like words);
- ``status:``, ``team:``, ``tag:``, ``assignee:``, ``channel:``, ``category:``,
  ``priority:``, ``customer:`` (a customer id or address): filters; repeat a
  field for "any of" (``status:new status:open``); ``assignee:none`` is unassigned;
- ``before:`` / ``after:`` a date (``2026-03-01``) or date-time: tickets opened
  before it / active (updated) on or after it.

A ``name:`` that is not one of these is plain text (``http://…``, ``Re: order``),
so pasting a line from a mail never fails. An unbalanced quote closes at the end.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

MAX_LENGTH = 500
MAX_TERMS = 24
MAX_TERM_LENGTH = 100

STATUSES = ("new", "open", "in_progress", "waiting_customer", "resolved", "closed", "merged", "spam")
PRIORITIES = ("low", "medium", "high", "urgent")
CHANNELS = ("email", "sms", "slack", "webhook", "form")
FIELDS = (
    "from",
    "subject",
    "status",
    "team",
    "tag",
    "assignee",
    "channel",
    "category",
    "priority",
    "customer",
    "before",
    "after",
)


class QueryError(ValueError):
    """The query cannot be run; the message says why and what to type instead."""


@dataclass(frozen=True)
class Term:
    """A word (one token as typed) or a phrase (several words, in this order)."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()
    subject: tuple[str, ...] = ()
    sender: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    assignee: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    customer: tuple[str, ...] = ()
    before: dt.datetime | None = None
    after: dt.datetime | None = None
    text: str = field(default="", compare=False)

    @property
    def positive(self) -> tuple[Term, ...]:
        """What the full-text index must match: the words, phrases and subject words."""
        return self.terms + tuple(Term(s, " " in s) for s in self.subject)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.sender
            or self.status
            or self.team
            or self.tag
            or self.assignee
            or self.channel
            or self.category
            or self.priority
            or self.customer
            or self.before
            or self.after
        )

    def normalised(self) -> str:
        """One spelling per query, for counting searches that found nothing."""
        return " ".join(_clean(self.text).lower().split())[:MAX_LENGTH]


# A token: -? (field:)? ("quoted" | bare). Quotes may be straight or typographic.
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'}
_TOKEN = re.compile(r'\s*(-?)(?:([A-Za-z]+):)?(?:"([^"]*)(?:"|$)|(\S+))')
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$"  # ASCII: case folds without changing length
_TAG = re.compile(TAG_PATTERN)


def has_token(text: str) -> bool:
    """Whether the engines would find at least one word in ``text`` (a letter or a digit)."""
    return any(ch.isalnum() for ch in text)


def _clean(text: str) -> str:
    # control characters and the engines' NUL are never part of a word
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def _date(name: str, value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{name}: takes a date such as 2026-03-01 (or 2026-03-01T14:00), not {value[:40]!r}") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    v = value.lower()
    if v not in choices:
        raise QueryError(f"{name}: must be one of {', '.join(choices)}; not {value[:40]!r}")
    return v


def normal_tag(value: str) -> str:
    """A tag as stored: lower case, no blanks; ASCII letters, digits and ``_ . - /``, up to 63 characters."""
    v = value.strip().lower()
    if not _TAG.match(v):
        raise QueryError(
            f"a tag is 1 to 63 ASCII letters, digits or _ . - / (starting with a letter or digit); not {value[:40]!r}"
        )
    return v


def parse(text: str) -> Query:
    """The query in ``text``; ``QueryError`` when it cannot be run."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long; at most {MAX_LENGTH}")
    src = "".join(_QUOTES.get(ch, ch) for ch in text)
    src = _clean(src)
    terms: list[Term] = []
    excluded: list[Term] = []
    fields: dict[str, list[str]] = {}
    before = after = None
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        neg, name, quoted, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        value = quoted if quoted is not None else bare
        key = name.lower() if name else None
        if key is not None and key not in FIELDS:  # not a field: the whole token is text
            value = f"{name}:{value}" if quoted is None else f"{name} {value}"
            key = None
        if key is None:
            value = _clean(value)
            if not has_token(value):
                continue
            if len(value) > MAX_TERM_LENGTH:
                raise QueryError(f"a word or phrase is at most {MAX_TERM_LENGTH} characters long")
            term = Term(" ".join(value.split()), quoted is not None and len(value.split()) > 1)
            (excluded if neg else terms).append(term)
            continue
        value = value.strip()
        if not value:
            raise QueryError(f"{key}: needs a value, e.g. {key}:{_EXAMPLES[key]}")
        if neg:
            raise QueryError(f"-{key}: cannot be excluded; leave out the minus, or exclude words instead")
        if len(value) > MAX_TERM_LENGTH:
            raise QueryError(f"{key}: takes at most {MAX_TERM_LENGTH} characters")
        if key == "before":
            before = _date(key, value)
        elif key == "after":
            after = _date(key, value)
        elif key == "status":
            fields.setdefault(key, []).append(_choice(key, value, STATUSES))
        elif key == "priority":
            fields.setdefault(key, []).append(_choice(key, value, PRIORITIES))
        elif key == "channel":
            fields.setdefault(key, []).append(_choice(key, value, CHANNELS))
        elif key == "tag":
            try:
                fields.setdefault(key, []).append(normal_tag(value))
            except QueryError as exc:
                raise QueryError(f"tag: {exc}") from None
        elif key == "subject":
            if has_token(value):
                fields.setdefault(key, []).append(" ".join(value.split()))
        else:
            fields.setdefault(key, []).append(value if key != "assignee" else value.lower())
    if len(terms) + len(excluded) + sum(len(v) for v in fields.values()) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words and fields; narrow it down")
    q = Query(
        terms=tuple(dict.fromkeys(terms)),
        excluded=tuple(dict.fromkeys(excluded)),
        subject=tuple(fields.get("subject", ())),
        sender=tuple(fields.get("from", ())),
        status=tuple(fields.get("status", ())),
        team=tuple(fields.get("team", ())),
        tag=tuple(fields.get("tag", ())),
        assignee=tuple(fields.get("assignee", ())),
        channel=tuple(fields.get("channel", ())),
        category=tuple(fields.get("category", ())),
        priority=tuple(fields.get("priority", ())),
        customer=tuple(fields.get("customer", ())),
        before=before,
        after=after,
        text=text,
    )
    if not q.positive and not q.excluded and not q.has_filters:
        raise QueryError('the query has no word to look for; type words, "a phrase" or a field such as status:open')
    return q


_EXAMPLES = {
    "from": "alice@example.com",
    "subject": "refund",
    "status": "open",
    "team": "billing",
    "tag": "vip",
    "assignee": "none",
    "channel": "email",
    "category": "billing",
    "priority": "high",
    "customer": "alice@example.com",
    "before": "2026-03-01",
    "after": "2026-03-01",
}
