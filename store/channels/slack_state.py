"""What Slack needs remembered: which Slack thread is which ticket's, and who the agents are.

A ticket's Slack thread is the thread of the parent message the bot posted for
it; its ``(channel, ts)`` is the only way an agent's thread reply finds the
ticket again, so it is stored once, unique both ways. Agents are mapped by
Slack user id (created on their first action, with the name Slack reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw

from helpline.store import fastsql
from helpline.store.db import run_tx
from helpline.store.models import Base, Ticket, utcnow


class SlackThread(Base):
    id = pw.AutoField()
    ticket_id: int
    ticket = pw.ForeignKeyField(Ticket, unique=True, backref="slack_threads", on_delete="CASCADE")
    channel = pw.CharField(max_length=40)
    ts = pw.CharField(max_length=40)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)  # the last chat.update of the parent

    class Meta:
        indexes = ((("channel", "ts"), True),)


class SlackAgent(Base):
    user_id = pw.CharField(max_length=40, primary_key=True)
    name = pw.CharField(default="")
    email = pw.CharField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)


MODELS: list[type[Base]] = [SlackThread, SlackAgent]


# ---- threads (inside the caller's transaction) ----------------------------------
def thread_of(ticket_id: int) -> tuple[str, str] | None:
    """(channel, ts) of the ticket's parent message, None before it was posted."""
    row = fastsql.fetchone('SELECT channel, ts FROM "slack_thread" WHERE ticket_id = ?', [ticket_id])
    return (row[0], row[1]) if row else None


def ticket_of(channel: str, ts: str) -> int | None:
    """The ticket whose parent message is ``ts`` in ``channel``."""
    row = fastsql.fetchone('SELECT ticket_id FROM "slack_thread" WHERE channel = ? AND ts = ?', [channel, ts])
    return row[0] if row else None


def remember_thread(ticket_id: int, channel: str, ts: str) -> bool:
    """Keep the parent message of a ticket; False when the ticket already had one (kept as it was)."""
    now = utcnow()
    got = fastsql.insert(
        "slack_thread",
        {"ticket_id": ticket_id, "channel": channel, "ts": ts, "created_at": now, "updated_at": now},
        on_conflict="ON CONFLICT DO NOTHING",
    )
    return got is not None


def touch_thread(ticket_id: int) -> None:
    fastsql.execute('UPDATE "slack_thread" SET updated_at = ? WHERE ticket_id = ?', [utcnow(), ticket_id])


# ---- agents ------------------------------------------------------------------------
def see_agent(user_id: str, name: str, email: str = "") -> None:
    """Create the agent on first sight; keep the newest name Slack reported."""
    now = utcnow()
    fastsql.execute(
        'INSERT INTO "slack_agent" (user_id, name, email, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?) '
        "ON CONFLICT (user_id) DO UPDATE SET name = CASE WHEN excluded.name = '' THEN slack_agent.name "
        "ELSE excluded.name END, email = CASE WHEN excluded.email = '' THEN slack_agent.email "
        "ELSE excluded.email END, last_seen_at = excluded.last_seen_at",
        [user_id, name, email, now, now],
    )


def agent_name(user_id: str) -> str:
    row = fastsql.fetchone('SELECT name FROM "slack_agent" WHERE user_id = ?', [user_id])
    return row[0] if row and row[0] else user_id


# ---- undo ----------------------------------------------------------------------------
def withdraw_reply(outbox_id: int, actor: str) -> str:
    """Stop an agent's reply that is still waiting out its undo window (own transaction).

    ``withdrawn`` when it will not be sent; ``too_late`` when a sender already
    took it; ``unknown`` when the id is not a reply written in Slack. The
    conditional update is the whole race: a sender claims only ``pending``
    rows, so exactly one of the two wins."""

    def tx() -> str:
        row = fastsql.fetchone('SELECT ticket_id, out_message_id, unique_key FROM "outbox" WHERE id = ?', [outbox_id])
        if row is None:
            return "unknown"
        now = utcnow()
        where = "in Slack " if actor.startswith("slack:") else ""
        why = f"withdrawn {where}by {actor} before it was sent (undo)"
        if str(row[2]).startswith("hook:") and row[1] is not None and _slack_answer(row[1]):
            # A webhook customer's answer is the ticket.replied event to each listening source: all of them.
            changed = fastsql.execute(
                "UPDATE \"outbox\" SET status = 'suppressed', last_error = ?, updated_at = ? "
                "WHERE out_message_id = ? AND unique_key LIKE 'hook:%' AND status = 'pending'",
                [why, now, row[1]],
            ).rowcount
        elif str(row[2]).startswith(("slack-reply:", "cli-reply:")):  # typed in Slack, or `tickets reply`
            changed = fastsql.execute(
                "UPDATE \"outbox\" SET status = 'suppressed', last_error = ?, updated_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [why, now, outbox_id],
            ).rowcount
        else:
            return "unknown"
        if not changed:
            return "too_late"
        if row[1] is not None:
            fastsql.execute("UPDATE \"message\" SET delivery_status = 'withdrawn' WHERE id = ?", [row[1]])
        fastsql.insert(
            "event",
            {
                "ticket_id": row[0],
                "actor": actor,
                "kind": "agent_reply_withdrawn",
                "data": {"outbox_id": outbox_id, "message": row[1]},
                "created_at": now,
            },
        )
        return "withdrawn"

    return run_tx(tx)


def _slack_answer(message_id: int) -> bool:
    """The message is an agent's answer written in Slack (its external id is the Slack ``channel:ts``)."""
    row = fastsql.fetchone('SELECT author_role, direction, external_id FROM "message" WHERE id = ?', [message_id])
    return row is not None and row[0] == "agent" and row[1] == "out" and ":" in str(row[2] or "")


# ---- the routing issue's agents (migration 7), seen from Slack --------------------------
@dataclass(frozen=True)
class RoutedAgent:
    id: int
    email: str
    name: str


def routed_agent(user_id: str) -> RoutedAgent | None:
    """The configured agent (TOML ``slack_user``) behind a Slack user, if any."""
    row = fastsql.fetchone('SELECT id, email, name FROM "agent" WHERE slack_user = ? AND active = ?', [user_id, True])
    return RoutedAgent(row[0], row[1], row[2]) if row else None


def routed_slack_users() -> frozenset[str]:
    """Slack user ids of the active configured agents: they may act in Slack like HELPLINE_SLACK_AGENTS."""
    rows = fastsql.fetchall('SELECT slack_user FROM "agent" WHERE active = ? AND slack_user != ?', [True, ""])
    return frozenset(r[0] for r in rows)


def assignee_label(assignee: str | None) -> str:
    """Who an assignee is, for people: a Slack agent (``slack:U…``) or a configured agent (email) by name."""
    if not assignee:
        return ""
    if assignee.startswith("slack:"):
        return agent_name(assignee.split(":", 1)[1])
    row = fastsql.fetchone('SELECT name FROM "agent" WHERE email = ?', [assignee.lower()])
    return row[0] if row and row[0] else assignee
