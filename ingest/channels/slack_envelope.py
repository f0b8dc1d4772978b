"""A Slack message event as an envelope. A pure function of the request.

A Slack message's identity is its channel and ``ts``: the same message can
arrive as several events (``message`` and ``app_mention``, a retry with
``X-Slack-Retry-Num``), so the envelope's ``external_id`` is ``channel:ts`` and
its content hash covers only what the message says (not the event's id or
time): every copy of it is one inbound row. An edit (``message_changed``) or a
deletion (``message_deleted``) says something new about the same message and
is a row of its own, marked in ``metadata["event"]``.

Slack's markup is turned into plain text here (``<@U1|ann>`` → ``@ann``,
``<https://x|label>`` → ``label (https://x)``, ``&lt;`` → ``<``), because the
text travels on to a customer's mailbox or phone.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable

from helpline.notifier.slack.slack_blocks import ACTION_BLOCK, ACTION_PREFIX
from helpline.store.envelope import Envelope, Sender, Thread

from helpline.ingest import decoding
from helpline.ingest.intake import Rejected

_MARKUP = re.compile(r"<([^<>]*)>")


def slack_to_text(text: str) -> str:
    """Slack message markup as plain text (mentions, channel links, URLs, the three escapes)."""

    def repl(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            return label or ("@" + word if word in ("here", "channel", "everyone") else word)
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        if label and label != target:
            return f"{label} ({target})"
        return target

    plain = _MARKUP.sub(repl, text or "")
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_of(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, the message) of a message event: posted, edited or deleted."""
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return "edited", dict(event.get("message") or {})
    if subtype == "message_deleted":
        previous = dict(event.get("previous_message") or {})
        previous.setdefault("ts", event.get("deleted_ts", ""))
        return "deleted", previous
    return "posted", event


def build_slack_message(raw: bytes, meta: dict[str, Any], put_blob: Callable[[bytes], str]) -> Envelope:
    """The Events API request body (``event_callback`` of a message) as an envelope.

    ``meta`` carries what the adapter learned about the author: ``role``
    (agent or customer), ``user_name`` and ``user_email`` from users.info, and
    ``intake`` (the channel is customer-facing). A customer's message carries
    the conversation id ``channel:root ts`` (the thread of their first message)
    and its first line as the subject."""
    try:
        body = decoding.load_json(raw)
        event = body["event"]
        channel = str(event["channel"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Rejected(f"not a Slack message event: {exc}", [{"field": "event", "error": str(exc)}]) from exc
    kind, msg = message_of(event)
    ts = str(msg.get("ts") or "")
    user = str(msg.get("user") or "")
    if not ts or not user:
        raise Rejected("Slack message event without ts or user", [{"field": "event.ts/user", "error": "missing"}])
    text = slack_to_text(str(msg.get("text") or "")) if kind != "deleted" else ""
    files = [
        {
            "id": f.get("id", ""),
            "name": f.get("name", ""),
            "mimetype": f.get("mimetype", ""),
            "size": f.get("size", 0),
            "url": f.get("url_private_download") or f.get("url_private", ""),
        }
        for f in msg.get("files") or []
        if isinstance(f, dict)
    ]
    via = str(body.get("via") or "message")
    parts: list[Any] = [channel, ts, kind, text, [f["id"] for f in files]]
    if via == "reply_shortcut":  # each use is new, though the message was seen before; a retry of one use is not
        parts += [via, str(body.get("shortcut_id") or "")]
    if via == "kb_suggestion":  # a suggested answer sent or edited (ingest/slack_kb.py)
        parts += [via, str(body.get("kb_suggestion") or ""), str(body.get("kb_action") or "")]
    if via == "macro":  # a macro from a menu or /helpline macro (ingest/slack_kb.py)
        parts += [via, str(body.get("macro") or "")]
    content = json.dumps(parts, ensure_ascii=False)
    role = str(meta.get("role") or "agent")
    thread_ts = str(msg.get("thread_ts") or "")
    # A customer's Slack conversation is the thread of their first message: its key threads the follow-ups.
    conversation = f"{channel}:{thread_ts or ts}" if role == "customer" else ""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Envelope(
        channel="slack",
        external_id=f"{channel}:{ts}",
        received_at=meta["received_at"],
        sender=Sender(address=user, name=str(meta.get("user_name") or ""), kind="slack"),
        author_role=role,
        subject=(first_line[:77] + "…" if len(first_line) > 78 else first_line) if role == "customer" else "",
        text=text.strip(),
        full_text=text,
        thread=Thread(slack_thread=thread_ts, conversation_id=conversation),
        metadata={
            "slack_channel": channel,
            "ts": ts,
            "event": kind,
            "team": body.get("team_id", ""),
            "event_id": body.get("event_id", ""),
            "files": files,
            "intake": bool(meta.get("intake")),
            "user_email": str(meta.get("user_email") or ""),
            "via": via,
            "shortcut_by": str(body.get("shortcut_by") or ""),
            **(
                {"kb_suggestion": int(body.get("kb_suggestion") or 0), "kb_action": str(body.get("kb_action"))}
                if via == "kb_suggestion"
                else {}
            ),
            **({"macro": str(body.get("macro") or "")} if via == "macro" else {}),
        },
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )


def interaction_payload(raw: bytes) -> dict[str, Any]:
    """An interactivity payload: the JSON ``payload`` field of the form Slack posts over HTTP,
    or the JSON itself as a Socket Mode envelope carries it."""
    if raw.lstrip().startswith(b"{"):
        return decoding.load_json(raw)
    return decoding.load_json(decoding.form_fields(raw)["payload"])


def build_slack_action(raw: bytes, meta: dict[str, Any], put_blob: Callable[[bytes], str]) -> Envelope:
    """A button or menu of a ticket's parent message (``block_actions``) as an envelope.

    The action is the agent's command (``take``, ``assign``, ``status``,
    ``priority``, ``category``, ``escalate``, ``merge``, ``not_duplicate``) and
    its value (a menu's choice, a chosen user); the ticket is the one whose
    thread holds the buttons (the parent's ``ts``, or the ``thread_ts`` of a
    message in its thread) and whose number the block names. Each click has its
    own ``action_ts``, hence its own inbound row. ``meta["value_name"]`` is the
    chosen user's name, as the adapter looked it up."""
    try:
        payload = interaction_payload(raw)
        action = payload["actions"][0]
        user = str(payload["user"]["id"])
        container = payload.get("container") or {}
        channel = str(container.get("channel_id") or (payload.get("channel") or {}).get("id") or "")
        message = payload.get("message") or {}
        message_ts = str(container.get("message_ts") or message.get("ts") or "")
        # A button on a message in a ticket's thread (a merge suggestion) acts on the thread's ticket.
        thread_ts = str(container.get("thread_ts") or message.get("thread_ts") or message_ts)
        action_id = str(action["action_id"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise Rejected(f"not a Slack block action: {exc}", [{"field": "payload", "error": str(exc)}]) from exc
    command, _, value = action_id.removeprefix(ACTION_PREFIX).partition(":")
    if action.get("type") == "static_select":
        value = str((action.get("selected_option") or {}).get("value") or "")
    elif action.get("type") == "users_select":
        value = str(action.get("selected_user") or "")
    number = str(action.get("block_id") or "").removeprefix(ACTION_BLOCK)
    action_ts = str(action.get("action_ts") or "")
    return Envelope(
        channel="slack",
        external_id=f"action:{channel}:{message_ts}:{user}:{action_ts}",
        received_at=meta["received_at"],
        sender=Sender(address=user, name=str(meta.get("user_name") or ""), kind="slack"),
        author_role="agent",
        text=f"{command} {value}".strip(),
        thread=Thread(slack_thread=thread_ts, ticket_ref=number),
        metadata={
            "slack_channel": channel,
            "ts": message_ts,
            "event": "action",
            "command": command,
            "value": value,
            "ticket": number,
            "user_email": str(meta.get("user_email") or ""),
            "value_name": str(meta.get("value_name") or ""),
        },
    )
