"""The buttons of a suggested answer in Slack: Send this answer, Edit first, Dismiss.

Send and Edit become an agent's message in the ticket's thread (a synthetic
message event, ``via`` ``kb_suggestion``, on the suggestion's own Slack
message), accepted durably like any event and handled by the worker as a reply
(``workers/slack_replies.py``): the same path as a typed answer, with its undo
window, and keyed by the suggestion's message, so Send twice (or Send then
Edit) answers the customer once. Edit first opens a modal with the suggested
text; what the agent submits is sent the same way. Dismiss is recorded here.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from helpline.notifier import kb_blocks

from .intake import Rejected, TemporaryIntakeError

log = logging.getLogger("helpline.ingest")
KIND = "slack"


def _where(suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion's ticket thread and answer text (blocking: the store)."""
    from helpline.store import slack_state
    from helpline.store.db import run_tx
    from helpline.workers.kb_suggestions import answer_text

    def read() -> dict[str, Any] | None:
        got = answer_text(suggestion_id)
        if got is None:
            return None
        ticket_id, kind, text = got
        thread = slack_state.thread_of(ticket_id)
        if thread is None:
            return None
        return {"ticket_id": ticket_id, "kind": kind, "text": text, "channel": thread[0], "thread_ts": thread[1]}
    return run_tx(read, durable=False)


def _dismiss(suggestion_id: int, actor: str) -> bool:
    from helpline.store import kb_state
    from helpline.store.db import run_tx
    from helpline.store.models import utcnow

    return run_tx(lambda: kb_state.mark_suggestion(suggestion_id, "dismissed", actor, utcnow()))


def install(bolt: AsyncApp, *, intake: Any, run_blocking: Any, agents: Any, users: Any, channels: Any) -> None:
    async def allowed(user: str, channel: str, respond: Any) -> bool:
        if not await agents.has(user):
            await respond(text="Only Helpline agents can do that.", response_type="ephemeral", replace_original=False)
            return False
        if channel and await channels.is_shared(channel):
            await respond(text="Helpline commands are refused in shared channels, where customers could read "
                               "the answer.", response_type="ephemeral", replace_original=False)
            return False
        return True

    async def send(user: str, suggestion_id: int, where: dict[str, Any], message_ts: str, text: str,
                   action: str, respond: Any) -> None:
        synthetic = {"type": "event_callback", "via": "kb_suggestion", "kb_suggestion": suggestion_id,
                     "kb_action": action, "shortcut_by": user,
                     "event": {"type": "message", "channel": where["channel"], "user": user, "ts": message_ts,
                               "thread_ts": where["thread_ts"], "text": text}}
        name, email = await users.lookup(user)
        meta = {"role": "agent", "user_name": name, "user_email": email, "intake": False}
        try:
            result = await run_blocking(intake.accept_request, KIND, json.dumps(synthetic).encode(), meta)
        except (Rejected, TemporaryIntakeError) as exc:
            log.warning("event=kb_suggestion_not_recorded suggestion=%d error=%s", suggestion_id, exc)
            await respond(text=":warning: Helpline could not record that; please try again.",
                          response_type="ephemeral", replace_original=False)
            return
        log.info("event=kb_suggestion_accepted suggestion=%d action=%s inbound=%s status=%s", suggestion_id, action,
                 result.inbound_id, result.status)

    @bolt.action(kb_blocks.KB_ACTION + "send")
    async def on_send(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        sid = _int(body)
        if sid is None or not await allowed(user, channel, respond):
            return
        where = await run_blocking(_where, sid)
        if where is None or where["kind"] != "article":  # a ticket's reply is for another customer: edit only
            await respond(text="This suggestion cannot be sent as it is.", response_type="ephemeral",
                          replace_original=False)
            return
        message_ts = str((body.get("container") or {}).get("message_ts") or "") or f"kb-{sid}"
        await send(user, sid, where, message_ts, where["text"], "sent", respond)

    @bolt.action(kb_blocks.KB_ACTION + "edit")
    async def on_edit(ack: Any, body: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        sid = _int(body)
        if sid is None or not await allowed(user, channel, respond):
            return
        where = await run_blocking(_where, sid)
        if where is None:
            return
        message_ts = str((body.get("container") or {}).get("message_ts") or "") or f"kb-{sid}"
        meta = json.dumps({"s": sid, "ts": message_ts})
        await client.views_open(trigger_id=body.get("trigger_id"), view=kb_blocks.edit_modal(sid, where["text"], meta))

    @bolt.view(kb_blocks.EDIT_CALLBACK)
    async def on_edit_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            sid, message_ts = int(meta["s"]), str(meta["ts"])
            text = str(view["state"]["values"]["answer"]["text"]["value"] or "")
        except (KeyError, TypeError, ValueError):
            await ack()
            return
        if not text.strip():
            await ack(response_action="errors", errors={"answer": "Write the answer, or cancel."})
            return
        await ack()
        if not await agents.has(user):
            return
        where = await run_blocking(_where, sid)
        if where is None:
            return

        async def respond(**_: Any) -> None:  # a modal has no response_url: the worker tells the thread
            return None
        await send(user, sid, where, message_ts, text, "edited", respond)

    @bolt.action(kb_blocks.KB_ACTION + "dismiss")
    async def on_dismiss(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        sid = _int(body)
        if sid is None or not await allowed(user, channel, respond):
            return
        try:
            done = await run_blocking(_dismiss, sid, f"slack:{user}")
        except LookupError:
            return
        log.info("event=kb_suggestion_dismissed suggestion=%d user=%s recorded=%s", sid, user, done)
        await respond(**kb_blocks.acted(f"Suggestion dismissed by <@{user}>."), replace_original=True)


def _int(body: dict[str, Any]) -> int | None:
    try:
        return int(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
