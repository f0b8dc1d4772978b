"""The right of access and portability: everything Helpline holds about one customer, as a zip.

The archive is documented JSON plus the original files (``FORMAT`` below is
written into it as ``README.txt``). It is built from one read snapshot of
the database, written under a temporary name and renamed, readable by the
owner only. The export itself is an audit event that names the customer's id
and the counts, never the content.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any

from helpline.store import models as m
from helpline.store.storage.blobs import BlobNotFound, BlobStore
from helpline.store.tickets.csat_state import CsatSurvey
from helpline.store.db import database, run_tx
from helpline.store.channels.sms_state import SmsOptOut
from helpline.store.channels.webhook_state import TicketField
from helpline.store.lifecycle.lookup import ticket_ids
from helpline.store.lifecycle.schema import LegalHold

FORMAT_VERSION = "helpline-export/1"
FORMAT = """Helpline customer export ({version})

customer.json        the customer, their identities (email, phone, Slack, app ids),
                     consents (SMS opt-out state of their numbers), legal hold,
                     events about the customer that belong to no ticket, and the
                     list of their tickets.
tickets/NUMBER/ticket.json
                     one ticket: its fields, participants, custom fields,
                     satisfaction survey and answer (csat), every message
                     (text as written, the new part only, and sanitised HTML)
                     and every event (audit trail) of the ticket.
tickets/NUMBER/messages/ID/raw.eml
                     the message as it arrived (email: MIME), when still kept.
tickets/NUMBER/messages/ID/files/N-NAME
                     each attachment's original bytes; ticket.json names the file
                     and its SHA-256 for every attachment.

Timestamps are UTC (ISO 8601). Text is UTF-8.
"""

_UNSAFE = re.compile(r"[^\w.\- ]+")


class ExportError(RuntimeError):
    """The export could not be written; the message says where and why."""


@dataclass
class ExportSummary:
    customer_id: int
    tickets: int
    messages: int
    attachments: int
    missing_blobs: int
    path: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name that stays inside its folder of the zip, whatever the sender called it."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")[:100]
    return base or fallback


def _iso(value: Any) -> Any:
    return value.isoformat() + "Z" if isinstance(value, dt.datetime) else value


def _row(obj: m.Base, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: _iso(getattr(obj, f)) for f in fields}


def _event(e: m.Event) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "actor": e.actor, "created_at": _iso(e.created_at), "data": e.data}


def _customer_events(customer_id: int) -> list[dict[str, Any]]:
    """Events of no ticket whose data names the customer (identity links and the like)."""
    out = []
    for e in m.Event.select().where(m.Event.ticket.is_null()).order_by(m.Event.id):
        if isinstance(e.data, dict) and e.data.get("customer") == customer_id:
            out.append(_event(e))
    return out


def _gather(customer_id: int) -> dict[str, Any]:
    """Every row about the customer, read in one transaction (a consistent picture)."""
    c = m.Customer.get_by_id(customer_id)
    identities = list(m.Identity.select().where(m.Identity.customer == customer_id).order_by(m.Identity.id))
    phones = [i.address for i in identities if i.kind == "phone"]
    consents = (
        [
            _row(o, ("number", "opted_out", "keyword", "source", "updated_at"))
            for o in SmsOptOut.select().where(SmsOptOut.number.in_(phones))
        ]
        if phones
        else []
    )
    hold = LegalHold.get_or_none(LegalHold.customer_id == customer_id)
    tickets = []
    for tid in ticket_ids(customer_id):
        t = m.Ticket.get_by_id(tid)
        msgs = []
        for msg in m.Message.select().where(m.Message.ticket == tid).order_by(m.Message.id):
            atts = list(m.Attachment.select().where(m.Attachment.message == msg.id).order_by(m.Attachment.id))
            msgs.append((msg, atts))
        survey = CsatSurvey.get_or_none(CsatSurvey.ticket == tid)
        tickets.append(
            {
                "ticket": t,
                "participants": [
                    _row(p, ("kind", "address", "role"))
                    for p in m.Participant.select().where(m.Participant.ticket == tid)
                ],
                "fields": {f.key: f.value for f in TicketField.select().where(TicketField.ticket == tid)},
                "csat": _row(
                    survey,
                    (
                        "channel",
                        "recipient",
                        "sent_at",
                        "expires_at",
                        "score",
                        "comment",
                        "answered_at",
                        "answered_via",
                    ),
                )
                if survey
                else None,
                "messages": msgs,
                "events": [_event(e) for e in m.Event.select().where(m.Event.ticket == tid).order_by(m.Event.id)],
            }
        )
    return {
        "customer": c,
        "identities": identities,
        "consents": consents,
        "hold": hold,
        "tickets": tickets,
        "events": _customer_events(customer_id),
    }


def _read_snapshot(customer_id: int) -> dict[str, Any]:
    db = database()
    with db.atomic():  # SQLite: one read transaction; PostgreSQL: see below
        if not isinstance(db, __import__("peewee").SqliteDatabase):
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _gather(customer_id)


def export_customer(
    customer_id: int, out_path: str, blobs: BlobStore, *, actor: str, now: dt.datetime | None = None
) -> ExportSummary:
    """Write the customer's zip to ``out_path``; audited as ``customer_exported``."""
    now = now or m.utcnow()
    data = _read_snapshot(customer_id)
    c = data["customer"]
    counts = {"messages": 0, "attachments": 0, "missing": 0}
    target = os.path.abspath(out_path)
    folder = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".zip")
    except OSError as exc:
        raise ExportError(f"cannot write into {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("README.txt", FORMAT.format(version=FORMAT_VERSION))
            for t in data["tickets"]:
                z.writestr(
                    f"tickets/{safe_name(t['ticket'].number)}/ticket.json",
                    json.dumps(_ticket_doc(t, z, blobs, counts), indent=2, ensure_ascii=False, default=str),
                )
            z.writestr(
                "customer.json",
                json.dumps(
                    {
                        "format": FORMAT_VERSION,
                        "exported_at": _iso(now),
                        "customer": _row(c, ("id", "name", "tier", "created_at")),
                        "identities": [_row(i, ("kind", "address", "created_at")) for i in data["identities"]],
                        "consents": {"sms": data["consents"]},
                        "legal_hold": _row(data["hold"], ("actor", "reason", "set_at")) if data["hold"] else None,
                        "events": data["events"],
                        "tickets": [t["ticket"].number for t in data["tickets"]],
                    },
                    indent=2,
                    ensure_ascii=False,
                    default=str,
                ),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    summary = ExportSummary(
        customer_id, len(data["tickets"]), counts["messages"], counts["attachments"], counts["missing"], target
    )

    def audit() -> None:
        m.Event.create(
            ticket=None,
            actor=actor,
            kind="customer_exported",
            created_at=now,
            data={
                "customer": customer_id,
                "tickets": summary.tickets,
                "messages": summary.messages,
                "attachments": summary.attachments,
            },
        )

    run_tx(audit)
    return summary


def _ticket_doc(t: dict[str, Any], z: zipfile.ZipFile, blobs: BlobStore, counts: dict[str, int]) -> dict[str, Any]:
    ticket: m.Ticket = t["ticket"]
    base = f"tickets/{safe_name(ticket.number)}"
    messages = []
    for msg, atts in t["messages"]:
        counts["messages"] += 1
        folder = f"{base}/messages/{msg.id}"
        raw_path = None
        if msg.raw_blob_key:
            try:
                z.writestr(f"{folder}/raw.eml", blobs.get(msg.raw_blob_key))
                raw_path = f"{folder}/raw.eml"
            except BlobNotFound:
                counts["missing"] += 1
        files = []
        for n, a in enumerate(atts, 1):
            name = f"{folder}/files/{n}-{safe_name(a.filename)}"
            path: str | None = name  # None in the manifest when the file is gone
            try:
                z.writestr(name, blobs.get(a.blob_key))
                counts["attachments"] += 1
            except BlobNotFound:  # removed by a retention policy, or lost
                path = None
                counts["missing"] += 1
            files.append(
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "inline": a.inline,
                    "path": path,
                }
            )
        doc = _row(
            msg,
            (
                "id",
                "direction",
                "author_role",
                "author",
                "channel",
                "sender",
                "subject",
                "text",
                "full_text",
                "html",
                "created_at",
                "message_id",
                "delivery_status",
            ),
        )
        doc.update({"attachments": files, "raw": raw_path})
        messages.append(doc)
    doc = _row(
        ticket,
        (
            "number",
            "subject",
            "status",
            "priority",
            "category",
            "team",
            "assignee",
            "language",
            "channel",
            "support_address",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
        ),
    )
    doc.update(
        {
            "participants": t["participants"],
            "fields": t["fields"],
            "csat": t["csat"],
            "messages": messages,
            "events": t["events"],
        }
    )
    return doc
