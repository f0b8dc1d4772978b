"""The tables. Every timestamp is naive UTC; JSON columns are text so both engines agree."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee as pw

from helpline.store.db import proxy
from helpline.store.import_mode import now as _import_now  # a history import runs as of each message's date


def utcnow() -> dt.datetime:
    return _import_now() or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class JSONField(pw.TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class Base(pw.Model):
    """Models spell out ``id`` and each foreign key's ``<name>_id`` (peewee makes both anyway) so that the
    type checker knows them."""

    class Meta:
        database = proxy
        legacy_table_names = False


# ---- status vocabularies (one place) ---------------------------------------
class InboundStatus:
    PENDING = "pending"
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class TicketStatus:
    NEW = "new"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"
    SPAM = "spam"  # the MTA's spam verdict or the block list: no acknowledgement, no alert, kept for review
    ACTIVE = (NEW, OPEN, IN_PROGRESS, WAITING_CUSTOMER)


class OutboxStatus:
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # provider call under way (or the sender died during it)
    SENT = "sent"
    FAILED = "failed"  # permanent failure or attempts exhausted; shown to agents
    UNKNOWN = "unknown"  # crashed mid-send on a channel where resending could duplicate
    SUPPRESSED = "suppressed"  # not sent on purpose (loop protection, rate limit), with reason


class Customer(Base):
    id = pw.AutoField()
    name = pw.CharField(default="")
    tier = pw.CharField(default="standard")
    created_at = pw.DateTimeField(default=utcnow)


class Identity(Base):
    """An address a customer writes from: email address, phone number, Slack user."""

    id = pw.AutoField()
    customer_id: int
    customer = pw.ForeignKeyField(Customer, backref="identities", on_delete="CASCADE")
    kind = pw.CharField()  # email, phone, slack, external
    address = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "address"), True),)


class Ticket(Base):
    id = pw.AutoField()
    customer_id: int
    follow_up_of_id: int | None
    number = pw.CharField(unique=True)
    subject = pw.TextField(default="")
    status = pw.CharField(default=TicketStatus.NEW, index=True)
    priority = pw.CharField(default="medium")
    category = pw.CharField(null=True)
    team = pw.CharField(null=True)
    assignee = pw.CharField(null=True)
    language = pw.CharField(null=True)
    channel = pw.CharField()
    customer = pw.ForeignKeyField(Customer, backref="tickets")
    support_address = pw.CharField(default="")  # the address the customer wrote to; replies come from it
    follow_up_of = pw.ForeignKeyField("self", null=True, backref="follow_ups")
    possible_follow_up = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow)
    last_customer_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)


class Participant(Base):
    """Addresses allowed to write into a ticket (sender, Reply-To, Cc when enabled)."""

    id = pw.AutoField()
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, backref="participants", on_delete="CASCADE")
    kind = pw.CharField()
    address = pw.CharField(index=True)
    role = pw.CharField(default="sender")

    class Meta:
        indexes = ((("ticket", "kind", "address"), True),)


class Inbound(Base):
    """The unit of work: one accepted message, durable before the sender is acknowledged."""

    id = pw.AutoField()
    ticket_id: int | None
    channel = pw.CharField()
    external_id = pw.CharField(max_length=998)
    content_hash = pw.CharField(max_length=64)
    status = pw.CharField(default=InboundStatus.PENDING)
    reason = pw.TextField(default="")
    envelope = JSONField()
    raw_blob_key = pw.CharField(default="")
    attempts = pw.IntegerField(default=0)
    received_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    processed_at = pw.DateTimeField(null=True)
    ticket = pw.ForeignKeyField(Ticket, null=True, backref="inbound")
    source_host = pw.CharField(default="")

    class Meta:
        indexes = (
            (("channel", "external_id", "content_hash"), True),
            (("status", "updated_at"), False),
        )


class Message(Base):
    id = pw.AutoField()
    ticket_id: int
    inbound_id: int | None
    ticket = pw.ForeignKeyField(Ticket, backref="messages", on_delete="CASCADE")
    inbound = pw.ForeignKeyField(Inbound, null=True, backref="messages")
    direction = pw.CharField()  # in, out
    author_role = pw.CharField()  # customer, agent, system
    author = pw.CharField(default="")
    channel = pw.CharField()
    external_id = pw.CharField(default="", max_length=998)
    message_id = pw.CharField(default="", max_length=998, index=True)  # RFC 5322 Message-ID, ours or theirs
    sender = pw.CharField(default="", index=True)
    subject = pw.TextField(default="")
    text = pw.TextField(default="")
    full_text = pw.TextField(default="")
    html = pw.TextField(default="")
    body_hash = pw.CharField(default="", index=True)
    raw_blob_key = pw.CharField(default="")
    auth = JSONField(null=True)
    warnings = JSONField(null=True)
    delivery_status = pw.CharField(default="")  # for outbound: failed when a DSN came back
    created_at = pw.DateTimeField(default=utcnow, index=True)
    language = pw.CharField(max_length=16, null=True)  # ISO 639-1 of the customer's text (migration 8)
    sentiment = pw.FloatField(null=True)  # VADER compound score, English only (migration 8)
    pii_redacted_at = pw.DateTimeField(null=True)  # HELPLINE_PII_AT_REST=redact did it (migration 20)

    class Meta:
        indexes = ((("sender", "created_at"), False),)  # repeated contact: a customer's last hour (migration 8)


class Attachment(Base):
    id = pw.AutoField()
    message_id: int
    message = pw.ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    filename = pw.TextField()
    content_type = pw.CharField()
    size = pw.IntegerField()
    sha256 = pw.CharField(max_length=64)
    blob_key = pw.CharField()
    inline = pw.BooleanField(default=False)
    content_id = pw.CharField(default="")
    # migration 24: the virus scan (store/storage/attachment_scan.py); "" = not scanned yet (or no scanner configured)
    scan_status = pw.CharField(max_length=16, default="", constraints=[pw.SQL("DEFAULT ''")])
    scan_detail = pw.CharField(max_length=255, default="", constraints=[pw.SQL("DEFAULT ''")])
    scanned_at = pw.DateTimeField(null=True)


class ThreadKey(Base):
    """A key that leads to a ticket: a Message-ID, an Outlook Thread-Index root, a conversation id.

    Unique, so two workers racing on one new conversation cannot both claim it.
    """

    id = pw.AutoField()
    ticket_id: int
    key = pw.CharField(unique=True, max_length=998)
    ticket = pw.ForeignKeyField(Ticket, backref="thread_keys", on_delete="CASCADE")


class Event(Base):
    """The audit trail: who did what to which ticket, when, with what data."""

    id = pw.AutoField()
    ticket_id: int | None
    ticket = pw.ForeignKeyField(Ticket, null=True, backref="events", on_delete="CASCADE")
    actor = pw.CharField(default="system")
    kind = pw.CharField(index=True)
    data = JSONField(null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)


class Outbox(Base):
    id = pw.AutoField()
    ticket_id: int | None
    out_message_id: int | None
    ticket = pw.ForeignKeyField(Ticket, null=True, backref="outbox")
    out_message = pw.ForeignKeyField(Message, null=True, backref="outbox")  # the outbound message it delivers
    channel = pw.CharField()
    kind = pw.CharField()  # ack, reply, notification
    recipient = pw.CharField(index=True)
    payload = JSONField()
    message_id = pw.CharField(default="", index=True, max_length=998)
    status = pw.CharField(default=OutboxStatus.PENDING)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    last_error = pw.TextField(default="")
    provider_id = pw.TextField(default="")
    unique_key = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class Counter(Base):
    """Named counters (ticket numbers on SQLite, where the write lock already serialises)."""

    name = pw.CharField(primary_key=True)
    value = pw.BigIntegerField(default=0)


class Blob(Base):
    """Blob bytes for the database backend, so hosts need no shared disk."""

    key = pw.CharField(primary_key=True, max_length=80)
    size = pw.BigIntegerField()
    data = pw.BlobField()
    created_at = pw.DateTimeField(default=utcnow)


class RateCounter(Base):
    """Hourly counters for rate limits (automatic replies per address and overall).

    Counting outbox rows instead would scan every row of the last hour for each
    new ticket; a counter row per key and hour keeps the check O(1)."""

    key = pw.CharField(max_length=400)
    bucket = pw.IntegerField()  # hours since the Unix epoch, UTC
    count = pw.IntegerField(default=0)

    class Meta:
        primary_key = pw.CompositeKey("key", "bucket")


class SchemaVersion(Base):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField()
    applied_at = pw.DateTimeField(default=utcnow)


ALL_MODELS: list[type[Base]] = [
    Customer,
    Identity,
    Ticket,
    Participant,
    Inbound,
    Message,
    Attachment,
    ThreadKey,
    Event,
    Outbox,
    Counter,
    Blob,
    SchemaVersion,
]  # the tables of migration 1 (RateCounter arrived in migration 2)
