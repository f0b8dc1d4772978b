"""The one shape every channel produces (ARCHITECTURE.md, "The envelope").

It lives in ``store`` because the inbound row keeps it and both ``ingest`` (which
writes it) and ``workers`` (which read it) may import ``store``. ``version`` lets
workers of two releases run side by side: a reader accepts any version up to its
own and ignores keys it does not know.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

ENVELOPE_VERSION = 1


class NewerEnvelope(ValueError):
    """An envelope written by a newer release than this reader: not the message's fault, so a worker
    leaves it for a newer worker instead of counting a failed try (``workers/actors.py``)."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            f"envelope version {version} is newer than this worker understands "
            f"({ENVELOPE_VERSION}); upgrade the workers before the ingest daemons"
        )


@dataclass
class Sender:
    address: str = ""
    name: str = ""
    kind: str = "email"  # email, phone, slack, external


@dataclass
class Recipients:
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    blob_key: str
    inline: bool = False
    content_id: str = ""


@dataclass
class Thread:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    ticket_ref: str = ""
    reply_token: str = ""
    slack_thread: str = ""
    conversation_id: str = ""
    thread_index: str = ""  # Outlook's Thread-Index conversation root (base64 of its first 22 bytes)


@dataclass
class AutoReply:
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    bounce: bool = False
    reasons: list[str] = field(default_factory=list)
    bounced_message_ids: list[str] = field(default_factory=list)  # from a DSN's returned headers


@dataclass
class Envelope:
    channel: str
    external_id: str
    received_at: str  # ISO 8601, UTC
    sender: Sender = field(default_factory=Sender)
    reply_to: list[str] = field(default_factory=list)
    recipients: Recipients = field(default_factory=Recipients)
    author_role: str = "customer"
    subject: str = ""
    text: str = ""
    full_text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    thread: Thread = field(default_factory=Thread)
    auto_reply: AutoReply = field(default_factory=AutoReply)
    auth: dict[str, Any] = field(default_factory=dict)
    raw_blob_key: str = ""
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(
        default_factory=dict
    )  # channel facts kept with the message (MMS media, webhook key/values)
    content_hash: str = ""  # what a re-delivery does not change; (channel, external_id, content_hash) is unique
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy. Written out by hand: ``dataclasses.asdict`` deep-
        copies every value through generic recursion and took 0.3 ms per
        message at intake; the test pins this to ``asdict``'s result."""
        return {
            "channel": self.channel,
            "external_id": self.external_id,
            "received_at": self.received_at,
            "sender": {"address": self.sender.address, "name": self.sender.name, "kind": self.sender.kind},
            "reply_to": list(self.reply_to),
            "recipients": {"to": list(self.recipients.to), "cc": list(self.recipients.cc)},
            "author_role": self.author_role,
            "subject": self.subject,
            "text": self.text,
            "full_text": self.full_text,
            "html": self.html,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "blob_key": a.blob_key,
                    "inline": a.inline,
                    "content_id": a.content_id,
                }
                for a in self.attachments
            ],
            "thread": {
                "message_id": self.thread.message_id,
                "in_reply_to": self.thread.in_reply_to,
                "references": list(self.thread.references),
                "ticket_ref": self.thread.ticket_ref,
                "reply_token": self.thread.reply_token,
                "slack_thread": self.thread.slack_thread,
                "conversation_id": self.thread.conversation_id,
                "thread_index": self.thread.thread_index,
            },
            "auto_reply": {
                "auto_submitted": self.auto_reply.auto_submitted,
                "precedence": self.auto_reply.precedence,
                "list_id": self.auto_reply.list_id,
                "bounce": self.auto_reply.bounce,
                "reasons": list(self.auto_reply.reasons),
                "bounced_message_ids": list(self.auto_reply.bounced_message_ids),
            },
            "auth": copy.deepcopy(self.auth),
            "raw_blob_key": self.raw_blob_key,
            "warnings": list(self.warnings),
            "metadata": copy.deepcopy(self.metadata),
            "content_hash": self.content_hash,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Envelope":
        version = data.get("version", 1)
        if isinstance(version, int) and version > ENVELOPE_VERSION:
            raise NewerEnvelope(version)
        d = _known(cls, data)
        d["sender"] = Sender(**_known(Sender, data.get("sender") or {}))
        d["recipients"] = Recipients(**_known(Recipients, data.get("recipients") or {}))
        d["attachments"] = [Attachment(**_known(Attachment, a)) for a in data.get("attachments") or []]
        d["thread"] = Thread(**_known(Thread, data.get("thread") or {}))
        d["auto_reply"] = AutoReply(**_known(AutoReply, data.get("auto_reply") or {}))
        return cls(**d)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}
