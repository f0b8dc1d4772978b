"""The email acknowledgement of a new ticket, for the channels that acknowledge by email (email, the
contact form, a webhook message that asks for it; ``workers/inbound/inbound_channels.py``).

No backscatter to a forged From, no reply to an automatic or list message, rate limited per address and in
total (``notifier/loops.py``, ``notifier/ratelimit.py``). With a relay configured the row is born ``sending``
and the worker sends it right after the commit.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from helpline.notifier import loops, outbox, ratelimit
from helpline.notifier.message_ids import make_message_id
from helpline.notifier.templates import render_ack
from helpline.store import signing
from helpline.store.inbound import message_state
from helpline.store.inbound import thread_state
from helpline.store.inbound.audit_events import event
from helpline.store.config import ConfigError, Settings
from helpline.store.siteconfig.config_file import site_config

from helpline.workers.inbound import auth_policy
from helpline.workers.stages.context import Context

if TYPE_CHECKING:
    from helpline.store.models import Outbox

log = logging.getLogger("helpline.workers")


def _templates_dir(settings: Settings) -> str:
    """The operator's template overrides; a broken configuration file must not stop the acknowledgement."""
    try:
        return site_config(settings).templates_dir
    except ConfigError as exc:
        log.warning("event=config_file_unusable stage=ack using=bundled_templates error=%r", str(exc)[:300])
        return ""


def queue_ack(ctx: Context) -> Outbox | None:
    """Queue the acknowledgement, or record why not (an ``ack_suppressed`` event)."""
    env, settings, now, auth, ticket, customer = ctx.env, ctx.settings, ctx.now, ctx.auth, ctx.ticket, ctx.customer
    assert ticket is not None and customer is not None  # the ticket stage ran
    language = ctx.signals.language if ctx.signals is not None else ""
    refused = auth_policy.ack_refusal(env, auth)  # no backscatter to a forged From
    if refused:
        event(ticket.id, "ack_suppressed", {"reason": refused}, now=now)
        return None
    recipient = loops.reply_address(env)
    to_addr, total = ratelimit.recent("ack", recipient, now) if recipient else (0, 0)
    verdict = loops.autoreply_decision(
        env,
        own_addresses=settings.support_addresses,
        sent_to_address_last_hour=to_addr,
        sent_total_last_hour=total,
        per_address_limit=settings.autoreply_limit,
        global_limit=settings.autoreply_global_limit,
    )
    if not verdict.send:
        event(ticket.id, "ack_suppressed", {"reason": verdict.reason}, now=now)
        return None
    mid = make_message_id(settings.mail_domain, ticket.number)
    article = None
    may_echo = ctx.channel.ack_may_echo
    if settings.kb_deflect_teams and may_echo:  # opt-in per team (workers/jobs/kb_deflection.py)
        from helpline.workers.jobs.kb_deflection import offer

        article = offer(ticket.id, f"{env.subject}\n{env.text}", language, settings, now)
    payload = render_ack(
        ticket_number=ticket.number,
        subject=ticket.subject,
        customer_name=customer.name,
        support_address=ticket.support_address,
        recipient=recipient,
        in_reply_to=f"<{env.thread.message_id}>" if env.thread.message_id else "",
        references=[f"<{r}>" for r in env.thread.references],
        message_id=mid,
        echo=may_echo and auth_policy.ack_may_echo(env, auth, recipient),
        language=language,
        templates_dir=_templates_dir(settings),
        article=article,  # notifier/render.py
    )
    if settings.secret_key:  # replies carry the signed ticket id even when clients drop the headers
        local, _, domain = ticket.support_address.partition("@")
        token = signing.reply_token(settings.secret_key, ticket.id)
        payload.setdefault("headers", {})["Reply-To"] = f"{local}+{token}@{domain}"
    bare = mid.strip("<>").lower()
    out_id = message_state.add_outbound(
        ticket.id,
        channel="email",
        author_role="system",
        message_id=bare,
        sender=ticket.support_address,
        subject=payload["subject"],
        text=payload["text"],
        now=now,
    )
    thread_state.add_thread_keys(ticket.id, ["mid:" + bare])
    # With a relay configured the worker sends it right after this commit, so
    # the row is born 'sending' and needs no claim of its own.
    row = outbox.enqueue(
        channel="email",
        kind="ack",
        recipient=recipient,
        payload=payload,
        unique_key=f"ack:{ticket.id}",
        ticket=ticket.id,
        out_message=out_id,
        message_id=mid,
        claimed=bool(settings.smtp_relay),
    )
    if row is not None:
        ratelimit.record("ack", recipient, now)
    event(ticket.id, "ack_queued", {"to": recipient}, now=now)
    return row
