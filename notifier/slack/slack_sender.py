"""The Slack sender: tickets as Block Kit messages, their threads, and their updates.

Outbox rows of channel ``slack`` carry an operation, not a rendered message:

``post_ticket``   the ticket's parent message; its ``ts`` is stored, so the
                  message's thread is the ticket's thread
``post_message``  a later customer message, into that thread
``update_ticket`` the parent re-rendered in place (``chat.update``)
``react``         a reaction on a Slack message (an agent's reply went out)
``notice``        a line of ours in a thread (a reply that could not be delivered)
``undo_offer``    an ephemeral message to the agent with an Undo button for a waiting reply
``ephemeral``     a line for one agent only (why their button did nothing)
``customer_reply`` an agent's answer posted into a Slack customer's own thread
``merge_suggestion`` a near-duplicate of the same customer, with Merge / Not a duplicate buttons
``detach_offer``  a message joined as a near-duplicate, with a Detach button
``replace``       one of our thread messages replaced by a line (a suggestion acted on)

Tickets and messages are read from the store when the row is sent, so a
parent shows the ticket as it is then (see ``slack_cards``). Slack allows
about one message per second per channel: posts are paced per channel in this
process (a wait of up to a second is slept; a longer queue goes back to the
outbox with a delay), and an HTTP 429 puts the row and its channel back for
``Retry-After`` seconds without counting an attempt, so a burst queues
instead of failing.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from helpline.store import db
from helpline.store.storage import blobs
from helpline.store.outbound import outbox_rows
from helpline.store.privacy import pii
from helpline.store.tickets import routing_state
from helpline.store.views import slack_card_reads
from helpline.store.channels import slack_state
from helpline.store.config import Settings

from helpline.notifier.slack import slack_blocks
from helpline.notifier.slack import slack_cards
from helpline.notifier.slack import slack_metrics
from helpline.notifier.errors import PermanentFailure, RateLimited, RelayUnavailable, TemporaryFailure
from helpline.notifier.logkv import line, log

PACE_S = 1.0  # Slack: about one message per second per channel

# Errors that are the configuration's, not the message's: every row would fail alike.
_AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
# Errors an operator fixes in Slack (invite the bot); retried with back-off meanwhile, failed visibly at the end.
_CHANNEL_ERRORS = {
    "not_in_channel": "the bot is not a member of channel {channel}: invite it (/invite @the-bot)",
    "channel_not_found": "channel {channel} does not exist or the bot cannot see it: check HELPLINE_SLACK_CHANNEL "
    "(a channel id such as C0123456789, not a name) and invite the bot",
}


def channel_for_team(settings: Settings, team: str | None) -> str:
    """The channel where a ticket of ``team`` is posted: the team's ``slack_channel`` in the TOML
    file, else HELPLINE_SLACK_TEAM_CHANNELS, else HELPLINE_SLACK_CHANNEL."""
    info = routing_state.team_info(team)
    if info is not None and info.slack_channel:
        return info.slack_channel
    for item in settings.slack_team_channels:
        name, sep, channel = item.partition("=")
        if sep and team and name.strip() == team:
            return channel.strip()
    return settings.slack_channel


def make_client(settings: Settings, *, timeout: float = 10.0) -> WebClient:
    """A Web API client pointed at HELPLINE_SLACK_API_URL (Slack, or a stand-in in tests)."""
    base = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(token=settings.slack_bot_token or None, base_url=base, timeout=int(max(timeout, 1)))


class Pacer:
    """Per-channel send slots one ``interval`` apart (this process only)."""

    def __init__(self, interval: float = PACE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, channel: str, max_wait: float) -> float:
        """Seconds to wait before posting to ``channel``; raises ``RateLimited`` when that exceeds ``max_wait``."""
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(channel, 0.0))
            wait = slot - now
            if wait > max_wait:
                raise RateLimited(f"pacing channel {channel}: its queue is {wait:.1f}s long", retry_after=wait)
            self._next[channel] = slot + self.interval
            return wait

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said to wait: nothing more goes to ``channel`` for ``seconds``."""
        with self._lock:
            self._next[channel] = max(self._next.get(channel, 0.0), self.clock() + seconds)


_MASKED_METHODS = frozenset({"chat_postMessage", "chat_update", "chat_postEphemeral"})


class SlackSender:
    channel = "slack"
    unconfigured_hint = "set HELPLINE_SLACK_BOT_TOKEN and HELPLINE_SLACK_CHANNEL"

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        categories: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        self.settings = settings
        self._category_labels = categories  # the active model's labels (router's; passed in, notifier never imports it)
        self._client = make_client(settings, timeout=timeout) if settings.slack_bot_token else None
        self.pacer = pacer or Pacer()
        self._sleep = sleep
        self._actions = bool(settings.slack_signing_secret)  # buttons only where their clicks can arrive
        self._hint = slack_blocks.reply_hint(
            settings.slack_reply_mode, settings.slack_reply_prefix, settings.slack_note_prefix
        )

    def __repr__(self) -> str:  # never show the token
        return f"SlackSender(api={self.settings.slack_api_url!r}, channel={self.settings.slack_channel!r})"

    @property
    def configured(self) -> bool:
        return bool(self.settings.slack_bot_token and self.settings.slack_channel)

    # ---- the operations ------------------------------------------------------------
    def send(self, payload: dict[str, Any]) -> str:
        """Carry out one outbox row; returns ``channel:ts`` of the message posted or changed."""
        if self._client is None:
            raise RelayUnavailable("no Slack bot token (HELPLINE_SLACK_BOT_TOKEN); Slack messages stay in the outbox")
        op = payload.get("op")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            raise PermanentFailure(f"unknown Slack outbox operation {op!r}; written by a newer release?")
        return handler(payload)

    def _op_post_ticket(self, payload: dict[str, Any]) -> str:
        ticket_id = int(payload["ticket_id"])
        known = slack_state.thread_of(ticket_id)
        if known:  # posted already (a re-run of the row after its outcome was lost)
            return f"{known[0]}:{known[1]}"
        return self._post_parent(ticket_id, str(payload.get("channel") or self.settings.slack_channel))

    def _post_parent(self, ticket_id: int, channel: str) -> str:
        card = slack_cards.load_card(ticket_id, self.settings)
        if card is None:
            raise PermanentFailure(f"ticket {ticket_id} no longer exists")
        msg = slack_blocks.ticket_message(
            card, hint=self._hint, actions=self._actions, categories=self._categories(), macros=self._macros(card.team)
        )
        resp = self._call(
            "chat_postMessage",
            channel,
            paced=True,
            channel=channel,
            text=msg["text"],
            blocks=msg["blocks"],
            unfurl_links=False,
            unfurl_media=False,
        )
        ts = str(resp["ts"])
        channel = str(resp.get("channel") or channel)
        db.run_tx(lambda: slack_state.remember_thread(ticket_id, channel, ts))
        log.info(line("slack_ticket_posted", ticket=card.number, channel=channel, ts=ts))
        return f"{channel}:{ts}"

    def _op_post_message(self, payload: dict[str, Any]) -> str:
        ticket_id = int(payload["ticket_id"])
        thread = slack_state.thread_of(ticket_id)
        if thread is None:
            if _parent_on_its_way(ticket_id):
                raise RateLimited(f"ticket {ticket_id}'s parent message is not posted yet", retry_after=2.0)
            # A ticket from before Slack was set up, or whose parent failed: post it now.
            self._post_parent(ticket_id, str(payload.get("channel") or self.settings.slack_channel))
            thread = slack_state.thread_of(ticket_id)
            assert thread is not None
        loaded = slack_cards.load_message(int(payload["message_id"]), self.settings)
        if loaded is None:
            raise PermanentFailure(f"message {payload['message_id']} no longer exists")
        msg, files = loaded
        body = slack_blocks.customer_message(
            name=msg.author,
            address=msg.sender,
            channel=msg.channel,
            text=msg.text or msg.full_text,
            attachments=files,
            warning=slack_blocks.auth_warning(msg.auth),
        )
        if self._actions and pii.has_pii(msg.text or msg.full_text or "", tokens=self.settings.pii_mask_tokens):
            body["blocks"].append(slack_blocks.reveal_block(msg.id))  # the text itself is masked by _call
        channel, parent = thread
        resp = self._call(
            "chat_postMessage",
            channel,
            paced=True,
            channel=channel,
            thread_ts=parent,
            text=body["text"],
            blocks=body["blocks"],
            unfurl_links=False,
            unfurl_media=False,
        )
        return f"{channel}:{resp['ts']}"

    def _op_update_ticket(self, payload: dict[str, Any]) -> str:
        ticket_id = int(payload["ticket_id"])
        thread = slack_state.thread_of(ticket_id)
        if thread is None:  # not posted yet: the post will show the current state
            return "no-parent"
        card = slack_cards.load_card(ticket_id, self.settings)
        if card is None:
            raise PermanentFailure(f"ticket {ticket_id} no longer exists")
        msg = slack_blocks.ticket_message(
            card, hint=self._hint, actions=self._actions, categories=self._categories(), macros=self._macros(card.team)
        )
        channel, ts = thread
        self._call("chat_update", channel, channel=channel, ts=ts, text=msg["text"], blocks=msg["blocks"])
        db.run_tx(lambda: slack_state.touch_thread(ticket_id), durable=False)
        return f"{channel}:{ts}"

    def _op_react(self, payload: dict[str, Any]) -> str:
        channel, ts = str(payload["channel"]), str(payload["ts"])
        try:
            self._call("reactions_add", channel, channel=channel, timestamp=ts, name=str(payload["name"]))
        except PermanentFailure as exc:
            if "already_reacted" not in str(exc):
                raise
        return f"{channel}:{ts}"

    def _op_notice(self, payload: dict[str, Any]) -> str:
        channel, thread_ts = str(payload["channel"]), str(payload["thread_ts"])
        text = str(payload["text"]).replace("{error}", slack_blocks.escape(str(payload.get("error") or "")))
        body = slack_blocks.notice(text)
        where = {"thread_ts": thread_ts} if thread_ts else {}  # no thread: a message in the channel itself
        resp = self._call(
            "chat_postMessage", channel, paced=True, channel=channel, text=body["text"], blocks=body["blocks"], **where
        )
        return f"{channel}:{resp['ts']}"

    def _op_merge_suggestion(self, payload: dict[str, Any]) -> str:
        """A near-duplicate in the ticket's thread, with Merge and Not-a-duplicate buttons."""
        return self._offer_in_thread(
            payload,
            slack_blocks.merge_suggestion(
                str(payload["number"]), str(payload["other"]), float(payload.get("similarity") or 0.0)
            ),
        )

    def _op_detach_offer(self, payload: dict[str, Any]) -> str:
        """A near-duplicate's join in the ticket's thread, with a Detach button (``slack_actions._detach``)."""
        return self._offer_in_thread(
            payload,
            slack_blocks.detach_offer(
                str(payload["number"]), int(payload["message"]), float(payload.get("similarity") or 0.0)
            ),
        )

    def _offer_in_thread(self, payload: dict[str, Any], body: dict[str, Any]) -> str:
        """Post an offer with buttons in the ticket's thread; without interactivity (no way for a click to
        arrive) only its first block, the line itself."""
        thread = slack_state.thread_of(int(payload["ticket_id"]))
        if thread is None:
            raise PermanentFailure(f"ticket {payload['ticket_id']} has no Slack thread")
        channel, parent = thread
        if not self._actions:
            body["blocks"] = body["blocks"][:1]
        resp = self._call(
            "chat_postMessage",
            channel,
            paced=True,
            channel=channel,
            thread_ts=parent,
            text=body["text"],
            blocks=body["blocks"],
        )
        return f"{channel}:{resp['ts']}"

    def _op_kb_suggestion(self, payload: dict[str, Any]) -> str:
        """A suggested answer in the ticket's thread (``workers/jobs/kb_suggestions.py``), with its buttons."""
        from helpline.store.knowledge import kb_state

        from helpline.notifier.slack import kb_blocks

        sid = int(payload["suggestion_id"])
        view = db.run_tx(lambda: kb_state.suggestion_view(sid), durable=False)
        thread = slack_state.thread_of(int(payload["ticket_id"]))
        if view is None:
            raise PermanentFailure(f"suggestion {sid} is gone (recomputed, or its ticket deleted)")
        if thread is None:  # the parent is not posted yet (rate limited, Slack away): after it, with back-off
            raise TemporaryFailure(f"ticket {payload['ticket_id']} has no Slack thread yet")
        channel, parent = thread
        body = kb_blocks.suggestion(
            sid,
            view["kind"],
            view["ref"],
            view["title"],
            view["score"],
            view["why"],
            view["excerpt"],
            buttons=self._actions,
        )
        resp = self._call(
            "chat_postMessage",
            channel,
            paced=True,
            channel=channel,
            thread_ts=parent,
            text=body["text"],
            blocks=body["blocks"],
        )
        return f"{channel}:{resp['ts']}"

    def _op_replace(self, payload: dict[str, Any]) -> str:
        """A message of ours replaced by a line (a merge suggestion once acted on: no buttons left)."""
        channel, ts = str(payload["channel"]), str(payload["ts"])
        body = slack_blocks.notice(str(payload["text"]))
        try:
            self._call("chat_update", channel, channel=channel, ts=ts, text=body["text"], blocks=body["blocks"])
        except PermanentFailure as exc:
            if "message_not_found" not in str(exc):  # deleted meanwhile: nothing left to replace
                raise
        return f"{channel}:{ts}"

    def _op_customer_reply(self, payload: dict[str, Any]) -> str:
        """An agent's answer in the thread of a customer who wrote in Slack, under the agent's name;
        with files, one upload of all of them that carries the answer as its message."""
        channel = str(payload["channel"])
        body = slack_blocks.agent_answer(str(payload.get("agent") or ""), str(payload["text"]))
        if payload.get("files"):
            return self._upload_answer(channel, str(payload["thread_ts"]), body, [int(i) for i in payload["files"]])
        resp = self._call(
            "chat_postMessage",
            channel,
            paced=True,
            unmasked=True,
            channel=channel,
            thread_ts=str(payload["thread_ts"]),
            text=body["text"],
            blocks=body["blocks"],
            unfurl_links=False,
            unfurl_media=False,
        )
        return f"{channel}:{resp['ts']}"

    def _upload_answer(self, channel: str, thread_ts: str, body: dict[str, Any], ids: list[int]) -> str:
        """The files API as ``files_upload_v2`` drives it: an upload URL per file
        (files.getUploadURLExternal), the bytes to it, then one files.completeUploadExternal that
        shares them all into the thread with the answer's blocks. Nothing shows in Slack before
        that last call, so a retry after any failure posts the answer once, not twice."""
        uploads = []
        for filename, _ctype, data in _attachment_bytes(self.settings, ids):
            uploads.append({"content": data, "filename": filename, "title": filename})
        if len(uploads) != len(ids):
            raise PermanentFailure(f"{len(ids) - len(uploads)} of the answer's files no longer exist")
        resp = self._call(
            "files_upload_v2",
            channel,
            paced=True,
            file_uploads=uploads,
            channel=channel,
            thread_ts=thread_ts,
            blocks=json.dumps(body["blocks"]),
        )
        shared = ",".join(str(f.get("id") or "") for f in resp.get("files") or [])
        log.info(line("slack_files_uploaded", channel=channel, thread_ts=thread_ts, files=len(uploads)))
        return f"{channel}:{thread_ts}:files:{shared}"

    def _op_ephemeral(self, payload: dict[str, Any]) -> str:
        """A line for one agent only (why their action did nothing). ``text`` is ours."""
        channel = str(payload["channel"])
        body = slack_blocks.notice(str(payload["text"]))
        resp = self._call(
            "chat_postEphemeral",
            channel,
            channel=channel,
            user=str(payload["user"]),
            thread_ts=str(payload.get("thread_ts") or "") or None,
            text=body["text"],
            blocks=body["blocks"],
        )
        return f"{channel}:{resp.get('message_ts', '')}"

    def _op_undo_offer(self, payload: dict[str, Any]) -> str:
        """Show the agent (only them) that their reply waits, with a button to withdraw it."""
        channel = str(payload["channel"])
        body = slack_blocks.undo_offer(
            int(payload["outbox_id"]), float(payload["seconds"]), str(payload.get("to") or "")
        )
        resp = self._call(
            "chat_postEphemeral",
            channel,
            channel=channel,
            user=str(payload["user"]),
            thread_ts=str(payload["thread_ts"]),
            text=body["text"],
            blocks=body["blocks"],
        )
        return f"{channel}:{resp.get('message_ts', '')}"

    def _macros(self, team: str) -> tuple[str, ...]:
        """The names of the macros the ticket's team may use, for the parent's menu."""
        if not self._actions:
            return ()
        from helpline.store.knowledge import kb_state

        return tuple(dict.fromkeys(r.name for r in kb_state.list_macros() if r.team in ("", team or "")))

    def _categories(self) -> tuple[str, ...]:
        if not self._actions:
            return ()
        return self._category_labels()

    # ---- one API call, its pacing and its failures --------------------------------------
    def _call(self, method: str, target: str, *, paced: bool = False, unmasked: bool = False, **kwargs: Any) -> Any:
        """``method`` of the Web API on channel ``target``; posts wait for the channel's pace.

        What is posted or updated for agents has its personal data masked here, the one place every post
        passes (``store.pii``); only an agent's answer to a customer in Slack (``unmasked``) goes as written."""
        if method in _MASKED_METHODS and not unmasked:
            tokens = self.settings.pii_mask_tokens
            kwargs.update({k: pii.mask_json(kwargs[k], tokens=tokens) for k in ("text", "blocks") if k in kwargs})
        if paced:
            wait = self.pacer.reserve(target, max_wait=self.pacer.interval)
            if wait > 0:
                self._sleep(wait)
        try:
            resp = getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            slack_metrics.observe(method, slack_metrics.result_of(exc))
            raise self._classify(exc, method, target) from None
        except (URLError, OSError, SlackClientError) as exc:
            slack_metrics.observe(method, "unreachable")
            raise RelayUnavailable(
                f"Slack API {self.settings.slack_api_url} unreachable during {method} "
                f"({type(exc).__name__}); will retry"
            ) from None
        slack_metrics.observe(method, "ok")
        return resp

    def _classify(self, exc: SlackApiError, method: str, channel: str) -> Exception:
        status = exc.response.status_code
        error = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
        if status == 429:
            try:
                after = float(exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after") or 1)
            except ValueError:
                after = 1.0
            self.pacer.hold(channel, after)
            slack_metrics.held(method, after)
            log.warning(line("slack_rate_limited", method=method, channel=channel, retry_after=after))
            return RateLimited(f"Slack rate-limited {method} on {channel}; retry after {after:g}s", retry_after=after)
        if status >= 500:
            return TemporaryFailure(f"Slack answered HTTP {status} to {method}; will retry")
        if error in _AUTH_ERRORS:
            return RelayUnavailable(
                f"Slack refused the bot token ({error}) for {method}: check "
                "HELPLINE_SLACK_BOT_TOKEN and the app's scopes; will retry"
            )
        if error in _CHANNEL_ERRORS:
            return TemporaryFailure(f"Slack {method}: {_CHANNEL_ERRORS[error].format(channel=channel)}; will retry")
        if error == "is_archived":
            return PermanentFailure(f"Slack channel {channel} is archived; unarchive it or set another channel")
        return PermanentFailure(f"Slack refused {method} on {channel}: {error or f'HTTP {status}'}")


def _attachment_bytes(settings: Settings, ids: list[int]) -> list[tuple[str, str, bytes]]:
    """(filename, content type, bytes) of the attachment rows, in order; missing ones left out. With
    HELPLINE_CLAMD_SOCKET each is scanned first: a withheld one is never uploaded (PermanentFailure), and
    with clamd down the row waits (TemporaryFailure)."""
    from helpline.store.storage import attachment_scan
    from helpline.store.storage import clamd

    store = blobs.open_store(settings.blob_backend, settings.effective_blob_dir)
    out = []
    for one in ids:
        row = slack_card_reads.attachment(one)
        if row is None:
            continue
        try:
            verdict = attachment_scan.ensure(settings, one)
        except clamd.ClamdUnavailable as exc:
            raise TemporaryFailure(f"the virus scanner is unavailable ({exc}); the files wait for it") from None
        if verdict is not None and verdict.status != clamd.CLEAN:
            raise PermanentFailure(f"{row.filename}: {attachment_scan.withheld_reason(verdict.status, verdict.detail)}")
        try:
            out.append((row.filename, row.content_type, store.get(row.blob_key)))
        except blobs.BlobNotFound:
            continue
    return out


def _parent_on_its_way(ticket_id: int) -> bool:
    return outbox_rows.parent_post_on_its_way(ticket_id)
