"""An agent's message in a ticket's Slack thread, inside the pipeline's transaction.

The ingest adapter only lets agents' thread messages through (see
``ingest.slack_app``); here they become what the agent meant
(``slack_intent.classify``):

- a reply: an outbound message authored by the agent, sent on the ticket's own
  channel (email threaded onto the customer's latest message, or SMS), and
  confirmed in Slack once it left (a reaction) or reported there if it could not
  be delivered (a notice in the thread);
- an internal note: stored and audited, never sent, marked in Slack;
- discussion (explicit reply mode): left in Slack, unless an agent uses the
  "Reply to customer" message shortcut on it (``via`` ``reply_shortcut``),
  which makes it a reply like a ``>>`` message.

A Slack message is identified by ``channel:ts``; the outbox key of its reply is
derived from it, so a retried or doubled event never sends the customer the
same reply twice. An edit or deletion of a reply that already went out cannot
be recalled: it is recorded and said in the thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpline.notifier import outbox
from helpline.notifier.slack.slack_blocks import escape
from helpline.store.outbound import outbox_rows
from helpline.store.outbound import reply_rows
from helpline.store.views import slack_rows
from helpline.store.channels import slack_state
from helpline.store.config import Settings
from helpline.store.envelope import Envelope
from helpline.store.statuses import InboundStatus

from helpline.store.inbound import audit_events
from helpline.store.inbound import inbound_state
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import replies
from helpline.workers.slack import slack_actions
from helpline.workers.slack import slack_intent
from helpline.workers.slack_outbox import queue_update

SENT_REACTION = "white_check_mark"
NOTE_REACTION = "lock"
FAILED_NOTICE = ":warning: This reply was *not delivered* to the customer: {error}"


@dataclass
class Handled:
    action: str  # replied, noted, edited, deleted, noop
    ticket_id: int | None = None
    outbox_ids: list[int] = field(default_factory=list)
    reason: str = ""
    delayed: list[tuple[int, float]] = field(
        default_factory=list
    )  # (outbox id, seconds): sent when the undo window closes


def handle(
    inbound_id: int, env: Envelope, settings: Settings, now: dt.datetime, files: list[dict[str, Any]] | None = None
) -> Handled:
    """``files``: the agent's attachments as ``slack_attach.fetch_agent_files`` fetched them before the transaction."""
    meta = env.metadata
    channel, ts = str(meta.get("slack_channel") or ""), str(meta.get("ts") or "")
    thread_ts = env.thread.slack_thread
    ticket_id = slack_state.ticket_of(channel, thread_ts) if thread_ts else None
    if ticket_id is None and meta.get("intake") and thread_ts:  # an agent answering in the customer's own thread
        own = slack_rows.ticket_of_customer_thread(channel, thread_ts)
        if own is not None:
            return _done(inbound_id, own, now, _direct_answer(inbound_id, own, env, now))
    if ticket_id is None:
        return _done(
            inbound_id, None, now, Handled("noop", reason="an agent's Slack message outside any ticket's thread")
        )
    user = env.sender.address
    slack_state.see_agent(user, env.sender.name, str(meta.get("user_email") or ""))
    agent = env.sender.name or slack_state.agent_name(user)
    actor = f"slack:{user}"
    where = {"channel": channel, "ts": ts, "thread_ts": thread_ts}
    event = meta.get("event")
    if event == "action":
        number = slack_rows.number_of(ticket_id)
        if meta.get("ticket") != number:
            return _done(
                inbound_id,
                ticket_id,
                now,
                Handled(
                    "noop",
                    ticket_id,
                    reason=f"Slack action names ticket {meta.get('ticket')!r}, the thread is {number}'s",
                ),
            )
        action, ids, reason = slack_actions.apply(
            ticket_id, meta, user, agent, where, f"slack-action:{env.external_id}", now, settings
        )
        return _done(inbound_id, ticket_id, now, Handled(action, ticket_id, ids, reason))
    if event in ("edited", "deleted"):
        return _done(inbound_id, ticket_id, now, _changed(ticket_id, env, event, actor, agent, where, now))
    if meta.get("via") == "macro":  # /helpline macro NAME, or the parent's macro menu (ingest/slack_kb.py)
        return _done(inbound_id, ticket_id, now, _macro(inbound_id, ticket_id, env, actor, agent, where, settings, now))

    # "Reply to customer" on this message, or a suggested answer sent: a reply, whatever the mode
    shortcut = meta.get("via") in ("reply_shortcut", "kb_suggestion")
    intent = slack_intent.classify(
        env.text,
        mode="thread" if shortcut else settings.slack_reply_mode,
        reply_prefix=settings.slack_reply_prefix,
        note_prefix=settings.slack_note_prefix,
    )
    if shortcut:
        refused = _shortcut_refused(ticket_id, intent, f"slack-reply:{channel}:{ts}")
        if refused:
            told = _tell(
                ticket_id,
                where,
                str(meta.get("shortcut_by") or user),
                f":no_entry_sign: {refused}",
                f"slack-shortcut:{env.external_id}:{env.content_hash[:16]}",
            )
            return _done(inbound_id, ticket_id, now, Handled("noop", ticket_id, told, f"reply shortcut: {refused}"))
    if intent.kind == "empty" and env.metadata.get("files") and settings.slack_reply_mode == "thread":
        told = _files_not_sent(
            ticket_id,
            env,
            where,
            f"slack-reply:{channel}:{ts}",
            actor,
            now,
            reason="files without a line of text are not a reply; write one with them",
        )
        return _done(inbound_id, ticket_id, now, Handled("noop", ticket_id, told, "agent sent only files from Slack"))
    if intent.kind in ("discussion", "empty"):
        return _done(
            inbound_id,
            ticket_id,
            now,
            Handled("noop", ticket_id, reason=f"agent {intent.kind} in Slack; not for the customer"),
        )
    if intent.kind == "note":
        msg_id = _insert_message(
            ticket_id,
            inbound_id,
            env,
            direction="note",
            agent=agent,
            text=intent.text,
            sender=user,
            channel="slack",
            now=now,
        )
        audit_events.event(ticket_id, "note_added", {"message": msg_id, "via": "slack", **where}, actor=actor, now=now)
        react = _react(ticket_id, where, NOTE_REACTION, f"slack:note:{channel}:{ts}")
        return _done(inbound_id, ticket_id, now, Handled("noted", ticket_id, react, "internal note from Slack"))
    if files is None and env.metadata.get("files") and env.metadata.get("event") == "posted":
        from helpline.workers.slack.slack_attach import (
            fetch_agent_files,
        )  # not prepared ahead (a direct call): fetch now

        files = fetch_agent_files(env, settings)
    handled = _reply(inbound_id, ticket_id, env, intent.text, actor, agent, where, settings, now, files or [])
    if meta.get("via") == "kb_suggestion" and handled.action == "replied":
        from helpline.store.knowledge import kb_state

        try:
            kb_state.mark_suggestion(
                int(meta.get("kb_suggestion") or 0), str(meta.get("kb_action") or "sent"), actor, now
            )
        except (LookupError, ValueError):  # the suggestion is gone (recomputed): the reply itself stands
            pass
    return _done(inbound_id, ticket_id, now, handled)


def _macro(
    inbound_id: int,
    ticket_id: int,
    env: Envelope,
    actor: str,
    agent: str,
    where: dict[str, str],
    settings: Settings,
    now: dt.datetime,
) -> Handled:
    """A macro from Slack: its reply through ``_reply`` (undo window included), then its actions in a
    savepoint, so a refused action is told to the agent without taking the reply back."""
    from helpline.notifier.macro_render import MacroError
    from helpline.router.lifecycle import InvalidTransition
    from helpline.store.db import database

    from helpline.workers.tickets import macro_ops
    from helpline.workers.tickets import ticket_ops

    name = str(env.metadata.get("macro") or "")
    user = env.sender.address
    try:
        macro, text = macro_ops.render(ticket_id, name, agent, settings)
    except (macro_ops.MacroNotFound, MacroError) as exc:
        told = _tell(ticket_id, where, user, f":no_entry_sign: {escape(str(exc))}", f"slack-macro:{env.external_id}")
        return Handled("noop", ticket_id, told, f"macro {name!r}: {exc}")
    handled = _reply(inbound_id, ticket_id, env, text, actor, agent, where, settings, now, [], react=False)
    if handled.action != "replied":
        return handled
    try:
        with database().atomic():  # a savepoint inside the pipeline's transaction
            macro_ops.do_actions(ticket_id, macro.actions, actor=actor, settings=settings, now=now, name=macro.name)
    except (ticket_ops.TicketOpError, InvalidTransition) as exc:
        handled.outbox_ids += _tell(
            ticket_id,
            where,
            user,
            f":warning: The macro's reply went; its actions did not: {escape(str(exc))}",
            f"slack-macro:{env.external_id}:act",
        )
    macro_ops.audit(ticket_id, macro, via="slack", actor=actor, now=now)
    if macro.actions:
        update = queue_update(ticket_id)
        if update is not None:
            handled.outbox_ids.append(update)
    return handled


def _shortcut_refused(ticket_id: int, intent: slack_intent.Intent, key: str) -> str:
    """Why the "Reply to customer" shortcut sends nothing ("" when it sends): a note stays internal, and a
    message already sent as a reply (thread mode, a ``>>`` prefix, the shortcut twice) is not sent again."""
    if intent.kind == "note":
        return "This is an internal note; notes are never sent to the customer."
    if intent.kind != "reply":
        return "This message has no text to send."
    if replies.queued(key, ticket_id) is not None:
        return "This message was already sent to the customer."
    return ""


def _tell(ticket_id: int, where: dict[str, str], user: str, text: str, key: str) -> list[int]:
    """A line for one agent only, in the ticket's thread."""
    row = outbox.enqueue(
        channel="slack",
        kind="slack_ephemeral",
        recipient=where["channel"],
        payload={
            "op": "ephemeral",
            "channel": where["channel"],
            "user": user,
            "thread_ts": where["thread_ts"],
            "text": text,
        },
        unique_key=key,
        ticket=ticket_id,
    )
    return [row.id] if row is not None else []


def _done(inbound_id: int, ticket_id: int | None, now: dt.datetime, handled: Handled) -> Handled:
    inbound_state.update(
        inbound_id,
        status=InboundStatus.PROCESSED,
        reason=handled.reason[:2000],
        ticket_id=ticket_id,
        processed_at=now,
        updated_at=now,
    )
    return handled


# ---- a reply to the customer -------------------------------------------------------
def _reply(
    inbound_id: int,
    ticket_id: int,
    env: Envelope,
    text: str,
    actor: str,
    agent: str,
    where: dict[str, str],
    settings: Settings,
    now: dt.datetime,
    files: list[dict[str, Any]],
    react: bool = True,
) -> Handled:
    """The customer's answer is composed by ``replies.compose`` (by email also for a webhook customer who
    gave an address); here: confirming it in Slack, the undo window, and saying what did not go."""
    key = f"slack-reply:{where['channel']}:{where['ts']}"
    on_sent = [
        {
            "channel": "slack",
            "kind": "slack_react",
            "unique_key": "slack:sent",
            "payload": {"op": "react", "channel": where["channel"], "ts": where["ts"], "name": SENT_REACTION},
        }
    ]
    if not react:  # no message of the agent's to mark (a macro from a menu or a command)
        on_sent = []
    on_failed: list[dict[str, Any]] = [
        {
            "channel": "slack",
            "kind": "slack_notice",
            "unique_key": "slack:failed",
            "payload": {
                "op": "notice",
                "channel": where["channel"],
                "thread_ts": where["thread_ts"],
                "text": FAILED_NOTICE,
            },
        }
    ]
    meta = env.metadata
    r = replies.compose(
        ticket_id,
        text,
        agent=agent,
        actor=actor,
        key=key,
        settings=settings,
        now=now,
        audit={"via": "slack", **where},
        by_address=True,
        webhook=True,
        message={
            "external_id": f"{meta.get('slack_channel')}:{meta.get('ts')}",
            "full_text": env.text,
            "raw_blob_key": env.raw_blob_key,
        },
        payload={"on_sent": on_sent, "on_failed": on_failed},
        files=files,
    )
    if not r.channel:
        why = (
            r.reason
            if r.reason == replies.NO_CALLBACK
            else f"the ticket's customer wrote on {r.wrote_on or 'no channel'}, which agents cannot answer from Slack yet"
        )
        audit_events.event(ticket_id, "agent_reply_not_sent", {"reason": why, **where}, actor=actor, now=now)
        notice = outbox.enqueue(
            channel="slack",
            kind="slack_notice",
            recipient=where["channel"],
            payload={**on_failed[0]["payload"], "error": why},
            unique_key=f"{key}:refused",
            ticket=ticket_id,
        )
        return Handled("noop", ticket_id, [notice.id] if notice else [], why)
    ids: list[int] = _files_not_sent(
        ticket_id, env, where, key, actor, now, files, sent=r.files_sent, reason=r.files_reason or NO_FILES
    )
    # The answer's own rows: its outbox row, or for a webhook customer the events that carry it to the app.
    answer = [r.outbox_id] if r.outbox_id is not None else (r.event_ids if r.channel == "webhook" else [])
    ids += [i for i in r.event_ids if i not in answer]  # the ticket's webhook sources hear of it
    delayed: list[tuple[int, float]] = []
    if answer and settings.slack_undo_seconds > 0:
        # The undo window: the reply is due only when it closes; the agent gets an Undo button meanwhile.
        for oid in answer:
            outbox_rows.hold_until(oid, now + dt.timedelta(seconds=settings.slack_undo_seconds))
            delayed.append((oid, settings.slack_undo_seconds))
        offer = outbox.enqueue(
            channel="slack",
            kind="slack_undo",
            recipient=where["channel"],
            payload={
                "op": "undo_offer",
                "channel": where["channel"],
                "thread_ts": where["thread_ts"],
                "user": env.sender.address,
                "outbox_id": answer[0],
                "seconds": settings.slack_undo_seconds,
                "to": r.recipient or ("the source's app" if r.channel == "webhook" else ""),
            },
            unique_key=f"{key}:undo",
            ticket=ticket_id,
        )
        ids += [offer.id] if offer is not None else []
    else:
        ids += answer
    # A person answered: the response clocks stopped and a new ticket became open, through the lifecycle.
    if r.opened:
        update = queue_update(ticket_id)
        if update is not None:
            ids.append(update)
    return Handled("replied", ticket_id, ids, f"agent reply from Slack sent by {r.channel}", delayed)


def _direct_answer(inbound_id: int, ticket_id: int, env: Envelope, now: dt.datetime) -> Handled:
    """An agent wrote straight into the customer's Slack thread: the customer has it already;
    it is recorded as the agent's outbound message (never as the customer's), nothing is sent."""
    agent = env.sender.name or slack_state.agent_name(env.sender.address)
    if env.metadata.get("event") != "posted":
        return Handled("noop", ticket_id, reason="an agent changed a message in the customer's Slack thread")
    msg_id = _insert_message(
        ticket_id,
        inbound_id,
        env,
        direction="out",
        agent=agent,
        text=env.text,
        sender=env.sender.address,
        channel="slack",
        now=now,
    )
    reply_rows.mark_delivered(msg_id)
    audit_events.event(
        ticket_id,
        "agent_replied",
        {
            "message": msg_id,
            "channel": "slack",
            "via": "customer's thread",
            "slack_channel": env.metadata.get("slack_channel"),
            "ts": env.metadata.get("ts"),
        },
        actor=f"slack:{env.sender.address}",
        now=now,
    )
    ticket_refs.update(ticket_id, updated_at=now)
    return Handled("replied", ticket_id, reason="agent answered in the customer's Slack thread")


NO_FILES = "this customer's channel cannot carry files, they get the text"


def _files_not_sent(
    ticket_id: int,
    env: Envelope,
    where: dict[str, str],
    key: str,
    actor: str,
    now: dt.datetime,
    fetched: list[dict[str, Any]] | None = None,
    *,
    sent: str = "",
    reason: str = NO_FILES,
) -> list[int]:
    """Files that do not reach the customer as files (refused, or a channel that cannot carry them): say
    so in the thread, never drop them silently. ``sent`` is how the fetched ones went (``attached``:
    email or MMS attachments, a Slack upload, links in a webhook event; ``linked``: links in the SMS
    text, which ``reason`` explains)."""
    files = fetched if fetched is not None else env.metadata.get("files") or []
    if not files:
        return []
    ids: list[int] = []
    if sent:
        ok = [f["name"] for f in files if f.get("blob_key")]
        if ok:
            audit_events.event(
                ticket_id,
                "agent_files_sent",
                {"files": ok, "as": "links" if sent == "linked" else "files", **where},
                actor=actor,
                now=now,
            )
        if ok and sent == "linked":
            ids += _thread_notice(where, f":link: {_names(ok)}: {escape(reason)}.", f"{key}:links", ticket_id)
        files = [f for f in files if not f.get("blob_key")]
        if not files:
            return ids
    names = [str(f.get("name") or "file")[:100] for f in files]
    errors = [str(f["error"]) for f in files if f.get("error")]
    audit_events.event(
        ticket_id, "agent_files_not_sent", {"files": names, "errors": errors, **where}, actor=actor, now=now
    )
    why = "; ".join(escape(e[:200]) for e in errors[:3]) if errors else reason
    text = f":paperclip: {_names(names)}: not sent to the customer ({why}). Share a link instead."
    return ids + _thread_notice(where, text, f"{key}:files", ticket_id)


def _names(names: list[str]) -> str:
    """At most five file names, escaped for Slack, and how many more."""
    return ", ".join(escape(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _thread_notice(where: dict[str, Any], text: str, unique_key: str, ticket_id: int) -> list[int]:
    """A notice for the agent in the ticket's thread (once per ``unique_key``); the outbox id, if new."""
    row = outbox.enqueue(
        channel="slack",
        kind="slack_notice",
        recipient=where["channel"],
        payload={"op": "notice", "channel": where["channel"], "thread_ts": where["thread_ts"], "text": text},
        unique_key=unique_key,
        ticket=ticket_id,
    )
    return [row.id] if row is not None else []


def _insert_message(
    ticket_id: int,
    inbound_id: int | None,
    env: Envelope,
    *,
    direction: str,
    agent: str,
    text: str,
    sender: str,
    channel: str,
    now: dt.datetime,
    message_id: str = "",
    subject: str = "",
) -> int:
    meta = env.metadata
    return reply_rows.add_message(
        {
            "ticket_id": ticket_id,
            "inbound_id": inbound_id,
            "direction": direction,
            "author_role": "agent",
            "author": agent[:255],
            "channel": channel,
            "external_id": f"{meta.get('slack_channel')}:{meta.get('ts')}",
            "message_id": message_id,
            "sender": sender,
            "subject": subject[:1000],
            "text": text,
            "full_text": env.text,
            "html": "",
            "body_hash": "",
            "raw_blob_key": env.raw_blob_key,
            "delivery_status": "",
            "created_at": now,
        }
    )


def _react(ticket_id: int, where: dict[str, str], name: str, key: str) -> list[int]:
    row = outbox.enqueue(
        channel="slack",
        kind="slack_react",
        recipient=where["channel"],
        payload={"op": "react", "channel": where["channel"], "ts": where["ts"], "name": name},
        unique_key=key,
        ticket=ticket_id,
    )
    return [row.id] if row is not None else []


# ---- edits and deletions --------------------------------------------------------------
def _changed(
    ticket_id: int, env: Envelope, event: str, actor: str, agent: str, where: dict[str, str], now: dt.datetime
) -> Handled:
    """An agent edited or deleted a message we already acted on: say what it means for the customer."""
    ext = f"{where['channel']}:{where['ts']}"
    got = reply_rows.agent_message_by_external_id(ticket_id, ext)
    if got is None:
        return Handled("noop", ticket_id, reason=f"{event} Slack message was neither a reply nor a note")
    msg_id, direction, original = got
    if event == "edited" and env.text == original:  # Slack re-sends a message when a link unfurls
        return Handled("noop", ticket_id, reason="Slack message changed without a change of its text")
    if direction == "note":
        audit_events.event(
            ticket_id,
            f"note_{event}",
            {"message": msg_id, "text": env.text if event == "edited" else "", **where},
            actor=actor,
            now=now,
        )
        return Handled(event, ticket_id, reason=f"internal note {event} in Slack")
    state = outbox_rows.status_of_message(msg_id) or "unknown"
    audit_events.event(
        ticket_id,
        f"agent_reply_{event}",
        {"message": msg_id, "delivery": state, "text": env.text if event == "edited" else "", **where},
        actor=actor,
        now=now,
    )
    verb = "edited" if event == "edited" else "deleted"
    text = (
        f":pencil2: {escape(agent)} {verb} a reply in Slack after it was handed over for delivery "
        f"({state}); the customer keeps the version sent. Reply again to correct it."
    )
    row = outbox.enqueue(
        channel="slack",
        kind="slack_notice",
        recipient=where["channel"],
        payload={"op": "notice", "channel": where["channel"], "thread_ts": where["thread_ts"], "text": text},
        unique_key=f"slack-{event}:{ext}:{env.content_hash[:16]}",
        ticket=ticket_id,
    )
    return Handled(event, ticket_id, [row.id] if row is not None else [], f"reply {event} in Slack after sending")
