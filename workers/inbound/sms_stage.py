"""The SMS stages of the pipeline: keywords before threading, and what a stored
text adds after it (the acknowledgement of a new ticket, MMS media to fetch).

Everything else an SMS goes through is the shared pipeline: the sender's
number (E.164, ``kind=phone``) is the customer's identity and a participant,
and the envelope's ``conversation_id`` (that number) is a ``conv:sms:+E164``
thread key. A new ticket claims the key; the next text from the number
follows it to that ticket while it is open, reopens it within
``HELPLINE_REOPEN_DAYS`` of its resolution, and after that opens a new ticket
linked to it which takes the key over. So a text always joins the number's
most recently active open SMS ticket.

Keywords (``keyword_action``, a plain function): STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT (and Twilio's REVOKE, OPTOUT) opt the number out; START,
UNSTOP, YES opt it in again, but only an opted-out number's "Yes" is a
keyword (otherwise it is an answer to an agent); HELP and INFO get
``HELPLINE_SMS_HELP_TEXT``. When Twilio's Advanced Opt-Out recognised the
keyword itself (the webhook's ``OptOutType``) Twilio has already answered:
Helpline records the state and sends nothing, so no customer gets two
answers. A keyword never opens a ticket; its inbound row ends ``processed``
with the reason, and each opt-out or opt-in is an audit event (on the
number's conversation ticket when it has one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from helpline.notifier import outbox, ratelimit
from helpline.notifier.sms import sms_optout
from helpline.notifier.sms.sms_sender import sms_payload
from helpline.store.tickets import csat_state
from helpline.store.inbound import message_state
from helpline.store.tickets import ticket_refs
from helpline.store.inbound.audit_events import event
from helpline.store.config import Settings
from helpline.store.envelope import Envelope
from helpline.store.tickets.ticket_refs import TicketRef

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
_TWILIO_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}


def keyword_action(body: str, opt_out_type: str = "") -> str | None:
    """``opt_out``, ``opt_in``, ``help`` or None: what an SMS body means as a keyword.

    A keyword is the whole message (any case, surrounding blanks and a final
    full stop or exclamation mark ignored): "Stop texting me" is a message."""
    if opt_out_type.upper() in _TWILIO_TYPES:
        return _TWILIO_TYPES[opt_out_type.upper()]
    word = body.strip().rstrip(".!").strip().upper()
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    if word in HELP:
        return "help"
    return None


@dataclass
class KeywordOutcome:
    reason: str
    outbox_ids: list[int] = field(default_factory=list)


def handle_keyword(inbound_id: int, env: Envelope, settings: Settings, now: dt.datetime) -> KeywordOutcome | None:
    """Act on an SMS keyword inside the pipeline's transaction; None when the text is an ordinary message."""
    twilio_type = str(env.metadata.get("opt_out_type") or "")
    action = keyword_action(env.text, twilio_type)
    if action is None:
        answered = sms_answer(env, now)  # a digit while a survey is open answers it
        return KeywordOutcome(answered) if answered else None
    number = env.sender.address
    opted_out = sms_optout.is_opted_out(number)
    if action == "opt_in" and not twilio_type and not opted_out:
        return None  # "Yes" from a number that never opted out answers an agent
    word = " ".join(env.text.split()).upper()[:20]
    source = "twilio" if twilio_type else "keyword"
    ticket_id = sms_optout.conversation_ticket(number)
    base = {"number": number, "keyword": word, "source": source, "inbound": inbound_id}
    if action in ("opt_out", "opt_in"):
        changed = sms_optout.set_state(number, action == "opt_out", keyword=word, source=source, now=now)
        kind = "sms_opted_out" if action == "opt_out" else "sms_opted_in"
        event(ticket_id, kind, {**base, "changed": changed}, now=now)
        state = "opted out" if action == "opt_out" else "opted in again"
        return KeywordOutcome(f"SMS keyword {word}: {number} {state}" + ("" if changed else " (no change)"))
    if twilio_type:
        event(ticket_id, "sms_help", {**base, "answered_by": "twilio"}, now=now)
        return KeywordOutcome(f"SMS keyword {word}: answered by Twilio's opt-out management")
    why = no_automatic_text(env, opted_out)
    text = "" if why else _sms_template("sms_help.txt", ticket_id, settings, help_text=settings.sms_help_text)
    row = (
        None
        if why
        else _queue_text(
            env,
            settings,
            now,
            kind="help",
            text=text or settings.sms_help_text,
            unique_key=f"sms-help:{env.external_id}",
            ticket_id=None,
        )
    )
    why = why or ("" if row else "automatic-reply limit")
    event(ticket_id, "sms_help", {**base, "answered_by": "nobody" if why else "helpline", "why": why}, now=now)
    return KeywordOutcome(
        f"SMS keyword {word}: " + (f"not answered ({why})" if why else "help text queued"), [row] if row else []
    )


def sms_answer(env: Envelope, now: dt.datetime) -> str | None:
    """If this text is a digit 1-5 from a number with an open SMS survey, record it; the reason, else None."""
    body = env.text.strip().rstrip(".!").strip()
    if len(body) != 1 or body not in "12345":
        return None
    survey = csat_state.pending_sms(env.sender.address, now)
    if survey is None:
        return None
    csat_state.record(survey.ticket_id, int(body), None, now, via="sms")
    return f"CSAT answer {body} for ticket {survey.ticket_id}"


def _queue_text(
    env: Envelope, settings: Settings, now: dt.datetime, *, kind: str, text: str, unique_key: str, ticket_id: int | None
) -> int | None:
    """Queue an automatic text to the sender, rate limited like email acknowledgements; the outbox id."""
    number = env.sender.address
    to_number, total = ratelimit.recent(f"sms_{kind}", number, now)
    if to_number >= settings.autoreply_limit or total >= settings.autoreply_global_limit:
        return None
    out_message = None
    if ticket_id is not None:
        out_message = message_state.add_outbound(
            ticket_id,
            channel="sms",
            author_role="system",
            message_id="",
            sender=str(env.metadata.get("to") or ""),
            subject="",
            text=text,
            now=now,
        )
    payload = sms_payload(
        number, text, ref=unique_key, from_number=str(env.metadata.get("to") or ""), in_reply_to=env.external_id
    )
    row = outbox.enqueue(
        channel="sms",
        kind=kind,
        recipient=number,
        payload=payload,
        unique_key=unique_key,
        ticket=ticket_id,
        out_message=out_message,
    )
    if row is None:
        return None
    ratelimit.record(f"sms_{kind}", number, now)
    return row.id


@dataclass
class AfterMessage:
    outbox_ids: list[int] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)


def after_message(
    ticket: TicketRef, message_id: int, env: Envelope, settings: Settings, now: dt.datetime, *, created: bool
) -> AfterMessage:
    """Record the MMS media to fetch and, for a new ticket, queue its acknowledgement (caller's transaction)."""
    out = AfterMessage()
    for position, media in enumerate(env.metadata.get("media") or []):
        media_id = message_state.add_sms_media(message_id, position, media, now)
        if media_id is not None:
            out.media_ids.append(media_id)
    if created:
        why = "HELPLINE_SMS_ACK is off" if not settings.sms_ack else no_automatic_text(env)
        row = (
            None
            if why
            else _queue_text(
                env,
                settings,
                now,
                kind="ack",
                text=_sms_template("sms_ack.txt", ticket.id, settings, ticket_number=ticket.number),
                unique_key=f"ack:{ticket.id}",
                ticket_id=ticket.id,
            )
        )
        if row is None:
            event(ticket.id, "ack_suppressed", {"channel": "sms", "reason": why or "automatic-reply limit"}, now=now)
        else:
            out.outbox_ids.append(row)
            event(ticket.id, "ack_queued", {"to": env.sender.address, "channel": "sms"}, now=now)
    return out


def _sms_template(name: str, ticket_id: int | None, settings: Settings, **context: object) -> str:
    """An SMS text from its template (notifier/render.py) in the ticket's language."""
    from helpline.notifier import render
    from helpline.store.siteconfig.config_file import site_config

    lang = ticket_refs.language_of(ticket_id) if ticket_id else None
    return render.templates(site_config(settings).templates_dir).render(name, lang, **context).strip()


def no_automatic_text(env: Envelope, opted_out: bool | None = None) -> str:
    """Why no automatic text (acknowledgement, HELP answer) may go to the sender, or ""."""
    if "sender_not_e164" in env.warnings:
        return "the sender is no phone number (short code or alphanumeric sender)"
    if sms_optout.is_opted_out(env.sender.address) if opted_out is None else opted_out:
        return "the number opted out of SMS"
    return ""
