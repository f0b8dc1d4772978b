"""The rows of agents' answers (``workers/tickets/replies.py``, ``workers/slack/slack_replies.py``): their outbound messages,
attachments, and what an answer needs to know of the ticket's messages. All in the caller's transaction;
plain SQL (``fastsql``) since answers are written inside the pipeline's transaction too.
"""

from __future__ import annotations

import json
from typing import Any

from helpline.store import fastsql


def add_message(values: dict[str, Any]) -> int:
    """An agent's message row (the caller names its columns); its id."""
    return fastsql.insert("message", values)


def add_attachments(message_id: int, files: list[dict[str, Any]]) -> list[int]:
    """Attachment rows of the agent's message (``files``: name, content_type, size, blob_key ``sha256:…``); their ids."""
    return [
        fastsql.insert(
            "attachment",
            {
                "message_id": message_id,
                "filename": f["name"][:255],
                "content_type": f["content_type"][:255],
                "size": f["size"],
                "sha256": f["blob_key"].partition(":")[2],
                "blob_key": f["blob_key"],
                "inline": False,
                "content_id": "",
            },
        )
        or 0
        for f in files
    ]


def set_text(message_id: int, text: str) -> None:
    """Replace a message's text (an SMS answer whose files became links in it)."""
    fastsql.execute('UPDATE "message" SET text = ? WHERE id = ?', [text, message_id])


def mark_delivered(message_id: int) -> None:
    """The message reached the customer without a send of ours (an agent wrote in the customer's Slack thread)."""
    fastsql.execute("UPDATE \"message\" SET delivery_status = 'sent' WHERE id = ?", [message_id])


def customer_messages(ticket_id: int, limit: int = 50) -> list[tuple[str, str, int | None]]:
    """(channel, sender, inbound id) of the ticket's customer messages, newest first."""
    rows = fastsql.fetchall(
        'SELECT channel, sender, inbound_id FROM "message" WHERE ticket_id = ? '
        "AND direction = 'in' AND author_role = 'customer' ORDER BY id DESC LIMIT ?",
        [ticket_id, limit],
    )
    return [(str(c), str(s), i) for c, s, i in rows]


def envelope_of(inbound_id: int) -> dict[str, Any] | None:
    """The stored envelope (as a dict) of an inbound row; None when the row or its envelope is missing."""
    row = fastsql.fetchone('SELECT envelope FROM "inbound" WHERE id = ?', [inbound_id])
    if row is None or not row[0]:
        return None
    got = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return got if isinstance(got, dict) else None


def agent_message_by_external_id(ticket_id: int, external_id: str) -> tuple[int, str, str] | None:
    """(id, direction, full text) of the ticket's first agent message with that external id (Slack channel:ts)."""
    got = fastsql.fetchone(
        'SELECT id, direction, full_text FROM "message" WHERE ticket_id = ? AND external_id = ? '
        "AND author_role = 'agent' ORDER BY id LIMIT 1",
        [ticket_id, external_id],
    )
    return (int(got[0]), str(got[1]), str(got[2] or "")) if got is not None else None


def answer_queued(
    unique_key: str, ticket_id: int, *, answered_message_only: bool = False
) -> tuple[int | None, str, str, dict[str, Any]] | None:
    """(outbound message id, channel, recipient, payload) of the ticket's outbox row ``unique_key``; with
    ``answered_message_only`` only a row that carries an outbound message, and its recipient as ""."""
    if answered_message_only:
        row = fastsql.fetchone(
            "SELECT out_message_id, channel, '', payload FROM \"outbox\" WHERE unique_key = ? "
            "AND ticket_id = ? AND out_message_id IS NOT NULL",
            [unique_key, ticket_id],
        )
    else:
        row = fastsql.fetchone(
            'SELECT out_message_id, channel, recipient, payload FROM "outbox" WHERE unique_key = ? AND ticket_id = ?',
            [unique_key, ticket_id],
        )
    if row is None:
        return None
    payload = json.loads(row[3]) if isinstance(row[3], str) else (row[3] or {})
    return row[0], str(row[1]), str(row[2]), payload if isinstance(payload, dict) else {}
