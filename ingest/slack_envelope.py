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

from helpline.store.envelope import Envelope, Sender, Thread

from .intake import Rejected

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
            return label or target[len("mailto:"):]
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
    (agent or customer), ``user_name`` and ``user_email`` from users.info."""
    try:
        body = json.loads(raw)
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
    files = [{"id": f.get("id", ""), "name": f.get("name", ""), "mimetype": f.get("mimetype", ""),
              "size": f.get("size", 0), "url": f.get("url_private_download") or f.get("url_private", "")}
             for f in msg.get("files") or [] if isinstance(f, dict)]
    content = json.dumps([channel, ts, kind, text, [f["id"] for f in files]], ensure_ascii=False)
    return Envelope(
        channel="slack", external_id=f"{channel}:{ts}", received_at=meta["received_at"],
        sender=Sender(address=user, name=str(meta.get("user_name") or ""), kind="slack"),
        author_role=str(meta.get("role") or "agent"),
        text=text.strip(), full_text=text,
        thread=Thread(slack_thread=str(msg.get("thread_ts") or "")),
        metadata={"slack_channel": channel, "ts": ts, "event": kind, "team": body.get("team_id", ""),
                  "event_id": body.get("event_id", ""), "files": files,
                  "user_email": str(meta.get("user_email") or "")},
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )
