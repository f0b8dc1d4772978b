"""An agent's reply or internal note from the command line (``helpline tickets reply|note --actor``).

For agents without Slack: the answer goes through ``replies.compose`` as
Slack's and the API's do (email threaded onto the customer's message, SMS from
the number they texted, a webhook customer's ``ticket.replied`` event), inside
the caller's transaction, and waits out the same undo window as a reply typed
in Slack (``HELPLINE_SLACK_UNDO_SECONDS``): its outbox rows are due only when
the window closes, and ``helpline tickets undo OUTBOX_ID`` withdraws it
meanwhile (``store.slack_state.withdraw_reply``). The outbox key is
``cli-reply:<key>``: the same ``--key`` never sends twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from helpline.store.outbound import outbox_rows
from helpline.store.tickets import ticket_notes
from helpline.store.config import Settings

from helpline.store.inbound import audit_events
from helpline.store.tickets import ticket_refs
from helpline.workers.tickets import replies

KEY_PREFIX = "cli-reply:"


ReplyNotPossible = replies.ReplyNotPossible


@dataclass
class CliReply:
    message_id: int
    channel: str
    recipient: str
    outbox_ids: list[int] = field(default_factory=list)  # the answer's rows, due when the undo window closes
    due_in_s: float = 0.0
    files_sent: str = ""
    files_reason: str = ""
    repeated: bool = False


def reply(
    ticket_id: int,
    text: str,
    *,
    agent: str,
    actor: str,
    key: str,
    settings: Settings,
    now: dt.datetime,
    files: list[dict[str, Any]] | None = None,
) -> CliReply:
    """Answer the ticket's customer as ``agent`` (the name they see); ``actor`` is the audit's agent email."""
    unique = KEY_PREFIX + key
    request = replies.request_hash(text=text, agent=agent, files=",".join(f.get("blob_key", "") for f in files or []))
    done, ticket = replies.prior_or_ticket(unique, ticket_id, request)  # KeyReused: the key with another answer
    if done is not None:
        return CliReply(done[0], done[1], done[2], repeated=True)
    r = replies.compose(
        ticket_id,
        text,
        agent=agent,
        actor=actor,
        key=unique,
        settings=settings,
        now=now,
        audit={"via": "cli"},
        by_address=True,
        webhook=True,
        message={"external_id": unique},
        files=files,
        payload={replies.REQUEST_HASH: request},
    )
    if not r.channel:
        raise ReplyNotPossible(
            f"{ticket.number}: {r.reason or 'the customer cannot be answered'}; add an internal "
            "note instead (`helpline tickets note`)"
        )
    answer = [r.outbox_id] if r.outbox_id is not None else (r.event_ids if r.channel == "webhook" else [])
    wait = max(0.0, float(settings.slack_undo_seconds))
    if wait > 0:
        for oid in answer:
            outbox_rows.hold_until(oid, now + dt.timedelta(seconds=wait))
    return CliReply(r.message_id, r.channel, r.recipient, answer, wait if answer else 0.0, r.files_sent, r.files_reason)


def note(ticket_id: int, text: str, *, agent: str, actor: str, now: dt.datetime) -> int:
    """An internal note: stored and audited, never sent to the customer."""
    msg_id = ticket_notes.add_note(ticket_id, author=agent, text=text, channel="cli", now=now)
    audit_events.event(ticket_id, "note_added", {"message": msg_id, "via": "cli"}, actor=actor, now=now)
    ticket_refs.update(ticket_id, updated_at=now)
    return msg_id
