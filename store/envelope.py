"""The one shape every channel produces (DESIGN.md, "The envelope").

It lives in ``store`` because the inbound row keeps it and both ``ingest`` (which
writes it) and ``workers`` (which read it) may import ``store``. ``version`` lets
workers of two releases run side by side: a reader accepts any version up to its
own and ignores keys it does not know.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

ENVELOPE_VERSION = 1


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

    @property
    def is_automatic(self) -> bool:
        return bool(self.reasons)


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
    metadata: dict[str, Any] = field(default_factory=dict)  # channel facts kept with the message (MMS media, webhook key/values)
    content_hash: str = ""  # what a re-delivery does not change; (channel, external_id, content_hash) is unique
    version: int = ENVELOPE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Envelope":
        if data.get("version", 1) > ENVELOPE_VERSION:
            raise ValueError(
                f"envelope version {data['version']} is newer than this worker understands "
                f"({ENVELOPE_VERSION}); upgrade the workers before the ingest daemons"
            )
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
