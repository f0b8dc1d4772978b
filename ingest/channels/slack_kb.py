"""The buttons of a suggested answer in Slack: Send this answer, Edit first, Dismiss.

Send and Edit become an agent's message in the ticket's thread (a synthetic
message event, ``via`` ``kb_suggestion``, on the suggestion's own Slack
message: ``slack_agent_events``), handled by the worker as a reply: the same
path as a typed answer, with its undo window, and keyed by the suggestion's
message, so Send twice (or Send then Edit) answers the customer once. Edit first opens a modal with the suggested
text; what the agent submits is sent the same way. Dismiss is recorded here.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncApp

from helpline.notifier.slack import kb_blocks

from helpline.ingest.channels import slack_agent_events

log = logging.getLogger("helpline.ingest")
# A suggestion button's handler: (the agent, the suggestion's id, the action's body, respond, the Web API client).
Clicked = Callable[[str, int, dict[str, Any], Any, Any], Awaitable[None]]


def _where(suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion's ticket thread and answer text (blocking: the store)."""
    from helpline.store.channels import slack_state
    from helpline.store.db import run_tx
    from helpline.workers.jobs.kb_suggestions import answer_text

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
    from helpline.store.knowledge import kb_state
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow

    return run_tx(lambda: kb_state.mark_suggestion(suggestion_id, "dismissed", actor, utcnow()))


def _thread_of(number: str) -> tuple[str, str] | None:
    from helpline.store.channels import slack_state
    from helpline.store.views import ticket_search
    from helpline.store.db import run_tx
    from helpline.store.views.queries import TicketNotFound

    def read() -> tuple[str, str] | None:
        try:
            tid = ticket_search.visible(number, None)
        except TicketNotFound:
            return None
        return slack_state.thread_of(tid)

    return run_tx(read, durable=False)


def _ticket_of_thread(channel: str, thread_ts: str) -> bool:
    from helpline.store.channels import slack_state
    from helpline.store.db import run_tx

    return run_tx(lambda: slack_state.ticket_of(channel, thread_ts), durable=False) is not None


async def apply_macro(
    *, intake: Any, run_blocking: Any, users: Any, user: str, name: str, channel: str, thread_ts: str, use_id: str
) -> str:
    """Record a macro's use in a ticket's thread as the agent's message (``via`` macro); "" or why not."""
    synthetic = {
        "type": "event_callback",
        "via": "macro",
        "macro": name,
        "shortcut_by": user,
        "event": {
            "type": "message",
            "channel": channel,
            "user": user,
            "ts": use_id,
            "thread_ts": thread_ts,
            "text": f"/helpline macro {name}",
        },
    }
    result = await slack_agent_events.record(
        intake=intake,
        run_blocking=run_blocking,
        users=users,
        author=user,
        synthetic=synthetic,
        what="macro",
        context=f"macro={name}",
    )
    if result is None:
        return slack_agent_events.NOT_RECORDED
    log.info("event=macro_accepted macro=%s user=%s inbound=%s", name, user, result.inbound_id)
    return ""


async def macro_command(command: dict[str, Any], *, intake: Any, run_blocking: Any, users: Any) -> dict[str, Any]:
    """``/helpline macro NAME [TICKET]``: in a ticket's thread (when Slack names it) or for the ticket named."""
    words = str(command.get("text") or "").split()
    if len(words) < 2 or len(words) > 3:
        return {"text": "Usage: /helpline macro NAME [TICKET], e.g. /helpline macro refund-done HL-1042"}
    name = words[1]
    channel, thread_ts = str(command.get("channel_id") or ""), str(command.get("thread_ts") or "")
    if len(words) == 3:
        got = await run_blocking(_thread_of, words[2])
        if got is None:
            return {"text": f"No ticket {words[2]!r} with a Slack thread."}
        channel, thread_ts = got
    elif not thread_ts or not await run_blocking(_ticket_of_thread, channel, thread_ts):
        return {"text": "Name the ticket: /helpline macro NAME HL-1234 (or use the Macro menu on its message)."}
    use_id = f"macro-{command.get('trigger_id') or ''}"
    why = await apply_macro(
        intake=intake,
        run_blocking=run_blocking,
        users=users,
        user=str(command.get("user_id")),
        name=name,
        channel=channel,
        thread_ts=thread_ts,
        use_id=use_id,
    )
    return {"text": why or f"Macro {name} applied; its reply goes through the thread's undo window."}


def install(bolt: AsyncApp, *, intake: Any, run_blocking: Any, agents: Any, users: Any, channels: Any) -> None:
    async def allowed(user: str, channel: str, respond: Any) -> bool:
        if not await agents.has(user):
            await respond(text="Only Helpline agents can do that.", response_type="ephemeral", replace_original=False)
            return False
        if channel and await channels.is_shared(channel):
            await respond(
                text="Helpline commands are refused in shared channels, where customers could read the answer.",
                response_type="ephemeral",
                replace_original=False,
            )
            return False
        return True

    async def send(
        user: str, suggestion_id: int, where: dict[str, Any], message_ts: str, text: str, action: str, respond: Any
    ) -> None:
        synthetic = {
            "type": "event_callback",
            "via": "kb_suggestion",
            "kb_suggestion": suggestion_id,
            "kb_action": action,
            "shortcut_by": user,
            "event": {
                "type": "message",
                "channel": where["channel"],
                "user": user,
                "ts": message_ts,
                "thread_ts": where["thread_ts"],
                "text": text,
            },
        }
        result = await slack_agent_events.record(
            intake=intake,
            run_blocking=run_blocking,
            users=users,
            author=user,
            synthetic=synthetic,
            what="kb_suggestion",
            context=f"suggestion={suggestion_id}",
        )
        if result is None:
            await respond(text=slack_agent_events.NOT_RECORDED, response_type="ephemeral", replace_original=False)
            return
        log.info(
            "event=kb_suggestion_accepted suggestion=%d action=%s inbound=%s status=%s",
            suggestion_id,
            action,
            result.inbound_id,
            result.status,
        )

    def button(name: str) -> Callable[[Clicked], Clicked]:
        """Register ``handler(user, suggestion id, body, respond, client)`` for a suggestion's button ``name``:
        the click is acknowledged, and the handler runs only when the agent may use it in that channel."""

        def register(handler: Clicked) -> Clicked:
            @bolt.action(kb_blocks.KB_ACTION + name)
            async def on_click(ack: Any, body: dict[str, Any], respond: Any, client: Any) -> None:
                await ack()
                user = str((body.get("user") or {}).get("id") or "")
                channel = str((body.get("channel") or {}).get("id") or "")
                sid = _int(body)
                if sid is not None and await allowed(user, channel, respond):
                    await handler(user, sid, body, respond, client)

            return handler

        return register

    @button("send")
    async def on_send(user: str, sid: int, body: dict[str, Any], respond: Any, _client: Any) -> None:
        where = await run_blocking(_where, sid)
        if where is None or where["kind"] != "article":  # a ticket's reply is for another customer: edit only
            await respond(
                text="This suggestion cannot be sent as it is.", response_type="ephemeral", replace_original=False
            )
            return
        message_ts = str((body.get("container") or {}).get("message_ts") or "") or f"kb-{sid}"
        await send(user, sid, where, message_ts, where["text"], "sent", respond)

    @button("edit")
    async def on_edit(_user: str, sid: int, body: dict[str, Any], _respond: Any, client: Any) -> None:
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

    @bolt.action(kb_blocks.KB_ACTION + "macro")
    async def on_macro_menu(ack: Any, body: dict[str, Any], respond: Any) -> None:
        """The Macro menu of a ticket's parent message."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        action = (body.get("actions") or [{}])[0]
        name = str((action.get("selected_option") or {}).get("value") or "")
        number = str(action.get("block_id") or "").rpartition(":")[2]
        if not name or not number or not await allowed(user, channel, respond):
            return
        got = await run_blocking(_thread_of, number)
        if got is None:
            return
        why = await apply_macro(
            intake=intake,
            run_blocking=run_blocking,
            users=users,
            user=user,
            name=name,
            channel=got[0],
            thread_ts=got[1],
            use_id=f"macro-{action.get('action_ts') or ''}",
        )
        if why:
            await respond(text=why, response_type="ephemeral", replace_original=False)

    @button("dismiss")
    async def on_dismiss(user: str, sid: int, _body: dict[str, Any], respond: Any, _client: Any) -> None:
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
