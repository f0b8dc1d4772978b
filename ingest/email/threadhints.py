"""Everything in a message that can tie it to an existing conversation.

These are hints for the threading stage, which decides; nothing here looks
anything up. A reply token is the part after "+" in a support address the
message was sent to (support+TOKEN@example.com); Delivered-To and
X-Original-To count too because Bcc and forwarding hide the token from To/Cc.
Outlook's Thread-Index is 22 bytes of conversation root followed by 5 bytes
per reply, so the root alone identifies the conversation even when a client
drops In-Reply-To and References.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from helpline.store.envelope import Thread

from helpline.ingest.email import addresses
from helpline.ingest.email.headers import Headers

_MSG_ID = re.compile(r"<([^<>\s]+)>")
_TICKET_REF = re.compile(r"\[(HL-\d{4}-\d{6,})\]")


def msg_ids(value: str) -> list[str]:
    """Message-IDs in a header value, without angle brackets, in order, deduplicated."""
    found = _MSG_ID.findall(value)
    if not found:  # some clients omit the brackets
        found = [t.strip("<>,;") for t in value.split() if "@" in t]
    seen: dict[str, None] = {}
    for mid in found:
        if mid:
            seen.setdefault(mid, None)
    return list(seen)


def thread_hints(headers: Headers, subject: str, support_addresses: Sequence[str], warnings: list[str]) -> Thread:
    mid = msg_ids(headers.raw("message-id"))
    in_reply_to = msg_ids(headers.raw("in-reply-to"))
    refs = msg_ids(" ".join(headers.raw_all("references")))
    tag = _TICKET_REF.search(subject)
    return Thread(
        message_id=mid[0] if mid else "",
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=refs,
        ticket_ref=tag.group(1) if tag else "",
        reply_token=reply_token(headers, support_addresses),
        thread_index=thread_index_root(headers.raw("thread-index"), warnings),
    )


def reply_token(headers: Headers, support_addresses: Sequence[str]) -> str:
    bases = set()
    for address in support_addresses:
        local, domain = addresses.split(address.strip().lower())
        if local and domain:
            bases.add((local.split("+", 1)[0], domain))
    if not bases:
        return ""
    for header in ("to", "cc", "delivered-to", "x-original-to"):
        for value in headers.raw_all(header):
            if "+" not in value:
                continue
            for _, addr in addresses.parse(value, None, header, lower=False):
                local, domain = addresses.split(addr)
                base, plus, token = local.partition("+")
                if plus and token and (base.lower(), domain.lower()) in bases:
                    return token
    return ""


def thread_index_root(value: str, warnings: list[str]) -> str:
    if not value:
        return ""
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if len(data) < 22:
        warnings.append("bad_thread_index")
        return ""
    return base64.b64encode(data[:22]).decode("ascii")
