"""Small builders for the worker tests: realistic mail, and a help desk that takes
it in (``EmailIntake``) and runs the worker pipeline on it, in this process.

The desk is the production path minus the broker: intake makes the raw mail a
durable inbound row and "submits" its id to a list; ``run`` does what the
``process_inbound`` actor does (count the attempt, then process).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import itertools
import os
import uuid
from typing import Iterable

from helpline.ingest.intake import EmailIntake
from helpline.ingest.spool import Spool
from helpline.notifier.templates import build_email
from helpline.store import models as m
from helpline.store.storage.blobs import FileBlobStore
from helpline.store.config import Settings
from helpline.store.envelope import Attachment, Envelope, Thread
from helpline.workers import pipeline
from helpline.workers.inbound.threads import Candidate

SUPPORT = "support@example.com"  # the support address of tests/conftest.py's settings
ALICE = "Alice Customer <alice@example.org>"
ALICE_ADDR = "alice@example.org"

_serial = itertools.count(1)

TRUSTED_MX = "mx.helpline.test"  # the authserv-id a Desk made by ``authenticated_desk`` believes


def passed(domain: str = "example.org") -> dict[str, str]:
    """Headers of a mail whose From domain the trusted MTA authenticated (for ``mail(headers=...)``):
    only then do automatic notices greet the sender by name and repeat the subject."""
    return {
        "Authentication-Results": f"{TRUSTED_MX}; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; "
        f"dmarc=pass header.from={domain}"
    }


# ---- raw mail -----------------------------------------------------------------
def new_message_id(domain: str = "mail.example.org") -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def fresh_text() -> str:
    """A new body text each call: the near-duplicate check must not see two mails as one."""
    n = next(_serial)
    return f"Hello,\n\nmy order #{4700 + n} has still not arrived. Could you check where it is?\n\nThanks,\nAlice\n"


def quoted(text: str, quote: str = "Thank you for contacting us.") -> str:
    """A reply body the way mail clients write it: new text on top, the quote below."""
    return f"{text}\n\nOn Mon, 2 Mar 2026 at 10:00, Support <{SUPPORT}> wrote:\n> {quote}\n"


def mail(
    *,
    sender: str = ALICE,
    to: str = SUPPORT,
    cc: str = "",
    subject: str = "Order never arrived",
    body: str | None = None,
    message_id: str | None = None,
    in_reply_to: str = "",
    references: Iterable[str] = (),
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """(raw bytes, Message-ID with angle brackets) of a plain-text mail as a client sends it."""
    mid = message_id or new_message_id(sender.rpartition("@")[2].strip(">") or "example.org")
    lines = [
        "Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n\tby mx.example.com (Postfix) "
        f"with ESMTPS id {uuid.uuid4().hex[:10].upper()}\r\n\tfor <{SUPPORT}>; {email.utils.formatdate()}",
        f"From: {sender}",
        f"To: {to}",
    ]
    if cc:
        lines.append(f"Cc: {cc}")
    lines += [f"Subject: {subject}", f"Date: {email.utils.formatdate()}", f"Message-ID: {mid}"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    refs = list(references)
    if refs:
        lines.append("References: " + "\r\n ".join(refs))
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    text = fresh_text() if body is None else body
    return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode("utf-8"), mid


def thread_index(root: bytes, *replies: bytes) -> str:
    """Outlook's Thread-Index header: a 22-byte conversation root plus 5 bytes per reply, base64."""
    assert len(root) == 22 and all(len(r) == 5 for r in replies)
    return base64.b64encode(root + b"".join(replies)).decode("ascii")


def outlook_root() -> bytes:
    """1 reserved byte, a 5-byte FILETIME and a 16-byte GUID, as Outlook writes it."""
    return b"\x01" + os.urandom(21)


def dsn(
    original: bytes,
    *,
    form: str = "message/rfc822",
    action: str = "failed",
    status: str = "5.1.1",
    recipient: str = ALICE_ADDR,
) -> bytes:
    """A Postfix-style delivery status notification (RFC 3464) returning ``original``.

    ``form`` is how the returned message travels: the whole message
    (``message/rfc822``) or only its headers (``text/rfc822-headers``).
    """
    boundary = f"{uuid.uuid4().hex[:10].upper()}.1772446800/mx.example.com"
    if form == "message/rfc822":
        returned = original
    else:
        returned = original.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    if action == "failed":
        subject, notice = (
            "Undelivered Mail Returned to Sender",
            (
                "I'm sorry to have to inform you that your message could not\r\n"
                "be delivered to one or more recipients.\r\n\r\n"
                f"<{recipient}>: host mx.example.org[192.0.2.25] said: 550 5.1.1\r\n"
                f"    <{recipient}>: Recipient address rejected: User unknown"
            ),
        )
    else:
        subject, notice = (
            "Delayed Mail (still being retried)",
            (
                "This is the mail system at host mx.example.com.\r\n\r\n"
                "####################################################################\r\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n"
                "####################################################################\r\n\r\n"
                "Your message could not be delivered for 4.0 hour(s).\r\n"
                "It will be retried until it is 5.0 day(s) old."
            ),
        )
    head = (
        "Return-Path: <>\r\n"
        f"Date: {email.utils.formatdate()}\r\n"
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        f"Subject: {subject}\r\n"
        f"To: {SUPPORT}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\n'
        f"Message-Id: <{uuid.uuid4().hex}@mx.example.com>\r\n"
        "\r\n"
        "This is a MIME-encapsulated message.\r\n\r\n"
    )
    parts = (
        f"--{boundary}\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"{notice}\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n"
        f"Arrival-Date: {email.utils.formatdate()}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.example.org\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Description: Undelivered Message\r\n"
        f"Content-Type: {form}\r\n\r\n"
    )
    return head.encode() + parts.encode() + returned + f"\r\n--{boundary}--\r\n".encode()


# ---- the desk ------------------------------------------------------------------
class Desk:
    """Intake plus pipeline on one backend's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.submitted: list[int] = []
        self.intake = EmailIntake(
            settings,
            FileBlobStore(settings.effective_blob_dir),
            self.submitted.append,
            Spool(settings.effective_spool_dir),
        )

    def authenticated(self) -> "Desk":
        """This desk believing ``TRUSTED_MX``'s Authentication-Results (see ``passed``)."""
        return self.configured(trusted_authserv_id=TRUSTED_MX)

    def configured(self, **changes) -> "Desk":  # noqa: ANN003
        return Desk(self.settings.replace(**changes))

    def deliver(self, raw: bytes, *, mail_from: str | None = None, rcpt: str = SUPPORT) -> int:
        """Accept a mail as the SMTP server would; the new inbound row's id."""
        result = self.intake.accept(raw, mail_from, [rcpt])
        assert result.status == "accepted", result
        assert result.inbound_id in self.submitted
        return result.inbound_id

    def run(self, inbound_id: int) -> pipeline.Outcome:
        """What the ``process_inbound`` actor does: count the attempt, then process."""
        assert pipeline.begin_attempt(inbound_id, self.settings.max_attempts) is None
        return pipeline.process(inbound_id, self.settings)

    def receive(self, raw: bytes, **kw) -> pipeline.Outcome:  # noqa: ANN003
        return self.run(self.deliver(raw, **kw))

    def new_ticket(self, **mail_kw) -> tuple[m.Ticket, str]:  # noqa: ANN003
        """A customer mail that opens a ticket; (ticket, the mail's Message-ID)."""
        raw, mid = mail(**mail_kw)
        outcome = self.receive(raw)
        assert outcome.action == "created", outcome
        return m.Ticket.get_by_id(outcome.ticket_id), mid


# ---- reading the database ------------------------------------------------------------
def ack_of(ticket: m.Ticket | int) -> m.Outbox:
    return m.Outbox.get((m.Outbox.ticket == ticket) & (m.Outbox.kind == "ack"))


def ack_raw(ticket: m.Ticket | int) -> bytes:
    """The acknowledgement exactly as the email sender would put it on the wire."""
    return build_email(ack_of(ticket).payload).as_bytes()


def ack_message_id(ticket: m.Ticket | int) -> str:
    return ack_of(ticket).message_id


def events(ticket: m.Ticket | int, kind: str | None = None) -> list[m.Event]:
    q = m.Event.select().where(m.Event.ticket == ticket)
    if kind:
        q = q.where(m.Event.kind == kind)
    return list(q.order_by(m.Event.id))


def event_kinds(ticket: m.Ticket | int) -> list[str]:
    return [e.kind for e in events(ticket)]


def inbound_messages(ticket: m.Ticket | int) -> list[m.Message]:
    return list(
        m.Message.select().where((m.Message.ticket == ticket) & (m.Message.direction == "in")).order_by(m.Message.id)
    )


def reload(ticket: m.Ticket) -> m.Ticket:
    return m.Ticket.get_by_id(ticket.id)


def set_status(ticket: m.Ticket, status: str, *, resolved_ago: dt.timedelta | None = None) -> None:
    """What an agent's resolve/close does to the row, at a chosen time in the past."""
    when = m.utcnow() - (resolved_ago or dt.timedelta(0))
    ticket = reload(ticket)
    ticket.status = status
    ticket.resolved_at = when
    if status == m.TicketStatus.CLOSED:
        ticket.closed_at = when
    ticket.save()


def counts() -> dict[str, int]:
    """Rows per table, and inbound rows per status: "nothing changed" in one comparison."""
    out = {model.__name__: model.select().count() for model in m.ALL_MODELS if model is not m.SchemaVersion}
    for row in m.Inbound.select(m.Inbound.status):
        out["inbound:" + row.status] = out.get("inbound:" + row.status, 0) + 1
    return out


# ---- pure-function inputs --------------------------------------------------------------
def candidate(
    ticket_id: int,
    via: str,
    *,
    status: str = "open",
    participants: Iterable[str] = (ALICE_ADDR,),
    resolved_at: dt.datetime | None = None,
) -> Candidate:
    return Candidate(ticket_id, f"HL-2026-{ticket_id:06d}", status, via, resolved_at, frozenset(participants))


def envelope(
    *,
    message_id: str = "",
    in_reply_to: str = "",
    references: Iterable[str] = (),
    thread_index: str = "",
    conversation_id: str = "",
    text: str = "",
    full_text: str = "",
    attachments: Iterable[str] = (),
) -> Envelope:
    """An email envelope with only the fields threading and dedupe read; attachments by sha256."""
    return Envelope(
        channel="email",
        external_id=message_id or "sha256:0",
        received_at="2026-03-02T10:00:00+00:00",
        text=text,
        full_text=full_text,
        attachments=[
            Attachment(
                filename=f"file{i}.pdf", content_type="application/pdf", size=10, sha256=h, blob_key="sha256:" + h
            )
            for i, h in enumerate(attachments)
        ],
        thread=Thread(
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=list(references),
            thread_index=thread_index,
            conversation_id=conversation_id,
        ),
    )
