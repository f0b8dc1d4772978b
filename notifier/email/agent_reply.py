"""An agent's reply to the customer by email: the outbox payload, threaded.

It answers the customer's latest message (``In-Reply-To`` its Message-ID,
``References`` its chain plus it), carries the ticket tag in the subject and
a signed reply token in ``Reply-To`` (so the customer's answer finds the
ticket even when a client drops the headers), and ``X-Helpline-Ticket``.
Unlike the acknowledgement it is a person's message: no ``Auto-Submitted``,
so the customer's own auto-responder may answer it as it would any mail.
"""

from __future__ import annotations

from email.utils import formataddr
from typing import Any

from helpline.notifier.templates import MAX_REFERENCES, ack_subject, message_id_list, safe_name


def render_agent_reply(
    *,
    ticket_number: str,
    subject: str,
    agent_name: str,
    text: str,
    support_address: str,
    recipient: str,
    in_reply_to: str,
    references: list[str],
    message_id: str,
    reply_to: str = "",
) -> dict[str, Any]:
    """The outbox payload of an agent's email reply (everything ``templates.render_bytes`` needs)."""
    parent = message_id_list([in_reply_to])
    refs = message_id_list(list(references) + parent)[-MAX_REFERENCES:]
    name = safe_name(agent_name)
    body = text.strip() + "\n"
    if name:
        body += f"\n-- \n{name}\n{support_address}\n"
    payload: dict[str, Any] = {
        "from": formataddr((name, support_address)) if name else support_address,
        "to": recipient,
        "subject": ack_subject(ticket_number, subject),
        "message_id": message_id,
        "in_reply_to": parent[0] if parent else "",
        "references": refs,
        "headers": {"X-Helpline-Ticket": ticket_number},
        "text": body,
    }
    if reply_to:
        payload["headers"]["Reply-To"] = reply_to
    return payload
