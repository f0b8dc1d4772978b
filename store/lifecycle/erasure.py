"""Erasure: remove or irreversibly anonymise everything that identifies one person.

What goes, in one transaction: message subjects, texts and HTML (of every
message of the customer's tickets, agents' answers included, since they quote
and greet), senders, Message-IDs, the inbound envelopes and the raw MIME,
attachment rows, identities and participants, thread keys (an SMS
conversation's key is the phone number), custom fields, near-duplicate
fingerprints, outbox payloads and recipients (pending sends are suppressed),
the satisfaction comment and recipient, the ticket subjects, the personal
values inside events (and the label events the category model would train
on), rate-limit counters keyed by an address, the customer's name; the SMS
opt-out row keeps only the number's salted hash, so STOP still holds. What
stays: the rows' existence, times, statuses, priorities, categories, teams,
directions and scores, so reports keep counting right.

After the transaction: blobs no remaining row references are deleted, the
identities' hashes are appended to the ledger file, the search index is told
(``search_hook``), and the database's free space is scrubbed
(``scrub_free_space``). What must be done at Slack and Twilio is written as
``erasure_task`` rows in the same transaction (provider ids, no personal data)
for ``notifier`` to carry out.

Idempotent: erasing an erased customer finds nothing personal left and only
retries provider tasks that failed. Refused under a legal hold.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterable, Sequence

import peewee as pw

from helpline.store import fastsql, models as m
from helpline.store.storage.blobs import BlobStore, DatabaseBlobStore, FileBlobStore
from helpline.store.tickets.csat_state import CsatSurvey
from helpline.store.tickets.customers import CustomerError
from helpline.store.db import database, is_sqlite, run_tx
from helpline.store.channels.sms_state import SmsMedia, SmsOptOut
from helpline.store.channels.webhook_state import TicketField
from helpline.store.tuple_rows import tuples
from helpline.store.lifecycle import ledger, search_hook
from helpline.store.lifecycle.holds import is_held
from helpline.store.lifecycle.lookup import ticket_ids
from helpline.store.lifecycle.schema import ErasureTask

log = logging.getLogger("helpline.store")

ERASED = "[erased]"
# Keys of event data that hold what someone wrote or who they are; everything else is kept unless a value
# contains one of the person's addresses or their name.
PERSONAL_KEYS = frozenset(
    {
        "address",
        "sender",
        "recipient",
        "recipients",
        "number",
        "phone",
        "email",
        "name",
        "text",
        "body",
        "comment",
        "subject",
        "html",
        "reply_to",
        "cc",
        "preview",
        "excerpt",
        "reason",
        "note",
        "value",
        "values",
        "filename",
        "external_id",
        "message_id",
        "url",
        "customer_name",
        "from_address",
        "to_address",
        "fields",
        "error",
    }
)
LABEL_EVENTS = ("category_confirmed", "category_corrected")  # what router.model_train learns from
CHUNK = 400  # ids per IN (...) list
NOT_OUR_POSTS = (
    "slack_react",
    "slack_ephemeral",
    "slack_undo",
)  # their provider id names someone else's message, or none
_SLACK_REF = re.compile(r"^[CGD][A-Z0-9]{2,}:\d+\.\d+$")  # channel:ts of a Slack message


class ErasureRefused(CustomerError):
    """The erasure may not run (a legal hold); the message says how to proceed."""


@dataclass
class ErasureReport:
    customer_id: int
    tickets: int = 0
    messages: int = 0
    attachments: int = 0
    identities: int = 0
    blobs_deleted: int = 0
    provider_tasks: int = 0
    slack_messages_for_admin: list[str] = field(default_factory=list)  # channel:ts of messages the bot cannot edit
    free_space: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Personal:
    """What identifies the person, to find it inside free-form values."""

    strings: tuple[str, ...]

    def contains(self, value: str) -> bool:
        low = value.lower()
        return any(s in low for s in self.strings)


# ---- helpers --------------------------------------------------------------------------------
def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def scrub_value(value: Any, personal: Personal, key: str = "") -> Any:
    """An event's data with every personal value replaced by ``[erased]`` (structure and figures kept)."""
    if isinstance(value, dict):
        return {k: scrub_value(v, personal, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, personal, key) for v in value]
    if isinstance(value, str):
        if key.lower() in PERSONAL_KEYS and value:
            return ERASED
        return ERASED if personal.contains(value) else value
    if key.lower() in PERSONAL_KEYS and value is not None and not isinstance(value, (bool, int, float)):
        return ERASED
    return value


def _messages_of(tids: Sequence[int], addresses: Sequence[str]) -> list[int]:
    out: set[int] = set()
    for chunk in _chunks(tids):
        out |= {i for (i,) in tuples(m.Message.select(m.Message.id).where(m.Message.ticket.in_(chunk)))}
    if addresses:
        out |= {i for (i,) in tuples(m.Message.select(m.Message.id).where(m.Message.sender.in_(list(addresses))))}
    return sorted(out)


def blob_refs(keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` some row still names (attachments, raw messages, MMS media, unprocessed envelopes)."""
    keys = [k for k in set(keys) if k]
    used: set[str] = set()
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        used |= {
            k for (k,) in tuples(m.Attachment.select(m.Attachment.blob_key).where(m.Attachment.blob_key.in_(chunk)))
        }
        used |= {
            k for (k,) in tuples(m.Message.select(m.Message.raw_blob_key).where(m.Message.raw_blob_key.in_(chunk)))
        }
        used |= {
            k for (k,) in tuples(m.Inbound.select(m.Inbound.raw_blob_key).where(m.Inbound.raw_blob_key.in_(chunk)))
        }
        used |= {k for (k,) in tuples(SmsMedia.select(SmsMedia.blob_key).where(SmsMedia.blob_key.in_(chunk)))}
    for k in keys:  # an inbound row not yet processed names its attachments only inside its envelope
        if k not in used and _ids_where_text_contains(
            "inbound", "envelope", k, f"AND status = '{m.InboundStatus.PENDING}'"
        ):
            used.add(k)
    return used


def _delete_blob_row(key: str) -> int:
    """A blob kept in the database: its row; how many went (0 or 1)."""
    deleted: int = m.Blob.delete().where(m.Blob.key == key).execute()
    return deleted


def delete_blobs(store: BlobStore, keys: Iterable[str]) -> int:
    """Delete the blobs of ``keys`` that no row references any more; how many went."""
    keys = {k for k in keys if k}
    if not keys:
        return 0
    gone = 0
    orphans = keys - run_tx(lambda: blob_refs(keys), durable=False)
    for key in sorted(orphans):
        if isinstance(store, DatabaseBlobStore):
            gone += run_tx(partial(_delete_blob_row, key))
        elif isinstance(store, FileBlobStore):
            try:
                os.unlink(store._path(key.partition(":")[2]))  # noqa: SLF001 - the store's own layout
                gone += 1
            except (FileNotFoundError, ValueError):
                pass
    return gone


# ---- provider targets (read before the ids are blanked) ------------------------------------------
def _slack_targets(tids: Sequence[int], mids: Sequence[int]) -> tuple[list[str], list[str]]:
    """(our posts to overwrite, others' messages the bot cannot edit) as channel:ts."""
    from helpline.store.channels.slack_state import SlackThread

    ours: list[str] = []
    theirs: list[str] = []
    for chunk in _chunks(tids):
        ours += [
            f"{c}:{ts}"
            for c, ts in tuples(
                SlackThread.select(SlackThread.channel, SlackThread.ts).where(SlackThread.ticket.in_(chunk))
            )
        ]
        for (pid,) in tuples(
            m.Outbox.select(m.Outbox.provider_id).where(
                m.Outbox.ticket.in_(chunk)
                & (m.Outbox.channel == "slack")
                & (m.Outbox.status == m.OutboxStatus.SENT)
                & ~m.Outbox.kind.in_(NOT_OUR_POSTS)
            )
        ):
            parts = (pid or "").split(":")
            if len(parts) == 2 and all(parts):  # channel:ts of a message the bot posted
                ours.append(pid)
            elif len(parts) > 2 and parts[2] == "files":  # an upload shared into a thread: its message is Slack's
                theirs.append(f"{parts[0]}:{parts[1]} (files {parts[3] if len(parts) > 3 else ''})")
    for chunk in _chunks(mids):  # an agent's reply from Slack keeps its channel:ts whatever channel it went out on
        theirs += [
            ext
            for (ext,) in tuples(m.Message.select(m.Message.external_id).where(m.Message.id.in_(chunk)))
            if _SLACK_REF.match(ext or "")
        ]
    for chunk in _chunks(tids):
        theirs += [
            ext
            for (ext,) in tuples(
                m.Inbound.select(m.Inbound.external_id).where(
                    m.Inbound.ticket.in_(chunk) & (m.Inbound.channel == "slack")
                )
            )
            if _SLACK_REF.match(ext or "")
        ]
    mine = set(ours)
    return sorted(mine), sorted(set(theirs) - mine)


def _twilio_targets(tids: Sequence[int], mids: Sequence[int]) -> list[tuple[str, str]]:
    """(kind, target): Twilio keeps every message and its media until deleted through its API."""
    out: list[tuple[str, str]] = []
    for chunk in _chunks(mids):
        for (ext,) in tuples(
            m.Message.select(m.Message.external_id).where(m.Message.id.in_(chunk) & (m.Message.channel == "sms"))
        ):
            if ext and ext[:2] in ("SM", "MM"):
                out.append(("twilio_message", ext))
        for (url,) in tuples(SmsMedia.select(SmsMedia.url).where(SmsMedia.message.in_(chunk))):
            parts = (url or "").rstrip("/").split("/")
            if "Messages" in parts and "Media" in parts:
                msid, media = parts[parts.index("Messages") + 1], parts[parts.index("Media") + 1]
                out.append(("twilio_media", f"{msid}/{media.removesuffix('.json')}"))
    for chunk in _chunks(tids):
        for (pid,) in tuples(
            m.Outbox.select(m.Outbox.provider_id).where(m.Outbox.ticket.in_(chunk) & (m.Outbox.channel == "sms"))
        ):
            out += [("twilio_message", sid) for sid in (pid or "").split(",") if sid[:2] in ("SM", "MM")]
    media_first = sorted(set(out), key=lambda kt: (kt[0] != "twilio_media", kt[1]))
    return media_first


# ---- the anonymisation of tickets (shared with retention) ---------------------------------------------
def anonymise_messages(mids: Sequence[int]) -> tuple[int, set[str]]:
    """Blank the messages' content and drop their attachments; (attachments dropped, blob keys freed)."""
    keys: set[str] = set()
    atts = 0
    for chunk in _chunks(mids):
        keys |= {
            k for (k,) in tuples(m.Attachment.select(m.Attachment.blob_key).where(m.Attachment.message.in_(chunk)))
        }
        keys |= {k for (k,) in tuples(m.Message.select(m.Message.raw_blob_key).where(m.Message.id.in_(chunk)))}
        keys |= {k for (k,) in tuples(SmsMedia.select(SmsMedia.blob_key).where(SmsMedia.message.in_(chunk)))}
        inbound = [i for (i,) in tuples(m.Message.select(m.Message.inbound).where(m.Message.id.in_(chunk))) if i]
        atts += m.Attachment.delete().where(m.Attachment.message.in_(chunk)).execute()
        (
            m.Message.update(
                subject="",
                text="",
                full_text="",
                html="",
                sender="",
                external_id="",
                message_id="",
                body_hash="",
                raw_blob_key="",
                auth=None,
                warnings=None,
                author=pw.Case(None, [(m.Message.author_role == "customer", "")], m.Message.author),
            )
            .where(m.Message.id.in_(chunk))
            .execute()
        )
        SmsMedia.update(url="", blob_key="", last_error="").where(SmsMedia.message.in_(chunk)).execute()
        keys |= anonymise_inbound(inbound)
    return atts, keys


def anonymise_inbound(ids: Sequence[int]) -> set[str]:
    """The accepted messages themselves: envelope, raw MIME, external id (unique per row, so it keeps the id)."""
    keys: set[str] = set()
    for chunk in _chunks(ids):
        for raw, env in tuples(
            m.Inbound.select(m.Inbound.raw_blob_key, m.Inbound.envelope).where(m.Inbound.id.in_(chunk))
        ):
            keys.add(raw)
            for a in (env or {}).get("attachments") or []:
                if isinstance(a, dict):
                    keys.add(str(a.get("blob_key") or ""))
        (
            m.Inbound.update(
                envelope={"erased": True}, raw_blob_key="", reason="", external_id=_erased_id(m.Inbound.id)
            )
            .where(m.Inbound.id.in_(chunk))
            .execute()
        )
    return keys


def _ids_where_text_contains(table: str, column: str, needle: str, extra: str = "") -> list[int]:
    """Ids of rows whose text column contains ``needle`` (a JSON column is text on both engines; peewee's
    ``contains`` would JSON-encode the pattern)."""
    pattern = "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = fastsql.fetchall(f'SELECT id FROM "{table}" WHERE LOWER("{column}") LIKE ? ESCAPE \'\\\' {extra}', [pattern])
    return [int(r[0]) for r in rows]


def _erased_id(column: pw.Field) -> pw.Node:
    """``erased:<id>``: a unique column keeps a unique value that says nothing."""
    return pw.Value("erased:").concat(column.cast("TEXT"))


def scrub_events(where: pw.Expression, personal: Personal, customer_id: int | None = None) -> int:
    n = 0
    for e in m.Event.select(m.Event.id, m.Event.data, m.Event.actor).where(where):
        if customer_id is not None and not (isinstance(e.data, dict) and e.data.get("customer") == customer_id):
            continue
        data = scrub_value(e.data, personal) if e.data is not None else None
        actor = ERASED if personal.contains(e.actor or "") else e.actor
        if data != e.data or actor != e.actor:
            m.Event.update(data=data, actor=actor).where(m.Event.id == e.id).execute()
            n += 1
    return n


def anonymise_tickets(tids: Sequence[int], mids: Sequence[int], personal: Personal) -> tuple[int, set[str]]:
    """Everything personal of these tickets and messages (caller's transaction); (attachments, blob keys)."""
    atts, keys = anonymise_messages(mids)
    for chunk in _chunks(tids):
        subjects = [sub for (sub,) in tuples(m.Ticket.select(m.Ticket.subject).where(m.Ticket.id.in_(chunk))) if sub]
        for i in range(0, len(subjects), CHUNK):  # an incident is titled with its first ticket's subject
            part = subjects[i : i + CHUNK]
            fastsql.execute(
                f'UPDATE "incident" SET title = ? WHERE title IN ({", ".join("?" * len(part))})',
                [ERASED] + [p[:500] for p in part],
            )
        keys |= anonymise_inbound(
            [i for (i,) in tuples(m.Inbound.select(m.Inbound.id).where(m.Inbound.ticket.in_(chunk)))]
        )
        m.Ticket.update(subject="").where(m.Ticket.id.in_(chunk)).execute()
        m.Participant.delete().where(m.Participant.ticket.in_(chunk)).execute()
        m.ThreadKey.delete().where(m.ThreadKey.ticket.in_(chunk)).execute()
        TicketField.delete().where(TicketField.ticket.in_(chunk)).execute()
        fastsql.execute(f'DELETE FROM "ticket_fingerprint" WHERE ticket_id IN ({", ".join("?" * len(chunk))})', chunk)
        fastsql.execute(
            f"UPDATE \"ticket_merge\" SET reason = '' WHERE source_id IN ({', '.join('?' * len(chunk))}) "
            f"OR target_id IN ({', '.join('?' * len(chunk))})",
            chunk + chunk,
        )
        CsatSurvey.update(recipient="", comment="").where(CsatSurvey.ticket.in_(chunk)).execute()
        m.Event.delete().where(m.Event.ticket.in_(chunk) & m.Event.kind.in_(LABEL_EVENTS)).execute()
        scrub_events(m.Event.ticket.in_(chunk), personal)
        _suppress_outbox(m.Outbox.ticket.in_(chunk))
    return atts, keys


def _suppress_outbox(where: pw.Expression) -> None:
    """Payloads and recipients go; what was still to be sent is not sent (suppressed, reason erased)."""
    (
        m.Outbox.update(status=m.OutboxStatus.SUPPRESSED, last_error="erased")
        .where(where & m.Outbox.status.in_((m.OutboxStatus.PENDING, m.OutboxStatus.SENDING)))
        .execute()
    )
    (
        m.Outbox.update(
            payload={"erased": True},
            recipient="",
            provider_id="",
            last_error=pw.Case(None, [(m.Outbox.last_error == "erased", "erased")], ""),
            unique_key=_erased_id(m.Outbox.id),
        )
        .where(where)
        .execute()
    )


# ---- the customer ------------------------------------------------------------------------------------
def erase_database(
    customer_id: int, *, actor: str, now: dt.datetime | None = None, reapply: bool = False
) -> tuple[ErasureReport, set[str], list[str]]:
    """The database part, one transaction: (report, blob keys to check, identity hashes for the ledger file)."""
    now = now or m.utcnow()

    def tx() -> tuple[ErasureReport, set[str], list[str]]:
        if m.Customer.get_or_none(m.Customer.id == customer_id) is None:
            raise CustomerError(f"no customer {customer_id}; `helpline customers list --search TEXT` finds one")
        if is_held(customer_id) and not reapply:  # a restore re-applying the ledger repeats a done erasure
            raise ErasureRefused(
                f"customer {customer_id} is under a legal hold; nothing was erased "
                f"(`helpline customers hold {customer_id} --off` lifts it, if that is right)"
            )
        report = ErasureReport(customer_id)
        cust = m.Customer.get_by_id(customer_id)
        idents = list(m.Identity.select().where(m.Identity.customer == customer_id))
        addresses = [i.address for i in idents]
        strings = {a.lower() for a in addresses if len(a) >= 3}
        if len(cust.name.strip()) >= 3:
            strings.add(cust.name.strip().lower())
        personal = Personal(tuple(sorted(strings)))
        hashes = [ledger.identity_hash(i.kind, i.address) for i in idents]
        tids = ticket_ids(customer_id)
        mids = _messages_of(tids, addresses)
        ours, theirs = _slack_targets(tids, mids)
        tasks = [("slack_update", t) for t in ours] + _twilio_targets(tids, mids)
        known = {
            (k, t)
            for k, t in tuples(
                ErasureTask.select(ErasureTask.kind, ErasureTask.target).where(ErasureTask.customer_id == customer_id)
            )
        }
        for kind, target in tasks:
            if (kind, target) not in known:
                ErasureTask.create(customer_id=customer_id, kind=kind, target=target, created_at=now)
        report.provider_tasks = len(set(tasks) | known)
        report.slack_messages_for_admin = theirs
        report.tickets, report.messages = len(tids), len(mids)
        report.attachments, keys = anonymise_tickets(tids, mids, personal)
        if addresses:
            m.Participant.delete().where(m.Participant.address.in_(addresses)).execute()
            _suppress_outbox(m.Outbox.recipient.in_(addresses))
            CsatSurvey.update(recipient="", comment="").where(CsatSurvey.recipient.in_(addresses)).execute()
            for a in addresses:  # accepted but never made a ticket (duplicates, quarantined, still pending)
                stray = _ids_where_text_contains("inbound", "envelope", a)
                keys |= anonymise_inbound(stray)
                fastsql.execute('DELETE FROM "rate_counter" WHERE key LIKE ?', [f"%{a}%"])
        _opt_outs_to_hashes([i.address for i in idents if i.kind == "phone"])
        report.identities = m.Identity.delete().where(m.Identity.customer == customer_id).execute()
        m.Customer.update(name="").where(m.Customer.id == customer_id).execute()
        scrub_events(
            m.Event.id.in_(
                _ids_where_text_contains("event", "data", f'"customer":{customer_id}', "AND ticket_id IS NULL")
            ),
            personal,
            customer_id,
        )
        ledger.record(hashes, now)
        m.Event.create(
            ticket=None,
            actor=actor,
            kind="customer_erased",
            created_at=now,
            data={
                "customer": customer_id,
                "tickets": report.tickets,
                "messages": report.messages,
                "attachments": report.attachments,
                "identities": report.identities,
                "provider_tasks": report.provider_tasks,
                "slack_messages_for_admin": len(report.slack_messages_for_admin),
            },
        )
        return report, keys, hashes

    return run_tx(tx)


def _opt_outs_to_hashes(numbers: Sequence[str]) -> None:
    for number in numbers:
        row = SmsOptOut.get_or_none(SmsOptOut.number == number)
        if row is None:
            continue
        fastsql.execute(
            'INSERT INTO "sms_opt_out" (number, opted_out, keyword, source, updated_at) '
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET opted_out = excluded.opted_out",
            [ledger.phone_hash(number), row.opted_out, row.keyword, row.source, row.updated_at],
        )
        SmsOptOut.delete().where(SmsOptOut.number == number).execute()


def erase_customer(
    customer_id: int,
    blobs: BlobStore,
    *,
    actor: str,
    ledger_file: str,
    now: dt.datetime | None = None,
    reapply: bool = False,
) -> ErasureReport:
    """The whole store part of an erasure: database, blobs, ledger file, search index, free space."""
    with secure_delete():
        report, keys, hashes = erase_database(customer_id, actor=actor, now=now, reapply=reapply)
        search_hook.forget_tickets(ticket_ids(customer_id))  # with secure_delete on: the purged pages are zeroed
    report.blobs_deleted = delete_blobs(blobs, keys)
    ledger.append_file(ledger_file, hashes, now)
    report.free_space = scrub_free_space()
    log.info(
        "event=customer_erased customer=%d tickets=%d messages=%d attachments=%d blobs=%d tasks=%d",
        customer_id,
        report.tickets,
        report.messages,
        report.attachments,
        report.blobs_deleted,
        report.provider_tasks,
    )
    return report


# ---- free pages ----------------------------------------------------------------------------------------
class secure_delete:
    """SQLite overwrites deleted and replaced content with zeros while this is on (this connection only)."""

    def __enter__(self) -> None:
        if is_sqlite():
            database().execute_sql("PRAGMA secure_delete = ON")

    def __exit__(self, *exc: object) -> None:
        if is_sqlite():
            database().execute_sql("PRAGMA secure_delete = OFF")


TOUCHED = (
    "message",
    "inbound",
    "attachment",
    "identity",
    "participant",
    "customer",
    "ticket",
    "event",
    "outbox",
    "thread_key",
    "ticket_field",
    "ticket_fingerprint",
    "csat_survey",
    "sms_opt_out",
    "sms_media",
    "blob",
    "rate_counter",
    "incident",
)


def scrub_free_space(attempts: int = 20) -> str:
    """Leave no copy of what was erased in the database's files.

    SQLite: the WAL is checkpointed into the database file and truncated to
    nothing (``wal_checkpoint(TRUNCATE)``), retried while readers hold old
    snapshots; the pages themselves were zeroed by ``secure_delete``.
    PostgreSQL: ``VACUUM`` of the tables erasure touches, so dead row versions
    are pruned (their bytes are reused, not zeroed; ``VACUUM FULL`` rewrites a
    table, see deploy/README.md, as do the WAL archives' expiry)."""
    db = database()
    if is_sqlite():
        for _ in range(attempts):
            busy, _log, _done = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return "sqlite: wal truncated"
            time.sleep(0.1)
        return "sqlite: wal checkpoint busy (readers); run `helpline customers erase` again later"
    conn = db.connection()
    was = conn.autocommit
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            have = {r[0] for r in cur.fetchall()}
            for table in TOUCHED:
                if table in have:
                    cur.execute(f'VACUUM "{table}"')
    finally:
        conn.autocommit = was
    return "postgresql: vacuumed"
