"""Slack's Events API on the public listener (``POST /slack/events``, HTTP mode) and over Socket Mode.

slack-bolt's ``AsyncApp`` does what bolt is for: it checks each request's
signature with the signing secret (v0 HMAC, timestamps older than five
minutes refused: 401), answers Slack's ``url_verification`` challenge, and
drops the bot's own messages. The listener runs before the answer
(``process_before_response``) and does only the durable part: an agent's
message in a thread becomes an inbound row through ``intake.accept_request``
(a few milliseconds), everything else happens in the workers. So Slack hears
200 only once the message is safe, and a 503 (database and spool both
unavailable) makes Slack retry.

Who may write into a ticket from Slack is decided here, at the edge, like an
SMTP server's RCPT check: messages of bots (ourselves included: no loops),
top-level messages, and messages of users who are not agents
(``HELPLINE_SLACK_AGENTS``) are acknowledged and ignored, with a log line.
The parent message's buttons (take, status, priority) are authorised here
too: a non-agent, or any click in a channel shared with another organisation,
gets an ephemeral refusal, and so does an agent whose role does not reach the
action (``slack_permissions``: a refusal names the role needed and records
nothing); an allowed click becomes an inbound row like a message and a worker
applies it. The Reveal button under a post whose personal data was masked is
answered here, to the presser alone (``slack_reveal``). The "Reply to customer" message shortcut makes an agent's thread message a
reply (``on_reply_shortcut``). The Undo button of a waiting reply and the
``/helpline`` command (read-only, see ``slack_commands``) are answered here
directly.
Customers in Slack: in the channels of ``HELPLINE_SLACK_INTAKE_CHANNELS`` and
the bot's direct messages, anyone who is not an agent is a customer (see
``author_role``); an agent's ticket emoji on any message makes it a customer
message of its author (``on_reaction``).
With ``HELPLINE_SLACK_APP_TOKEN`` the same app also receives everything over
Socket Mode (``SocketMode``), for an ingest daemon Slack cannot reach.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from helpline.notifier.slack import slack_metrics
from helpline.notifier.slack.slack_blocks import ACTION_PREFIX, REVEAL_ACTION, UNDO_ACTION
from helpline.store.channels import slack_state
from helpline.store.config import Settings

from helpline.ingest import decoding
from helpline.ingest.channels import slack_agent_events, slack_commands, slack_permissions, slack_reveal
from helpline.ingest.intake import Rejected, TemporaryIntakeError
from helpline.ingest.channels.slack_envelope import build_slack_action, build_slack_message, message_of
from helpline.ingest.http import app_keys as K

log = logging.getLogger("helpline.ingest")

KIND = "slack"
ACTION_KIND = "slack_action"
COMMAND = "/helpline"
REPLY_SHORTCUT = "helpline_reply"  # callback_id of the "Reply to customer" message shortcut
# Message subtypes that are people writing (or changing what they wrote); joins, topics and the like are not.
_HUMAN_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message", "message_changed", "message_deleted"}
UNDO_ANSWERS = {
    "withdrawn": ":leftwards_arrow_with_hook: Withdrawn: the customer will not get this reply.",
    "too_late": "Too late: this reply has already been sent to the customer.",
    "unknown": "This reply cannot be withdrawn.",
    "failed": ":warning: Could not withdraw the reply (database unavailable); it may still be sent.",
}
USER_CACHE_S = 600.0
USERS_INFO_TIMEOUT_S = 1.5


class UserDirectory:
    """Names and emails of Slack users from users.info, cached: an event must be answered within 3 s."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: dict[str, tuple[float, str, str]] = {}

    async def lookup(self, user_id: str) -> tuple[str, str]:
        hit = self._cache.get(user_id)
        if hit and hit[0] > time.monotonic():
            return hit[1], hit[2]
        name = email = ""
        try:
            resp = await slack_call(self.client, "users_info", user=user_id)
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            name = (
                profile.get("real_name")
                or user.get("real_name")
                or profile.get("display_name")
                or user.get("name")
                or ""
            )
            email = profile.get("email") or ""
        except Exception as exc:  # the name is a nicety; the message must not wait for it
            log.warning("event=slack_users_info_failed user=%s error=%s", user_id, type(exc).__name__)
            return "", ""
        self._cache[user_id] = (time.monotonic() + USER_CACHE_S, name, email)
        return name, email


class AgentDirectory:
    """Who acts as an agent: the user ids of HELPLINE_SLACK_AGENTS, the members of the user groups
    listed there (``S…`` ids, from usergroups.users.list), and the configured agents' ``slack_user``
    (the routing issue's TOML file), re-read at most once a minute.

    A group's members are cached for ``group_ttl_s``. When Slack cannot be
    asked, the members known before stay agents and the group is asked again
    after ``retry_s`` rather than a whole TTL later; a user not among the
    cached members makes the groups be asked again (at most every
    ``miss_refresh_s``), so someone just added to the group is not refused for
    the rest of the TTL."""

    def __init__(
        self,
        static: frozenset[str],
        run_blocking: Any,
        refresh_s: float = 60.0,
        client: AsyncWebClient | None = None,
        group_ttl_s: float = 300.0,
        retry_s: float = 15.0,
        miss_refresh_s: float = 30.0,
    ) -> None:
        self.groups = frozenset(x for x in static if is_usergroup(x))
        self.static = static - self.groups
        self.run_blocking = run_blocking
        self.refresh_s = refresh_s
        self.client = client
        self.group_ttl_s, self.retry_s, self.miss_refresh_s = group_ttl_s, retry_s, miss_refresh_s
        self._routed: frozenset[str] = frozenset()
        self._until = 0.0
        self._members: dict[str, frozenset[str]] = {}
        self._group_until: dict[str, float] = {}
        self._group_asked: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def current(self) -> frozenset[str]:
        if time.monotonic() >= self._until:
            try:
                self._routed = await self.run_blocking(slack_state.routed_slack_users)
            except Exception as exc:  # the database is away: keep who we knew
                log.warning("event=slack_agents_refresh_failed error=%s", type(exc).__name__)
            self._until = time.monotonic() + self.refresh_s
        members = await self._group_members(force=False)
        return self.static | self._routed | members

    async def has(self, user: str) -> bool:
        if user in await self.current():
            return True
        if self.groups and user:  # perhaps added to a group since we asked
            return user in await self._group_members(force=True)
        return False

    async def _group_members(self, *, force: bool) -> frozenset[str]:
        client = self.client
        if not self.groups or client is None:
            return frozenset()
        now = time.monotonic()
        due = [
            g
            for g in sorted(self.groups)
            if now >= self._group_until.get(g, 0.0)
            or (force and now - self._group_asked.get(g, 0.0) >= self.miss_refresh_s)
        ]
        if due:
            async with self._lock:
                for group in due:
                    await self._ask(client, group)
        return frozenset().union(*self._members.values()) if self._members else frozenset()

    async def _ask(self, client: AsyncWebClient, group: str) -> None:
        now = time.monotonic()
        if now - self._group_asked.get(group, -1e9) < 1.0:  # another request just asked
            return
        self._group_asked[group] = now
        try:
            resp = await slack_call(client, "usergroups_users_list", usergroup=group)
            self._members[group] = frozenset(str(u) for u in resp.get("users") or [])
            self._group_until[group] = time.monotonic() + self.group_ttl_s
            log.info("event=slack_usergroup_loaded group=%s members=%d", group, len(self._members[group]))
        except Exception as exc:  # keep the members we knew; ask again soon
            self._group_until[group] = time.monotonic() + self.retry_s
            log.warning(
                "event=slack_usergroup_failed group=%s error=%s known=%d",
                group,
                _error_of(exc),
                len(self._members.get(group, ())),
            )


def is_usergroup(entry: str) -> bool:
    """A user-group id (``S0123ABC``) in HELPLINE_SLACK_AGENTS, as opposed to a user id (``U…``/``W…``)."""
    return entry.startswith("S") and entry[1:].isalnum()


async def slack_call(client: AsyncWebClient, method: str, **kwargs: Any) -> Any:
    """One Web API call of the ingest daemon, with a time limit (an event must be answered in 3 s)
    and counted in the Slack metrics like the sender's calls."""
    try:
        resp = await asyncio.wait_for(getattr(client, method)(**kwargs), USERS_INFO_TIMEOUT_S)
    except Exception as exc:
        slack_metrics.observe(method, slack_metrics.result_of(exc))
        if slack_metrics.result_of(exc) == "rate_limited":
            try:
                after = float(exc.response.headers.get("Retry-After") or 1)  # type: ignore[attr-defined]
            except (AttributeError, TypeError, ValueError):
                after = 1.0
            slack_metrics.held(method, after)
        raise
    slack_metrics.observe(method, "ok")
    return resp


def _error_of(exc: BaseException) -> str:
    result = slack_metrics.result_of(exc)
    return type(exc).__name__ if result == "unreachable" else result


class ChannelDirectory:
    """Whether a channel is shared with another organisation (Slack Connect), cached."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: dict[str, tuple[float, bool]] = {}

    async def is_shared(self, channel: str) -> bool:
        hit = self._cache.get(channel)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            resp = await slack_call(self.client, "conversations_info", channel=channel)
            info = resp.get("channel") or {}
            shared = bool(info.get("is_ext_shared") or info.get("is_shared") or info.get("is_pending_ext_shared"))
        except Exception as exc:  # unknown: refuse, since an answer could reach customers
            log.warning("event=slack_conversations_info_failed channel=%s error=%s", channel, type(exc).__name__)
            return True
        self._cache[channel] = (time.monotonic() + USER_CACHE_S, shared)
        return shared


def author_role(
    event: dict[str, Any], agents: frozenset[str], bot_user_id: str | None, intake_channels: frozenset[str]
) -> tuple[str | None, str]:
    """(``agent`` or ``customer``, where) of a message event Helpline takes in, or (None, why not).

    In a customer-facing channel (``HELPLINE_SLACK_INTAKE_CHANNELS``, or a direct
    message to the bot) a person who is not an agent is a customer, top-level
    or in a thread, and an agent's thread reply is an answer given right there.
    Elsewhere only agents' thread messages count (a ticket's internal thread)."""
    subtype = event.get("subtype")
    if subtype not in _HUMAN_SUBTYPES:
        return None, f"subtype_{subtype}"
    kind, msg = message_of(event)
    if event.get("bot_id") or msg.get("bot_id") or subtype == "bot_message" or msg.get("subtype") == "bot_message":
        return None, "bot"
    user = msg.get("user") or ""
    if not user or (bot_user_id and user == bot_user_id):
        return None, "bot"
    thread_ts = msg.get("thread_ts") or ""
    in_thread = bool(thread_ts) and thread_ts != msg.get("ts")
    customer_facing = event.get("channel") in intake_channels or event.get("channel_type") == "im"
    if user in agents:
        return ("agent", "intake" if customer_facing else "internal") if in_thread else (None, "not_in_a_thread")
    if not customer_facing:
        return None, "not_an_agent"
    if kind != "posted":  # a customer's edit or deletion changes nothing already received
        return None, f"customer_{kind}"
    return "customer", "intake"


def make_bolt_app(settings: Settings, intake: Any, run_blocking: Any) -> AsyncApp:
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=_base_url(settings.slack_api_url))
    bolt = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=client,
        process_before_response=True,
        logger=logging.getLogger("helpline.ingest.slack_bolt"),
    )
    agents = AgentDirectory(frozenset(settings.slack_agents), run_blocking, client=client)
    users = UserDirectory(client)
    channels = ChannelDirectory(client)
    intake_channels = frozenset(settings.slack_intake_channels) - {settings.slack_channel}

    async def permitted(
        respond: Any, user: str, action: str, body: dict[str, Any], *, thread_ts: str = "", channel: str = ""
    ) -> bool:
        """Whether ``user``'s role allows ``action`` on the ticket of the thread; if not, tell them alone which
        role it needs. Nothing is recorded before this says yes."""
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = channel or str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        thread_ts = thread_ts or str(
            container.get("thread_ts")
            or message.get("thread_ts")
            or container.get("message_ts")
            or message.get("ts")
            or ""
        )
        block = str(((body.get("actions") or [{}])[0]).get("block_id") or "")
        number = block.rpartition(":")[2] if block.startswith("helpline_ticket") else ""
        try:
            decision = await run_blocking(
                slack_permissions.check, user, await agents.has(user), action, channel, thread_ts, number
            )
        except Exception as exc:  # the database is away: refuse rather than guess a role
            log.warning("event=slack_permission_unknown user=%s action=%s error=%s", user, action, type(exc).__name__)
            await respond(
                text=":warning: Helpline could not check your role just now; please try again.",
                response_type="ephemeral",
                replace_original=False,
            )
            return False
        if decision.allowed:
            return True
        log.info(
            "event=slack_action_refused action=%s user=%s reason=role role=%s needed=%s",
            action,
            user,
            decision.role,
            decision.needed,
        )
        await respond(text=decision.message, response_type="ephemeral", replace_original=False)
        return False

    async def message_permitted(event: dict[str, Any], msg: dict[str, Any]) -> bool:
        """An agent's message in a ticket's thread is a reply or a note: refused only where their role does not
        reach (a restricted second-line ticket), with an ephemeral word; when unsure, let it through: a
        message cannot be asked again, and every role may reply and note."""
        user, channel = str(msg.get("user") or ""), str(event.get("channel") or "")
        try:
            decision = await run_blocking(
                slack_permissions.check, user, True, "note", channel, str(msg.get("thread_ts") or "")
            )
        except Exception as exc:
            log.warning("event=slack_permission_unknown user=%s action=note error=%s", user, type(exc).__name__)
            return True
        if decision.allowed:
            return True
        try:
            await slack_call(
                client,
                "chat_postEphemeral",
                channel=channel,
                user=user,
                thread_ts=str(msg.get("thread_ts") or ""),
                text="Not recorded. " + decision.message,
            )
        except Exception as exc:
            log.warning("event=slack_ephemeral_failed user=%s error=%s", user, type(exc).__name__)
        return False

    @bolt.event("message")
    async def on_message(event: dict[str, Any], request: AsyncBoltRequest, context: Any) -> BoltResponse | None:
        retry = request.headers.get("x-slack-retry-num", [""])[0] if request.headers else ""
        role, why = author_role(event, await agents.current(), context.get("bot_user_id"), intake_channels)
        kind, msg = message_of(event)
        where = f"channel={event.get('channel', '')} ts={msg.get('ts', '')} user={msg.get('user', '')}"
        if role is None:
            log.info("event=slack_ignored reason=%s %s", why, where)
            return None
        if role == "agent" and kind == "posted" and not await message_permitted(event, msg):
            log.info("event=slack_ignored reason=role %s", where)
            return None
        name, email = await users.lookup(str(msg["user"]))
        meta = {"role": role, "user_name": name, "user_email": email, "intake": why == "intake"}
        try:
            result = await run_blocking(intake.accept_request, KIND, raw_body(request), meta)
        except Rejected as exc:  # Slack would only retry the same body: acknowledge, keep the reason in the log
            log.warning("event=slack_event_rejected %s error=%s", where, exc)
            return None
        except TemporaryIntakeError as exc:
            log.warning("event=slack_event_refused %s error=%s", where, exc)
            return BoltResponse(status=503, body="temporarily unavailable; retry")
        log.info(
            "event=slack_message_accepted status=%s inbound=%s kind=%s retry=%s %s",
            result.status,
            result.inbound_id,
            kind,
            retry or 0,
            where,
        )
        return None

    @bolt.action(UNDO_ACTION)
    async def on_undo(ack: Any, body: dict[str, Any], respond: Any) -> None:
        """Withdraw a reply still in its undo window. Done here, not through the queue: the
        agent must learn at once whether it worked, and one conditional update decides
        the race with the sender."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        if not await agents.has(user):
            log.info("event=slack_action_refused action=undo user=%s", user)
            await respond(text="Only Helpline agents can do that.", response_type="ephemeral", replace_original=False)
            return
        try:
            outbox_id = int(body["actions"][0]["value"])
        except (KeyError, IndexError, TypeError, ValueError):
            return
        if not await permitted(respond, user, "reply", body):
            return
        try:
            result = await run_blocking(slack_state.withdraw_reply, outbox_id, f"slack:{user}")
        except Exception as exc:  # the database is away: say so, the reply may still go
            log.warning("event=slack_undo_failed outbox=%d error=%s", outbox_id, type(exc).__name__)
            result = "failed"
        log.info("event=slack_undo outbox=%d user=%s result=%s", outbox_id, user, result)
        await respond(text=UNDO_ANSWERS.get(result, UNDO_ANSWERS["unknown"]), replace_original=True)

    @bolt.action(REVEAL_ACTION)
    async def on_reveal(ack: Any, body: dict[str, Any], respond: Any) -> None:
        """Show a masked message's text to the presser alone, if their role may see personal data; audited."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        container, message = body.get("container") or {}, body.get("message") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
        thread_ts = str(
            container.get("thread_ts")
            or message.get("thread_ts")
            or container.get("message_ts")
            or message.get("ts")
            or ""
        )
        listed = await agents.has(user)
        if not listed:
            log.info("event=slack_action_refused action=reveal user=%s reason=not_an_agent", user)
            await respond(text="Only Helpline agents can do that.", response_type="ephemeral", replace_original=False)
            return
        if await channels.is_shared(channel):
            await respond(
                text="Helpline refuses that in shared channels, where customers could read the answer.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        raw = str(((body.get("actions") or [{}])[0]).get("value") or "")
        try:
            if not re.fullmatch(r"[0-9]{1,18}", raw):
                raise ValueError(raw)
            message_id = int(raw)
            done, text = await run_blocking(slack_reveal.reveal, user, listed, channel, thread_ts, message_id)
        except ValueError:
            await respond(text="That button names no message.", response_type="ephemeral", replace_original=False)
            return
        except Exception as exc:  # the database is away
            log.warning("event=slack_reveal_failed user=%s error=%s", user, type(exc).__name__)
            done, text = False, ":warning: Helpline could not answer just now; please try again."
        log.info("event=slack_reveal user=%s message=%s done=%s", user, message_id, done)
        await respond(text=text, response_type="ephemeral", replace_original=False)

    @bolt.action(re.compile("^" + re.escape(ACTION_PREFIX)))
    async def on_ticket_action(ack: Any, body: dict[str, Any], request: AsyncBoltRequest, respond: Any) -> None:
        """A button or menu of a ticket's parent: authorised here, recorded durably, done by a worker."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        action_id = str(((body.get("actions") or [{}])[0]).get("action_id") or "")
        if not await agents.has(user):
            log.info("event=slack_action_refused action=%s user=%s reason=not_an_agent", action_id, user)
            await respond(text="Only Helpline agents can do that.", response_type="ephemeral", replace_original=False)
            return
        if await channels.is_shared(channel):
            log.info(
                "event=slack_action_refused action=%s user=%s reason=shared_channel channel=%s",
                action_id,
                user,
                channel,
            )
            await respond(
                text="Helpline commands are refused in shared channels, where customers could read the answer.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        chosen = str(((body.get("actions") or [{}])[0]).get("selected_user") or "")
        chosen_name = ""
        if action_id == ACTION_PREFIX + "assign":  # only to an agent: the edge knows who they are
            if not chosen or not await agents.has(chosen):
                log.info(
                    "event=slack_action_refused action=%s user=%s reason=chosen_not_an_agent chosen=%s",
                    action_id,
                    user,
                    chosen,
                )
                await respond(
                    text="Tickets can only be assigned to Helpline agents.",
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
            chosen_name = (await users.lookup(chosen))[0]
        command = action_id.removeprefix(ACTION_PREFIX).partition(":")[0]
        if not await permitted(respond, user, slack_permissions.action_of(command, user, chosen), body):
            return
        name, email = await users.lookup(user)
        try:
            result = await run_blocking(
                intake.accept_request,
                ACTION_KIND,
                raw_body(request),
                {"user_name": name, "user_email": email, "value_name": chosen_name},
            )
        except (Rejected, TemporaryIntakeError) as exc:
            log.warning("event=slack_action_not_recorded action=%s user=%s error=%s", action_id, user, exc)
            await respond(
                text=":warning: Helpline could not record that; please try again.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        log.info(
            "event=slack_action_accepted action=%s user=%s inbound=%s status=%s",
            action_id,
            user,
            result.inbound_id,
            result.status,
        )

    @bolt.shortcut(REPLY_SHORTCUT)
    async def on_reply_shortcut(ack: Any, body: dict[str, Any], respond: Any) -> None:
        """The "Reply to customer" message shortcut (explicit reply mode's other way): an agent's message in a
        ticket's thread goes to the customer as a reply, through the same path (undo window included)."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        msg = body.get("message") or {}
        author, ts, thread_ts = str(msg.get("user") or ""), str(msg.get("ts") or ""), str(msg.get("thread_ts") or "")
        where = f"channel={channel} ts={ts} user={user} author={author}"

        async def refuse(reason: str, text: str) -> None:
            log.info("event=slack_shortcut_refused reason=%s %s", reason, where)
            await respond(text=text, response_type="ephemeral", replace_original=False)

        if not await agents.has(user):
            return await refuse("not_an_agent", "Only Helpline agents can do that.")
        if await channels.is_shared(channel):
            return await refuse(
                "shared_channel",
                "Helpline commands are refused in shared channels, where customers could read the answer.",
            )
        if msg.get("bot_id") or not author or not await agents.has(author):
            return await refuse("not_an_agents_message", "Only an agent's own message can be sent to the customer.")
        if not thread_ts or thread_ts == ts:
            return await refuse("not_in_a_thread", "Use this on a message in a ticket's thread.")
        if not await permitted(respond, user, "reply", body, thread_ts=thread_ts, channel=channel):
            return None
        synthetic = {
            "type": "event_callback",
            "team_id": (body.get("team") or {}).get("id", ""),
            "via": "reply_shortcut",
            "shortcut_by": user,
            "shortcut_id": str(body.get("trigger_id") or ""),
            "event": {
                "type": "message",
                "channel": channel,
                "user": author,
                "ts": ts,
                "thread_ts": thread_ts,
                "text": msg.get("text", ""),
                "files": msg.get("files") or [],
            },
        }
        result = await slack_agent_events.record(
            intake=intake,
            run_blocking=run_blocking,
            users=users,
            author=author,
            synthetic=synthetic,
            what="slack_shortcut",
            context=where,
        )
        if result is None:
            await respond(text=slack_agent_events.NOT_RECORDED, response_type="ephemeral", replace_original=False)
            return
        log.info("event=slack_reply_shortcut_accepted status=%s inbound=%s %s", result.status, result.inbound_id, where)

    @bolt.command(COMMAND)
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        """``/helpline …``: answered at once, ephemerally, from the store (see ``slack_commands``)."""
        user, channel = str(command.get("user_id") or ""), str(command.get("channel_id") or "")
        if not await agents.has(user):
            log.info("event=slack_command_refused user=%s reason=not_an_agent", user)
            await ack(text="Only Helpline agents can use /helpline.")
            return
        if await channels.is_shared(channel):
            log.info("event=slack_command_refused user=%s reason=shared_channel channel=%s", user, channel)
            await ack(text="/helpline is refused in shared channels, where customers could read the answer.")
            return
        try:
            if str(command.get("text") or "").split()[:1] == ["macro"]:  # a write: durable, through the worker
                from helpline.ingest.channels.slack_kb import macro_command

                reply = await macro_command(command, intake=intake, run_blocking=run_blocking, users=users)
            else:
                reply = await run_blocking(slack_commands.answer, str(command.get("text") or ""), user, channel)
        except Exception as exc:  # the database is away
            log.warning("event=slack_command_failed user=%s error=%s", user, type(exc).__name__)
            reply = {"text": ":warning: Helpline could not answer just now; please try again."}
        await ack(**reply)

    @bolt.event("reaction_added")
    async def on_reaction(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> BoltResponse | None:
        """The ticket emoji by an agent on someone's message: that message becomes a ticket for its author."""
        item = event.get("item") or {}
        user, channel, ts = str(event.get("user") or ""), str(item.get("channel") or ""), str(item.get("ts") or "")
        if event.get("reaction") != settings.slack_ticket_emoji or item.get("type") != "message":
            return None
        where = f"channel={channel} ts={ts} user={user}"
        if not await agents.has(user):
            log.info("event=slack_ignored reason=ticket_emoji_not_by_an_agent %s", where)
            return None
        msg = await _fetch_message(client, channel, ts)
        author = str((msg or {}).get("user") or "")
        if msg is None or msg.get("bot_id") or not author or await agents.has(author):
            log.info("event=slack_ignored reason=ticket_emoji_not_on_a_customer_message %s", where)
            return None
        synthetic = {
            "type": "event_callback",
            "team_id": body.get("team_id", ""),
            "event_id": body.get("event_id", ""),
            "via": "ticket_emoji",
            "event": {
                "type": "message",
                "channel": channel,
                "user": author,
                "ts": ts,
                "text": msg.get("text", ""),
                "files": msg.get("files") or [],
            },
        }
        name, email = await users.lookup(author)
        meta = {"role": "customer", "user_name": name, "user_email": email, "intake": False}
        try:
            result = await run_blocking(intake.accept_request, KIND, json.dumps(synthetic).encode(), meta)
        except Rejected as exc:
            log.warning("event=slack_event_rejected %s error=%s", where, exc)
            return None
        except TemporaryIntakeError as exc:
            log.warning("event=slack_event_refused %s error=%s", where, exc)
            return BoltResponse(status=503, body="temporarily unavailable; retry")
        log.info(
            "event=slack_ticket_emoji_accepted status=%s inbound=%s author=%s %s",
            result.status,
            result.inbound_id,
            author,
            where,
        )
        return None

    from helpline.ingest.channels import slack_kb

    slack_kb.install(bolt, intake=intake, run_blocking=run_blocking, agents=agents, users=users, channels=channels)

    @bolt.event(re.compile(".*"))
    async def other_events(event: dict[str, Any]) -> None:
        log.debug("event=slack_event_ignored type=%s", event.get("type"))

    return bolt


async def _fetch_message(client: AsyncWebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """One message by channel and ts: from the channel's history, or from a thread's replies."""
    try:
        resp = await slack_call(
            client, "conversations_history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        found = [m for m in resp.get("messages") or [] if m.get("ts") == ts]
        if not found:
            resp = await slack_call(
                client, "conversations_replies", channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=1
            )
            found = [m for m in resp.get("messages") or [] if m.get("ts") == ts]
    except Exception as exc:
        log.warning("event=slack_message_fetch_failed channel=%s ts=%s error=%s", channel, ts, type(exc).__name__)
        return None
    return found[0] if found else None


def raw_body(request: AsyncBoltRequest) -> bytes:
    """What Slack sent: the HTTP body as signed, or a Socket Mode envelope's payload as JSON."""
    return request.raw_body.encode("utf-8") if request.raw_body else json.dumps(request.body).encode("utf-8")


def unreadable(headers: Any, raw: bytes) -> str:
    """Why a request cannot be Slack's (checked before slack_bolt, which answers 500 to a
    non-numeric timestamp), or "". The body goes through the shared decoder, so what the
    listeners later parse is known to be readable."""
    stamp = headers.get("X-Slack-Request-Timestamp")
    if stamp is not None and (not stamp.strip().isdigit() or len(stamp.strip()) > 12):  # absent: bolt's 401
        return "X-Slack-Request-Timestamp must be Unix seconds"
    ctype = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    try:
        if ctype == "application/x-www-form-urlencoded":
            form = decoding.form_fields(raw)
            if "payload" in form:
                decoding.load_json(form["payload"])
        else:
            decoding.load_json(raw)
    except decoding.BodyError as exc:
        return f"the body cannot be read: {exc}"
    return ""


def _base_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def install(app: web.Application) -> None:
    """Receive Slack when it is configured: ``POST /slack/events`` with the signing secret (HTTP
    mode), and a Socket Mode connection with the app-level token; both may be on at once."""
    settings: Settings = app[K.SETTINGS]
    if not (settings.slack_signing_secret or settings.slack_app_token):
        return
    if not settings.slack_bot_token:
        log.warning(
            "event=slack_events_off reason=%s",
            "HELPLINE_SLACK_SIGNING_SECRET or HELPLINE_SLACK_APP_TOKEN "
            "is set but HELPLINE_SLACK_BOT_TOKEN is not; set the bot token to receive Slack",
        )
        return
    intake = K.intake_of(app)
    intake.register(KIND, build_slack_message)
    intake.register(ACTION_KIND, build_slack_action)
    bolt = make_bolt_app(settings, intake, app[K.RUN_BLOCKING])
    if settings.slack_signing_secret:

        async def slack_events(request: web.Request) -> web.Response:
            problem = unreadable(request.headers, await request.read())
            if problem:
                log.warning("event=slack_request_refused reason=%s", problem)
                return web.Response(status=400, text=problem + "\n")
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", slack_events)
    if settings.slack_app_token:
        socket = SocketMode(bolt, settings.slack_app_token)
        app.on_startup.append(socket.start)
        app.on_cleanup.append(socket.stop)


class SocketMode:
    """The Socket Mode connection (a websocket Helpline opens to Slack), alongside the HTTP listener.

    It connects in the background and reconnects by itself, so a Slack outage
    never keeps the ingest daemon from starting. Events arrive through the same
    bolt app and listeners as over HTTP; an envelope is acknowledged only once
    its message is durable (a listener's 503 leaves it unacknowledged and Slack
    sends it again)."""

    def __init__(self, bolt: AsyncApp, app_token: str) -> None:
        self.bolt = bolt
        self.app_token = app_token
        self.handler: AsyncSocketModeHandler | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, _app: web.Application) -> None:
        self.handler = AsyncSocketModeHandler(self.bolt, self.app_token)
        self.task = asyncio.create_task(self.handler.connect_async())
        log.info("event=slack_socket_mode_connecting")

    async def stop(self, _app: web.Application) -> None:
        if self.handler is not None:
            await self.handler.close_async()
        if self.task is not None:
            self.task.cancel()
