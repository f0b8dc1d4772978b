"""An agent's answer to a ticket's customer, on the channel the customer last wrote on.

(A webhook source's message counts only on a ticket that source created:
``_customer_message``.)

Slack (``slack_replies``), the ticket API (``api_ticket_ops``) and incidents'
fan-out (``incidents``) all answer customers; the rules of *how* live here
once, so a fix to email threading or SMS numbering reaches all three:

- email (and a contact form's customer): threaded onto the customer's latest
  message (In-Reply-To/References), the ticket tag in the subject, a signed
  Reply-To when a secret key is set, and the new Message-ID as a thread key so
  the customer's answer finds the ticket again;
- SMS: from the number the customer texted (``sms_sender.sms_payload``);
- Slack: into the customer's own Slack thread, with the agent's name;
- webhook (only where the caller allows it): the source's app shows the answer,
  it hears of it as a ``ticket.replied`` event.

Everything an answer means is written in the caller's transaction: the
agent's outbound message, the outbox row, the ``agent_replied`` audit event,
the ``ticket.replied`` event for the ticket's webhook sources, and the
lifecycle (response clocks stop, a new ticket becomes open). What differs per
caller stays with the caller: Slack's undo window and notices, the API's
idempotency and refusal, incidents' skipping of closed tickets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from helpline.notifier import loops, outbox
from helpline.notifier.webhook import webhook_events
from helpline.notifier.email.agent_reply import render_agent_reply
from helpline.notifier.message_ids import make_message_id
from helpline.store import signing
from helpline.store.storage import download_links
from helpline.store.outbound import reply_rows
from helpline.store.channels import webhook_state
from helpline.store.config import Settings
from helpline.store.envelope import Envelope

from helpline.store.inbound import audit_events
from helpline.store.inbound import thread_state
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import routing_stage
from helpline.workers.tickets.ticket_ops import TicketOpError, readable_envelope

NO_CUSTOMER = "the ticket has no customer message to answer"
NO_CALLBACK = (
    "the ticket came from a webhook source without a callback URL (HELPLINE_WEBHOOK_CALLBACKS), so its "
    "app cannot be told of the answer"
)


@dataclass
class Composed:
    channel: str  # where the answer went: email, sms, slack, webhook; "" when it could not go anywhere
    recipient: str = ""
    message_id: int = 0  # the agent's outbound message row (0: none)
    outbox_id: int | None = None  # the reply's outbox row (None: a webhook answer, or ``key`` was queued before)
    event_ids: list[int] = field(default_factory=list)  # ticket.replied events for the ticket's webhook sources
    opened: bool = False  # the answer moved a new ticket to open
    wrote_on: str = ""  # the customer's channel (a form counts as email); callers word their refusals with it
    reason: str = ""  # why nothing was written, when ``channel`` is ""
    files_sent: str = (
        ""  # how the stored files went: attached (email, MMS, Slack upload, event links), linked (SMS text)
    )
    files_reason: str = ""  # why the stored files did not go, or went as links instead of media


class KeyReused(ValueError):
    """An answer's key (the API's Idempotency-Key) was used before for a different answer: refused (422),
    since answering "done" would drop the new text without anyone knowing."""


REQUEST_HASH = "request_sha256"  # the outbox payload key holding the fingerprint of the request that made it


def request_hash(**fields: str) -> str:
    """The fingerprint of an answer request's fields, compared when its key comes again."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ReplyNotPossible(TicketOpError):
    """The ticket's customer cannot be answered (nothing was written; the transaction rolls back)."""


def prior_or_ticket(key: str, ticket_id: int, request: str) -> tuple[tuple[int, str, str] | None, Any]:
    """What every agent-reply path checks first: the answer a retried ``key`` already queued (``queued``),
    else the ticket, which must be open to an answer (ReplyNotPossible for a closed or merged one)."""
    done = queued(key, ticket_id, request)
    if done is not None and done[0] is not None:
        return (done[0], done[1], done[2]), None
    ticket = ticket_refs.get(ticket_id)
    if ticket.status in ("closed", "merged"):
        raise ReplyNotPossible(f"{ticket.number} is {ticket.status}; reply on the ticket it became or a new one")
    return None, ticket


def queued(key: str, ticket_id: int, request: str = "") -> tuple[int | None, str, str] | None:
    """(outbound message id, channel, recipient) of an answer already queued under ``key``: a retried
    request or command finds its first answer instead of sending the customer a second one.

    On a source's ticket the answer is its ``ticket.replied`` event. With
    ``request`` (``request_hash``), raises ``KeyReused`` when the first answer
    was made from a different request (answers stored before fingerprints
    were kept are taken as the same)."""
    row = reply_rows.answer_queued(key, ticket_id)
    if row is None:
        creator = webhook_state.creator_of(ticket_id)
        if creator:
            eid = webhook_events.event_id(ticket_id, webhook_events.REPLIED, key)
            row = reply_rows.answer_queued(f"hook:{creator}:{eid}", ticket_id, answered_message_only=True)
    if row is None:
        return None
    if request:
        payload = row[3]
        if payload.get(REQUEST_HASH, request) != request:
            raise KeyReused(
                "this Idempotency-Key was already used for a different answer (other text or author); "
                "a retry must send the same body, and a new answer needs a new key"
            )
    return row[0], row[1], row[2]


def _customer_message(ticket_id: int) -> tuple[str, str, Envelope | None] | None:
    """(channel, sender, envelope) of the customer's newest message that may steer the answer.

    A webhook message steers it only on a ticket its own source created: the
    answer to a mailbox's ticket goes to the mailbox even if a source's message
    sits on it (written there by an older release, or moved there by a merge)."""
    rows = reply_rows.customer_messages(ticket_id, 50)
    creator: str | None = None
    for channel, sender, inbound_id in rows:
        env = _envelope(inbound_id)
        if channel == "webhook":
            creator = webhook_state.creator_of(ticket_id) if creator is None else creator
            if not creator or env is None or env.metadata.get("source") != creator:
                continue
        return channel, sender, env
    return None


def _envelope(inbound_id: int | None) -> Envelope | None:
    data = reply_rows.envelope_of(inbound_id) if inbound_id else None
    return readable_envelope(data, "the customer's message") if data is not None else None


def _out_message(
    ticket_id: int,
    *,
    agent: str,
    channel: str,
    sender: str,
    text: str,
    now: dt.datetime,
    message_id: str = "",
    subject: str = "",
    extra: dict[str, Any] | None = None,
) -> int:
    return reply_rows.add_message(
        {
            "ticket_id": ticket_id,
            "inbound_id": None,
            "direction": "out",
            "author_role": "agent",
            "author": agent[:255],
            "channel": channel,
            "external_id": "",
            "message_id": message_id,
            "sender": sender,
            "subject": subject[:1000],
            "text": text,
            "full_text": text,
            "html": "",
            "body_hash": "",
            "raw_blob_key": "",
            "delivery_status": "",
            "created_at": now,
            **(extra or {}),
        }
    )


def _record_attachments(message_id: int, files: list[dict[str, Any]]) -> list[int]:
    """Attachment rows of the agent's message: what the customer got, and what download links name."""
    return reply_rows.add_attachments(message_id, files)


NO_LINKS = (
    "files reach this channel only as download links, and links need HELPLINE_PUBLIC_URL (and HELPLINE_SECRET_KEY)"
)


def _sms_with_files(stored: list[dict[str, Any]]) -> tuple[bool, str]:
    """(as MMS media?, what to tell the agent otherwise) for an SMS answer carrying ``stored`` files.

    Twilio takes at most ``MMS_MAX_MEDIA`` media and ``MMS_MAX_BYTES`` in all;
    past either, every file goes as a signed link in the text instead (one way
    for all, so the customer is not left to guess which came how)."""
    from helpline.notifier.sms.sms_sender import MMS_MAX_BYTES, MMS_MAX_MEDIA

    if len(stored) <= MMS_MAX_MEDIA and sum(int(f["size"]) for f in stored) <= MMS_MAX_BYTES:
        return True, ""
    return False, (
        f"over Twilio's MMS limits ({MMS_MAX_MEDIA} files, {MMS_MAX_BYTES // (1024 * 1024)} MB "
        "in all), so the customer got download links in the text instead"
    )


def _links_text(text: str, links: list[download_links.Linked]) -> str:
    until = download_links.iso(links[0].expires)[:10] if links else ""
    lines = [f"{one.filename}: {one.url}" for one in links]
    return f"{text.rstrip()}\n\nFiles (links valid until {until}):\n" + "\n".join(lines)


def compose(
    ticket_id: int,
    text: str,
    *,
    agent: str,
    actor: str,
    key: str,
    settings: Settings,
    now: dt.datetime,
    audit: dict[str, Any],
    by_address: bool = False,
    webhook: bool = False,
    message: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    files: list[dict[str, Any]] | None = None,
) -> Composed:
    """Answer the ticket's customer where they last wrote; ``channel`` "" (nothing written) when that
    channel has no way back.

    ``key`` is the reply's outbox key (one answer per key, ever) and the
    reference of its webhook event. ``audit`` is merged into the
    ``agent_replied`` event (at least ``via``). The options are the callers'
    differences: ``by_address`` answers by email any customer whose message
    came with an email address (Slack); ``webhook`` answers a webhook source's
    customer with the ``ticket.replied`` event alone (the API: when no source
    listens, ``event_ids`` is empty and the caller must refuse and roll back).
    ``message`` adds columns to the outbound message row, ``payload`` keys to
    the outbox payload. ``files`` (fetched blobs) are recorded as the answer's
    attachments and go the channel's way: MIME parts of an email, MMS media
    (links past Twilio's limits), a Slack upload, signed links in a webhook
    event; ``files_sent``/``files_reason`` tell the caller how, or why not."""
    ticket = ticket_refs.get(ticket_id)
    latest = _customer_message(ticket_id)
    if latest is None:
        return Composed("", reason=NO_CUSTOMER)
    wrote_on, sender, cenv = latest
    wrote_on = "email" if wrote_on == "form" else wrote_on  # a contact form's customer is answered by email
    mid = ""
    stored = [f for f in files or [] if f.get("blob_key")]
    files_sent, files_reason, message_extra = "", "", {}
    if wrote_on == "email" or (by_address and cenv is not None and cenv.sender.kind == "email"):
        channel, recipient = "email", loops.reply_address(cenv) if cenv else sender
        mid = make_message_id(settings.mail_domain, ticket.number)
        reply_to = ""
        if settings.secret_key:
            local, _, domain = ticket.support_address.partition("@")
            reply_to = f"{local}+{signing.reply_token(settings.secret_key, ticket.id)}@{domain}"
        thread = cenv.thread if cenv else None
        body = render_agent_reply(
            ticket_number=ticket.number,
            subject=ticket.subject,
            agent_name=agent,
            text=text,
            support_address=ticket.support_address,
            recipient=recipient,
            in_reply_to=f"<{thread.message_id}>" if thread and thread.message_id else "",
            references=[f"<{r}>" for r in thread.references] if thread else [],
            message_id=mid,
            reply_to=reply_to,
        )
        mid = mid.strip("<>").lower()
        out_id = _out_message(
            ticket_id,
            agent=agent,
            channel="email",
            sender=ticket.support_address,
            text=body["text"],
            now=now,
            message_id=mid,
            subject=body["subject"],
            extra=message,
        )
        thread_state.add_thread_keys(ticket_id, ["mid:" + mid])
        if stored:  # email carries them as MIME attachments (templates.render_bytes)
            body["attachments"] = [
                {"blob_key": f["blob_key"], "filename": f["name"], "content_type": f["content_type"]} for f in stored
            ]
            _record_attachments(out_id, stored)
            files_sent = "attached"
    elif wrote_on == "slack" and cenv is not None and cenv.thread.conversation_id:
        # A customer who wrote in Slack: the bot posts the answer into their own thread, with the agent's name,
        # and re-uploads the agent's files there (files API; the sender reads them from the blob store).
        channel, (recipient, _, root) = "slack", cenv.thread.conversation_id.partition(":")
        body = {"op": "customer_reply", "channel": recipient, "thread_ts": root, "text": text, "agent": agent}
        out_id = _out_message(
            ticket_id, agent=agent, channel="slack", sender=recipient, text=text, now=now, extra=message
        )
        if stored:
            body["files"] = _record_attachments(out_id, stored)
            files_sent = "attached"
    elif wrote_on == "sms":
        from helpline.notifier.sms.sms_sender import sms_payload

        channel, recipient = "sms", sender
        from_number = str(cenv.metadata.get("to") or "") if cenv else ""  # answer from the number they texted
        as_media = False
        if stored and not download_links.can_link(settings):
            files_reason = NO_LINKS  # Twilio fetches MMS media from a URL: without one, text only
        elif stored:
            as_media, files_reason = _sms_with_files(stored)
        out_id = _out_message(
            ticket_id, agent=agent, channel="sms", sender=from_number, text=text, now=now, extra=message
        )
        media: list[int] = []
        if stored and download_links.can_link(settings):
            ids = _record_attachments(out_id, stored)
            if as_media:  # the sender signs fresh links for Twilio to fetch when it sends
                media, files_sent = ids, "attached"
            else:
                text, files_sent = _links_text(text, download_links.of_ids(settings, ids)), "linked"
                reply_rows.set_text(out_id, text)
        body = sms_payload(recipient, text, ref=key, from_number=from_number, media=media)
    elif wrote_on == "webhook" and webhook:
        listening = webhook_events.listening(ticket_id, settings)
        if not listening:
            return Composed("", wrote_on=wrote_on, reason=NO_CALLBACK)
        channel, recipient, body = "webhook", "", {}
        out_id = _out_message(ticket_id, agent=agent, channel="webhook", sender="", text=text, now=now, extra=message)
        if stored and not download_links.can_link(settings):
            files_reason = NO_LINKS
        elif stored:  # the source's app gets each file as a signed link in the event
            links = download_links.of_ids(settings, _record_attachments(out_id, stored))
            message_extra["files"] = [
                {
                    "filename": one.filename,
                    "content_type": one.content_type,
                    "size": one.size,
                    "url": one.url,
                    "expires_at": download_links.iso(one.expires),
                }
                if not one.withheld
                else {"filename": one.filename, "withheld": one.withheld}
                for one in links
            ]
            files_sent = "attached"
    else:
        return Composed(
            "",
            wrote_on=wrote_on,
            reason=f"the customer wrote on {wrote_on or 'no channel'}, which has no way back for an agent's reply",
        )
    done = Composed(channel, recipient, out_id, wrote_on=wrote_on, files_sent=files_sent, files_reason=files_reason)
    if channel != "webhook":  # a webhook source's app shows the answer from the event below
        row = outbox.enqueue(
            channel=channel,
            kind="reply",
            recipient=recipient,
            payload={**body, **(payload or {})},
            unique_key=key,
            ticket=ticket_id,
            out_message=out_id,
            message_id=mid,
        )
        done.outbox_id = row.id if row is not None else None
    audit_events.event(
        ticket_id,
        "agent_replied",
        {"message": out_id, "channel": channel, "to": recipient, **audit},
        actor=actor,
        now=now,
    )
    data = webhook_events.message_data(
        out_id, channel, "agent", ticket.subject, text, len(message_extra.get("files") or [])
    )
    data["message"].update(message_extra)
    # For a webhook customer the events *are* the answer: they carry its follow-ups (Slack's confirmation).
    done.event_ids = webhook_events.emit(
        ticket_id,
        webhook_events.REPLIED,
        key,
        data,
        settings,
        now,
        out_message=out_id if channel == "webhook" else None,
        extra=payload if channel == "webhook" else None,
    )
    done.opened = routing_stage.on_agent_reply(ticket_id, actor, settings, now)  # clocks stop; a new ticket opens
    ticket_refs.update(ticket_id, updated_at=now)
    return done
