"""What the customer hears when their ticket's status changes: a status notice and, on
resolution, the one-question satisfaction survey. Called by ``ticket_ops.change_status``
(the one writer of statuses) inside its transaction, so the outbox rows commit with
the change or not at all. The reminder to a customer the ticket waits on
(``waiting_reminder``, from the scheduler's lifecycle timers) follows the same rules.

Both go to the channel the ticket came in on, to the address the first message
came from, and only when an automatic message may go there: the first
message's envelope is checked like an acknowledgement (``loops.autoreply_decision``:
no auto-submitted, bulk or list mail, no no-reply or own addresses), SMS
never to an opted-out number or a short code. Email follows the
acknowledgement's authentication rules (``workers/inbound/auth_policy.py``),
judged again on the stored first message: a From whose trusted
Authentication-Results failed gets nothing at all (its owner may never have
written, and a notice about a ticket opened in their name is backscatter,
however bland), and an address authentication did not vouch for (no trusted
verdict, a contact form's unproven address, a Reply-To outside the From's
domain) gets the notice without the name or the subject, so nobody can have us
mail a chosen subject line to a third party. Agents' own replies are not
automatic and still go: the agent sees the warning on the message. Every
decision not to send is an audit event.

The survey is recorded in ``csat_survey`` (one row per ticket), so a ticket
resolved, reopened and resolved again is surveyed once. An SMS survey is
answered by a digit: ``sms_stage.sms_answer`` takes it in the SMS stage before the
text could become a message.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from helpline.notifier import loops, outbox, render
from helpline.notifier.slack import slack_blocks
from helpline.notifier.webhook import webhook_events
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.sms.sms_sender import sms_payload
from helpline.notifier.templates import clean_subject, safe_name
from helpline.store import import_mode, signing
from helpline.store.tickets import csat_state
from helpline.store.tickets import customers
from helpline.store.tickets import routing_state
from helpline.store.tickets import ticket_lookups
from helpline.store.config import Settings
from helpline.store.siteconfig.config_file import site_config
from helpline.store.envelope import Envelope, NewerEnvelope

from helpline.store.inbound import audit_events
from helpline.store.inbound import message_state
from helpline.store.inbound import thread_state
from helpline.workers.inbound import auth_policy, inbound_channels

log = logging.getLogger("helpline.workers")

STATUS_LABELS = {
    "new": "new",
    "open": "open",
    "in_progress": "in progress",
    "waiting_customer": "waiting for you",
    "resolved": "resolved",
    "closed": "closed",
    "merged": "merged",
}
CSAT_LABELS = {1: "very unsatisfied", 2: "unsatisfied", 3: "neutral", 4: "satisfied", 5: "very satisfied"}


class TicketLike(Protocol):
    id: int
    number: str
    status: str
    channel: str
    subject: str
    support_address: str
    customer_id: int
    assignee: str | None
    language: str | None


@dataclass
class Audience:
    """Where an automatic message about the ticket goes, and what it may repeat."""

    channel: str  # email or sms (and, for ``chat``, slack or webhook)
    recipient: str  # address, number, or "CHANNEL:THREAD_TS" (slack); "" for webhook
    echo: bool
    env: Envelope


def audience(t: TicketLike, settings: Settings, *, chat: bool = False) -> tuple[Audience | None, str]:
    """(where to, "") or (None, why nothing may be sent).

    ``chat``: a customer who wrote in Slack is reached in their own thread, and
    a webhook source's customer through the source's app (when it registered a
    callback URL); otherwise, as for status notices, only email and SMS."""
    raw = ticket_lookups.first_envelope(t.id)
    if raw is None:
        return None, "the ticket has no customer message"
    try:
        env = Envelope.from_dict(raw)
    except NewerEnvelope as exc:  # a rolling upgrade (issue 16): recorded as the notice's suppression, not raised
        return None, f"the ticket's first message is of a newer release: {exc}"
    if env.author_role != "customer":
        return None, "the ticket was not opened by a customer"
    channel = inbound_channels.of(t.channel)
    route = channel.notice_route(t.id, env, settings, chat=chat)  # SMS, a Slack thread, a source's app
    if route is not None:
        return (None, route.refused) if route.refused else (Audience(route.channel, route.recipient, True, env), "")
    if env.sender.kind != "email" and not env.reply_to:
        return None, f"no email address to write to on a {t.channel} ticket"
    verdict = loops.autoreply_decision(
        env,
        own_addresses=settings.support_addresses,
        sent_to_address_last_hour=0,
        sent_total_last_hour=0,
        per_address_limit=1,
        global_limit=1,
    )
    if not verdict.send:
        return None, verdict.reason
    auth = auth_policy.verdict(env, settings)
    refused = auth_policy.ack_refusal(env, auth)  # the From failed authentication: its owner may never have written
    if refused:
        return None, refused
    recipient = loops.reply_address(env)
    echo = channel.ack_may_echo and auth_policy.ack_may_echo(env, auth, recipient)
    return Audience("email", recipient, echo, env), ""


def _context(t: TicketLike, aud: Audience, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    name = ""
    if aud.echo:
        name = safe_name(customers.name_of(t.customer_id) or "")
    agent = routing_state.agent(t.assignee) if t.assignee else None
    due = routing_state.first_response_due(t.id)
    expected = ""
    if due is not None:
        left = due - now
        expected = _humanise(left) if left.total_seconds() > 0 else ""
    return {
        "customer_name": name,
        "ticket_number": t.number,
        "subject": clean_subject(t.subject) if aud.echo else "",
        "agent_name": (agent.name or "") if agent else "",
        "expected_response": expected,
        "support_address": t.support_address or settings.support_addresses[0],
        "reopen_days": f"{settings.reopen_days:g}",
        "status": t.status,
        "status_label": STATUS_LABELS.get(t.status, t.status),
    }


def _humanise(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 90:
        return f"{max(minutes, 1)} minutes"
    hours = round(minutes / 60)
    return f"{hours} hours" if hours < 48 else f"{round(hours / 24)} days"


def _email(
    t: TicketLike,
    aud: Audience,
    settings: Settings,
    *,
    kind: str,
    subject: str,
    text: str,
    html: str,
    unique_key: str,
    now: dt.datetime,
) -> int | None:
    mid = make_message_id(settings.mail_domain, t.number)
    support = t.support_address or settings.support_addresses[0]
    payload: dict[str, Any] = {
        "from": support,
        "to": aud.recipient,
        "subject": subject,
        "message_id": mid,
        "in_reply_to": f"<{aud.env.thread.message_id}>" if aud.env.thread.message_id else "",
        "references": [f"<{aud.env.thread.message_id}>"] if aud.env.thread.message_id else [],
        "headers": {
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "X-Helpline-Ticket": t.number,
        },
        "text": text,
    }
    if html:
        payload["html"] = html
    if settings.secret_key:  # a reply reaches the ticket even when the client drops the headers
        local, _, domain = support.partition("@")
        payload["headers"]["Reply-To"] = f"{local}+{signing.reply_token(settings.secret_key, t.id)}@{domain}"
    bare = mid.strip("<>").lower()
    out_id = message_state.add_outbound(
        t.id,
        channel="email",
        author_role="system",
        message_id=bare,
        sender=support,
        subject=subject,
        text=text,
        now=now,
    )
    thread_state.add_thread_keys(t.id, ["mid:" + bare])
    row = outbox.enqueue(
        channel="email",
        kind=kind,
        recipient=aud.recipient,
        payload=payload,
        unique_key=unique_key,
        ticket=t.id,
        out_message=out_id,
        message_id=mid,
    )
    return row.id if row is not None else None


def _sms(t: TicketLike, aud: Audience, *, kind: str, text: str, unique_key: str, now: dt.datetime) -> int | None:
    sender = str(aud.env.metadata.get("to") or "")
    out_id = message_state.add_outbound(
        t.id, channel="sms", author_role="system", message_id="", sender=sender, subject="", text=text, now=now
    )
    row = outbox.enqueue(
        channel="sms",
        kind=kind,
        recipient=aud.recipient,
        ticket=t.id,
        out_message=out_id,
        payload=sms_payload(aud.recipient, text, ref=unique_key, from_number=sender),
        unique_key=unique_key,
    )
    return row.id if row is not None else None


def on_status_change(t: TicketLike, frm: str, to: str, *, now: dt.datetime, settings: Settings) -> list[int]:
    """Queue the status notice and the survey the change calls for; the outbox ids."""
    if import_mode.active():  # imported history: the customer was answered long ago, by the old system
        return []
    notify = to in settings.notify_statuses
    survey = to == "resolved" and settings.csat_survey and csat_state.get(t.id) is None
    if not notify and not survey:
        return []
    aud, why = audience(t, settings)
    if aud is None:
        audit_events.event(
            t.id,
            "customer_notice_suppressed",
            {"status": to, "reason": why, **({"csat": True} if survey else {})},
            now=now,
        )
        return []
    tpl = render.templates(site_config(settings).templates_dir)
    ctx = _context(t, aud, settings, now)
    lang = t.language
    ids: list[int] = []
    if notify:
        key = f"status:{t.id}:{to}:{now.isoformat()}"
        if aud.channel == "sms":
            got = _sms(
                t,
                aud,
                kind="notification",
                text=tpl.render("sms_status.txt", lang, **ctx).strip(),
                unique_key=key,
                now=now,
            )
        else:
            name = f"status_{to}" if tpl.has_email(f"status_{to}", lang) else "status_changed"
            subject = f"[{t.number}] " + (
                f"Re: {ctx['subject']}" if ctx["subject"] else f"Ticket {STATUS_LABELS.get(to, to)}"
            )
            text, html = tpl.email(name, lang, **ctx)
            got = _email(
                t, aud, settings, kind="notification", subject=subject, text=text, html=html, unique_key=key, now=now
            )
        if got:
            ids.append(got)
        audit_events.event(
            t.id, "customer_notified", {"status": to, "channel": aud.channel, "to": aud.recipient}, now=now
        )
    if survey:
        ids += _survey(t, aud, tpl, ctx, settings, now)
    return ids


def survey_url(settings: Settings, ticket_id: int, score: int) -> str:
    base = (settings.public_url or f"http://{settings.http_listen}").rstrip("/")
    return f"{base}/csat/{csat_state.token(settings.secret_key, ticket_id)}?score={score}"


def _survey(
    t: TicketLike, aud: Audience, tpl: render.Templates, ctx: dict[str, Any], settings: Settings, now: dt.datetime
) -> list[int]:
    if aud.channel == "email" and not settings.secret_key:
        audit_events.event(
            t.id,
            "customer_notice_suppressed",
            {"csat": True, "reason": "no HELPLINE_SECRET_KEY to sign survey links"},
            now=now,
        )
        return []
    expires = now + dt.timedelta(days=settings.csat_expire_days)
    if not csat_state.create(t.id, aud.channel, aud.recipient, now, expires):
        return []
    ctx = {
        **ctx,
        "expires": expires.strftime("%Y-%m-%d %H:%M UTC"),
        "links": [{"score": s, "label": CSAT_LABELS[s], "url": survey_url(settings, t.id, s)} for s in range(1, 6)],
    }
    if aud.channel == "sms":
        got = _sms(
            t,
            aud,
            kind="csat",
            text=tpl.render("csat_sms.txt", t.language, **ctx).strip(),
            unique_key=f"csat:{t.id}",
            now=now,
        )
    else:
        text, html = tpl.email("csat_survey", t.language, **ctx)
        got = _email(
            t,
            aud,
            settings,
            kind="csat",
            subject=f"[{t.number}] How did we do?",
            text=text,
            html=html,
            unique_key=f"csat:{t.id}",
            now=now,
        )
    audit_events.event(
        t.id, "csat_sent", {"channel": aud.channel, "to": aud.recipient, "expires": expires.isoformat()}, now=now
    )
    return [got] if got else []


def waiting_reminder(
    t: TicketLike, days_left: float, *, now: dt.datetime, settings: Settings
) -> tuple[int | None, str, str]:
    """Remind the customer the ticket waits on, on the ticket's own channel: (outbox id, channel, why not).

    Email (with its HTML part) and SMS go where status notices go, with the
    same checks (no auto-reply or list address, no opted-out number); a
    customer who wrote in Slack gets a line in their own thread; a webhook
    source hears it as a ``ticket.replied`` event carrying a system message,
    for its app to show. The reminder is recorded as the ticket's outbound
    message on that channel."""
    aud, why = audience(t, settings, chat=True)
    if aud is None:
        return None, "", why
    tpl = render.templates(site_config(settings).templates_dir)
    ctx = {**_context(t, aud, settings, now), "resolves_in_days": f"{days_left:g}", "channel": aud.channel}
    key = f"reminder:{t.id}:{now.isoformat()}"
    if aud.channel == "email":
        text, html = tpl.email("waiting_reminder", t.language, **ctx)
        subject = f"[{t.number}] " + (f"Re: {ctx['subject']}" if ctx["subject"] else "Waiting for your answer")
        return (
            _email(t, aud, settings, kind="reminder", subject=subject, text=text, html=html, unique_key=key, now=now),
            "email",
            "",
        )
    if aud.channel == "sms":
        text = tpl.render("sms_waiting_reminder.txt", t.language, **ctx).strip()
        return _sms(t, aud, kind="reminder", text=text, unique_key=key, now=now), "sms", ""
    text = tpl.render("chat_waiting_reminder.txt", t.language, **ctx).strip()
    if aud.channel == "slack":
        channel, _, root = aud.recipient.partition(":")
        out_id = message_state.add_outbound(
            t.id, channel="slack", author_role="system", message_id="", sender=channel, subject="", text=text, now=now
        )
        row = outbox.enqueue(
            channel="slack",
            kind="reminder",
            recipient=channel,
            ticket=t.id,
            out_message=out_id,
            payload={"op": "notice", "channel": channel, "thread_ts": root, "text": slack_blocks.escape(text)},
            unique_key=key,
        )
        return (row.id if row is not None else None), "slack", ""
    out_id = message_state.add_outbound(
        t.id, channel="webhook", author_role="system", message_id="", sender="", subject="", text=text, now=now
    )
    ids = webhook_events.emit(
        t.id,
        webhook_events.REPLIED,
        key,
        webhook_events.message_data(out_id, "webhook", "system", t.subject, text, 0),
        settings,
        now,
        out_message=out_id,
    )
    return (ids[0] if ids else None), "webhook", ""
