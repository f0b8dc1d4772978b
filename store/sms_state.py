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

import peewee as pw

from .models import Base, Message, utcnow


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
