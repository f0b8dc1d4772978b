"""What an agent meant by a message in a ticket's Slack thread. A plain function.

``#note …`` is an internal note, whatever the mode. In ``thread`` mode every
other message is a reply to the customer; in ``explicit`` mode only one that
starts with the reply prefix (``>> …``) is, and the rest is the agents' own
discussion, which stays in Slack. Prefixes are matched at the start, ignoring
case and leading blanks, and removed from what is kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intent:
    kind: str  # reply, note, discussion, empty
    text: str


def _strip_prefix(text: str, prefix: str) -> str | None:
    body = text.lstrip()
    if prefix and body[: len(prefix)].lower() == prefix.lower():
        return body[len(prefix) :].lstrip(" \t:").strip()
    return None


def classify(text: str, *, mode: str, reply_prefix: str, note_prefix: str) -> Intent:
    note = _strip_prefix(text, note_prefix)
    if note is not None:
        return Intent("note", note) if note else Intent("empty", "")
    reply = _strip_prefix(text, reply_prefix)
    if reply is not None:
        return Intent("reply", reply) if reply else Intent("empty", "")
    if not text.strip():
        return Intent("empty", "")
    if mode == "explicit":
        return Intent("discussion", text.strip())
    return Intent("reply", text.strip())
