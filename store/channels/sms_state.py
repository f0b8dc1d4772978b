"""What the SMS channel keeps besides tickets: who opted out, and MMS media still to fetch.

``SmsOptOut`` is one row per phone number (E.164) that ever sent an opt-out
or opt-in keyword, or that the carrier reported as unsubscribed (Twilio error
21610). ``opted_out`` is the current state; every change is also an audit
event. Nothing is ever texted to a number whose row says opted out.

``SmsMedia`` is one row per MMS media item of an inbound message: written in
the pipeline's transaction (so the intent to fetch is durable with the
message), fetched afterwards by a worker, outside any transaction, into the
blob store and the message's attachments. ``status`` moves from ``pending`` to
``stored``, ``too_large`` or ``failed``; ``attempts`` bounds the retries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from helpline.store import fastsql
from helpline.store.models import Attachment, Base, Event, Message, utcnow


class SmsOptOut(Base):
    number = pw.CharField(max_length=64, primary_key=True)
    opted_out = pw.BooleanField(default=True)
    keyword = pw.CharField(default="")  # STOP, START, … or the provider error code
    source = pw.CharField(default="")  # keyword, twilio_opt_out (Advanced Opt-Out), carrier_21610
    updated_at = pw.DateTimeField(default=utcnow)


class MediaStatus:
    PENDING = "pending"
    STORED = "stored"
    TOO_LARGE = "too_large"
    FAILED = "failed"


class SmsMedia(Base):
    id = pw.AutoField()
    message_id: int
    message = pw.ForeignKeyField(Message, backref="sms_media", on_delete="CASCADE")
    position = pw.IntegerField()  # N of MediaUrlN
    url = pw.TextField()
    content_type = pw.CharField(default="")
    status = pw.CharField(default=MediaStatus.PENDING)
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(default="")
    size = pw.BigIntegerField(null=True)
    blob_key = pw.CharField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("message", "position"), True),
            (("status", "updated_at"), False),
        )


MODELS: list[type[Base]] = [SmsOptOut, SmsMedia]


# ---- opt-out state (``notifier/sms/sms_optout.py`` decides; these run in the caller's transaction) ----
def opt_out_of(number: str) -> bool | None:
    """The ``opted_out`` flag of the number's row (or of a number's salted hash); None without a row."""
    row = fastsql.fetchone('SELECT opted_out FROM "sms_opt_out" WHERE number = ?', [number])
    return bool(row[0]) if row is not None else None


def save_opt_out(number: str, opted_out: bool, *, keyword: str, source: str, now: dt.datetime) -> None:
    """Write the number's current state, whatever it was."""
    fastsql.execute(
        'INSERT INTO "sms_opt_out" (number, opted_out, keyword, source, updated_at) VALUES (?, ?, ?, ?, ?) '
        "ON CONFLICT (number) DO UPDATE SET opted_out = excluded.opted_out, keyword = excluded.keyword, "
        "source = excluded.source, updated_at = excluded.updated_at",
        [number, opted_out, keyword, source, now],
    )


def ticket_of_thread_key(key: str) -> int | None:
    """The ticket a thread key (an SMS conversation's ``conv:sms:+E164``) leads to, if any."""
    row = fastsql.fetchone('SELECT ticket_id FROM "thread_key" WHERE key = ?', [key])
    return int(row[0]) if row else None


def is_known_phone(number: str) -> bool:
    """Whether the number is a customer's phone identity (it texted in, or an agent linked it)."""
    return fastsql.fetchone("SELECT 1 FROM \"identity\" WHERE kind = 'phone' AND address = ?", [number]) is not None


def add_opt_out_event(ticket_id: int | None, number: str, source: str, code: str, now: dt.datetime) -> None:
    """The audit event of a number opted out by its carrier."""
    Event.create(
        ticket=ticket_id,
        kind="sms_opted_out",
        created_at=now,
        data={"number": number, "source": source, "error_code": code},
    )


# ---- MMS media to fetch (``notifier/sms/sms_media.py`` fetches; each function runs in the caller's transaction) ----
@dataclass
class MediaJob:
    """One media item claimed for fetching, with what the fetch needs."""

    id: int
    message_id: int
    ticket_id: int
    position: int
    url: str
    content_type: str
    attempts: int


def claim_media(media_id: int, max_attempts: int, now: dt.datetime) -> MediaJob | None:
    """Count an attempt on a pending media row; None when it is not pending, or (then ``failed``, with
    an event) when its ``max_attempts`` are used up."""
    row: SmsMedia | None = SmsMedia.get_or_none((SmsMedia.id == media_id) & (SmsMedia.status == MediaStatus.PENDING))
    if row is None:
        return None
    ticket_id: int = Message.select(Message.ticket).where(Message.id == row.message_id).scalar()
    if row.attempts >= max_attempts:
        finish_media(
            row.id, ticket_id, MediaStatus.FAILED, f"gave up after {row.attempts} attempts: {row.last_error}", now
        )
        return None
    SmsMedia.update(attempts=row.attempts + 1, updated_at=now).where(SmsMedia.id == row.id).execute()
    return MediaJob(row.id, row.message_id, ticket_id, row.position, row.url, row.content_type, row.attempts + 1)


def finish_media(media_id: int, ticket_id: int, status: str, error: str, now: dt.datetime) -> None:
    """A media row's final ``status`` (failed, too large) with an event on the ticket."""
    SmsMedia.update(status=status, last_error=error[:1000], updated_at=now).where(SmsMedia.id == media_id).execute()
    Event.create(
        ticket=ticket_id, kind="mms_media_" + status, created_at=now, data={"media": media_id, "error": error[:300]}
    )


def store_media(
    job: MediaJob, *, filename: str, content_type: str, size: int, sha256: str, blob_key: str, now: dt.datetime
) -> bool:
    """The fetched media as an attachment of its message and the row ``stored``; False (nothing written)
    when the row is no longer pending (another worker stored it first)."""
    if SmsMedia.get_or_none((SmsMedia.id == job.id) & (SmsMedia.status == MediaStatus.PENDING)) is None:
        return False
    Attachment.create(
        message=job.message_id,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        blob_key=blob_key,
    )
    SmsMedia.update(status=MediaStatus.STORED, size=size, blob_key=blob_key, last_error="", updated_at=now).where(
        SmsMedia.id == job.id
    ).execute()
    return True


def note_media_error(media_id: int, error: str) -> None:
    """Keep the last fetch error of a media row that will be tried again."""
    SmsMedia.update(last_error=error[:1000]).where(SmsMedia.id == media_id).execute()


def stale_media(cutoff: dt.datetime, limit: int) -> list[int]:
    """Ids of media rows still pending since before ``cutoff``, oldest first."""
    return [
        r.id
        for r in SmsMedia.select(SmsMedia.id)
        .where(SmsMedia.status == MediaStatus.PENDING, SmsMedia.updated_at < cutoff)
        .order_by(SmsMedia.id)
        .limit(limit)
    ]
