"""Migration 10 and the reads and writes of satisfaction surveys (CSAT).

One row per ticket (``ticket_id`` is the key), which is what makes "at most
one survey per ticket" hold however many times a ticket is resolved and
reopened: the insert of a second survey finds the row and does nothing. The
answer (score 1-5 and an optional comment) lives on the same row, changeable
until ``expires_at``; each change is an audit event on the ticket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

import peewee as pw

from helpline.store import fastsql, signing
from helpline.store.models import Base, Event, Ticket, utcnow

SCORES = range(1, 6)


class CsatSurvey(Base):
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, primary_key=True, backref="csat", on_delete="CASCADE")
    channel = pw.CharField()  # email or sms
    recipient = pw.CharField(index=True)
    sent_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    score = pw.IntegerField(null=True)
    comment = pw.TextField(default="")
    answered_at = pw.DateTimeField(null=True)
    answered_via = pw.CharField(default="")  # page, sms


@dataclass(frozen=True)
class Survey:
    ticket_id: int
    channel: str
    recipient: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    score: int | None
    comment: str
    answered_at: dt.datetime | None

    def open_at(self, now: dt.datetime) -> bool:
        return now < self.expires_at


class SurveyClosed(ValueError):
    """The survey cannot take an answer (expired, unknown, or a score outside 1-5)."""


_dt = fastsql.as_datetime  # SQLite hands back text, PostgreSQL a datetime


_COLS = "ticket_id, channel, recipient, sent_at, expires_at, score, comment, answered_at"


def _survey(row: tuple[Any, ...] | None) -> Survey | None:
    if row is None:
        return None
    return Survey(row[0], row[1], row[2], _dt(row[3]), _dt(row[4]), row[5], row[6] or "", _dt(row[7]))  # type: ignore[arg-type]


def create(ticket_id: int, channel: str, recipient: str, now: dt.datetime, expires_at: dt.datetime) -> bool:
    """Record that a survey goes out (caller's transaction); False when the ticket had one already."""
    got = fastsql.fetchone(
        'INSERT INTO "csat_survey" (ticket_id, channel, recipient, sent_at, expires_at, comment, answered_via) '
        "VALUES (?, ?, ?, ?, ?, '', '') ON CONFLICT DO NOTHING RETURNING ticket_id",
        [ticket_id, channel, recipient, now, expires_at],
    )
    return got is not None


def get(ticket_id: int) -> Survey | None:
    return _survey(fastsql.fetchone(f'SELECT {_COLS} FROM "csat_survey" WHERE ticket_id = ?', [ticket_id]))


def pending_sms(number: str, now: dt.datetime) -> Survey | None:
    """The newest unexpired SMS survey to this number, answered or not (a second digit changes the answer)."""
    return _survey(
        fastsql.fetchone(
            f"SELECT {_COLS} FROM \"csat_survey\" WHERE channel = 'sms' AND recipient = ? AND expires_at > ? "
            "ORDER BY sent_at DESC LIMIT 1",
            [number, now],
        )
    )


def record(
    ticket_id: int, score: int, comment: str | None, now: dt.datetime, *, via: str, actor: str = "customer"
) -> Survey:
    """Store the answer (caller's transaction) and audit it; raises SurveyClosed when it cannot be taken.

    ``comment=None`` keeps an earlier comment (an SMS digit changes only the score)."""
    if score not in SCORES:
        raise SurveyClosed(f"a rating is a whole number from 1 to 5, not {score!r}")
    survey = get(ticket_id)
    if survey is None:
        raise SurveyClosed(f"ticket {ticket_id} has no survey")
    if not survey.open_at(now):
        raise SurveyClosed(f"the survey of ticket {ticket_id} expired at {survey.expires_at.isoformat()}")
    text = survey.comment if comment is None else comment.strip()[:2000]
    fastsql.execute(
        'UPDATE "csat_survey" SET score = ?, comment = ?, answered_at = ?, answered_via = ? WHERE ticket_id = ?',
        [score, text, now, via, ticket_id],
    )
    data: dict[str, Any] = {"score": score, "via": via}
    if survey.score is not None:
        data["previous"] = survey.score
    if text:
        data["comment"] = text
    Event.insert(ticket=ticket_id, actor=actor, kind="csat_answered", data=data, created_at=now).execute()
    return get(ticket_id)  # type: ignore[return-value]


# ---- signed survey links -------------------------------------------------------------
def token(keys: Sequence[str], ticket_id: int) -> str:
    """The ticket's survey token for links: ``c{id}.{mac}`` (HMAC with HELPLINE_SECRET_KEY, rotatable)."""
    return f"c{ticket_id}.{signing.sign(keys, 'csat', str(ticket_id))}"


def ticket_from_token(keys: Sequence[str], value: str) -> int | None:
    """The ticket id a survey token names, or None when it is malformed or forged."""
    head, _, sig = value.lower().partition(".")
    if not head.startswith("c") or not head[1:].isdigit() or not sig or not keys:
        return None
    return int(head[1:]) if signing.verify(keys, "csat", head[1:], sig) else None
