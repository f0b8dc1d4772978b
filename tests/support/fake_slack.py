"""A local stand-in for Slack: its Web API, and events signed the way Slack signs them.

``FakeSlack`` is an aiohttp server that answers the Web API methods Helpline
calls (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
``reactions.add``, ``users.info``, ``auth.test``, ``conversations.info``,
``usergroups.users.list``, and the files API of ``files_upload_v2``:
``files.getUploadURLExternal``, the upload URL it hands out,
``files.completeUploadExternal``) and
interaction ``response_url``s, and its Socket Mode websocket (``apps.connections.open``
with the app-level token, then envelopes acknowledged by ``envelope_id``), with
Slack's JSON shapes (``{"ok": true, ...}`` / ``{"ok": false, "error": ...}``)
and records every call, so the real ``slack_sdk`` clients run unchanged against
it (``WebClient(base_url=fake.url)``). Tests can make a method answer
HTTP 429 with ``Retry-After`` or an error such as ``not_in_channel``.

``signed_headers`` signs an HTTP request body exactly as Slack does (v0 HMAC-SHA256
over ``v0:{timestamp}:{body}`` with the app's signing secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-A0HELPLINE-test-token"
BOT_USER = "UHELPBOT"
BOT_ID = "BHELPBOT"
TEAM = "T0TEST"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signed_headers(
    body: bytes | str, secret: str = SIGNING_SECRET, timestamp: int | None = None, retry_num: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with an event, action or command."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + raw
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def block_action(
    action_id: str, value: str, *, user: str, channel: str, response_url: str, message_ts: str = ""
) -> bytes:
    """An interactivity request (a button pressed), form-encoded as Slack posts it; ``message_ts``: the
    message the button is on (else an ephemeral one)."""
    from urllib.parse import urlencode

    container = {"type": "message", "channel_id": channel, "is_ephemeral": not message_ts}
    if message_ts:
        container["message_ts"] = message_ts
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0HELPLINE",
        "token": "deprecated-verification-token",
        "container": container,
        "trigger_id": "1.2.3",
        "channel": {"id": channel},
        "response_url": response_url,
        "actions": [
            {"type": "button", "action_id": action_id, "block_id": "b1", "value": value, "action_ts": str(time.time())}
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API envelope around ``event``, as Slack posts it."""
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0HELPLINE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


_event_ids = itertools.count(1)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    def __init__(self, token: str = BOT_TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.archived: set[str] = set()
        self.not_in: set[str] = set()
        self.shared: set[str] = set()
        self.usergroups: dict[str, list[str]] = {}  # user-group id (S…) -> its members' user ids
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> the message as posted/updated
        self.reactions: dict[tuple[str, str], list[str]] = {}
        self.files: dict[str, bytes] = {}
        self.file_gets: list[tuple[str, str]] = []  # (file id, bearer token) of each download
        self.files_scope = True  # False: the bot token lacks files:read, downloads get the sign-in page
        self.pending_uploads: dict[str, dict[str, Any]] = {}  # file id -> {filename, length, data}: not shared yet
        self.shared_files: list[
            dict[str, Any]
        ] = []  # files shared by completeUploadExternal: name, data, channel, thread_ts
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self._plans: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self._ts = itertools.count(1)
        self.cond = threading.Condition()
        self.port = _free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ---- set-up -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def add_user(self, user_id: str, name: str, email: str = "", *, is_bot: bool = False) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "is_bot": is_bot,
            "profile": {"real_name": name, "display_name": name.split()[0], "email": email},
        }

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with Retry-After."""
        self._plans.setdefault(method, []).extend(
            [(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})] * times
        )

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._plans.setdefault(method, []).extend([(200, {"ok": False, "error": error}, {})] * times)

    def add_file(
        self, file_id: str, name: str, data: bytes, mimetype: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A file uploaded to Slack; the file object as a message event carries it. Slack serves
        ``url_private_download`` only with the bot token (without it: a login page, HTTP 200)."""
        self.files[file_id] = data
        url = f"http://127.0.0.1:{self.port}/files-pri/{file_id}/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "size": len(data),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    async def _file(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        with self.cond:
            self.file_gets.append((request.match_info["file_id"], auth.removeprefix("Bearer ").strip()))
        data = self.files.get(request.match_info["file_id"])
        if auth != f"Bearer {self.token}" or not self.files_scope:
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        if data is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=data, content_type="application/octet-stream")

    def start(self) -> "FakeSlack":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("*", "/api/{method}", self._handle)
            app.router.add_post("/response/{token}", self._respond)
            app.router.add_get("/socket", self._socket)
            app.router.add_get("/files-pri/{file_id}/{name}", self._file)
            app.router.add_post("/upload/v1/{file_id}", self._upload)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Slack API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ---- Socket Mode: Slack's side of the websocket -----------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": "A0HELPLINE"},
            }
        )
        with self.cond:
            self.sockets.append(ws)
            self.cond.notify_all()
        async for msg in ws:
            if msg.type.name == "TEXT":
                with self.cond:
                    self.socket_acks.append(json.loads(msg.data))
                    self.cond.notify_all()
        with self.cond:
            self.sockets.remove(ws)
        return ws

    def wait_for_socket(self, timeout: float = 30.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: bool(self.sockets), timeout):
                raise TimeoutError("nobody connected to the fake Socket Mode endpoint")

    def socket_send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int = 0,
        envelope_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one Socket Mode envelope as Slack does; the client's acknowledgement (with any payload)."""
        envelope_id = envelope_id or f"env-{next(self._ts)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
            "accepts_response_payload": kind in ("slash_commands", "interactive"),
        }
        with self.cond:
            ws = self.sockets[-1]
            done = len([a for a in self.socket_acks if a.get("envelope_id") == envelope_id])
        asyncio.run_coroutine_threadsafe(ws.send_json(envelope), self._loop).result(10)
        with self.cond:
            if not self.cond.wait_for(
                lambda: len([a for a in self.socket_acks if a.get("envelope_id") == envelope_id]) > done, timeout
            ):
                raise TimeoutError(f"envelope {envelope_id} was not acknowledged")
            return [a for a in self.socket_acks if a.get("envelope_id") == envelope_id][-1]

    def response_url(self, token: str = "r1") -> str:
        """A ``response_url`` of an interaction payload: where ``respond()`` posts its answer."""
        return f"http://127.0.0.1:{self.port}/response/{token}"

    async def _respond(self, request: web.Request) -> web.Response:
        args = await request.json()
        with self.cond:
            self.calls.append(Call("response_url", dict(args, token=request.match_info["token"]), ""))
            self.cond.notify_all()
        return web.Response(text="ok")

    # ---- reading what happened -------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [c for c in self.calls if c.method == method]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"fake Slack got {len(got)} {method} calls, expected {count}; "
                        f"calls so far: {[c.method for c in self.calls]}"
                    )
                self.cond.wait(left)

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self.cond:
            return [m for (c, _), m in self.messages.items() if c == channel and m.get("thread_ts") == thread_ts]

    # ---- the API ----------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                args.update(json.loads(body))
            else:
                args.update(parse_qsl(body.decode()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or str(args.pop("token", ""))
        with self.cond:
            self.calls.append(Call(method, args, token))
            self.cond.notify_all()
            plan = self._plans.get(method)
            if plan:
                status, answer, headers = plan.pop(0)
                return web.json_response(answer, status=status, headers=headers)
        if method == "apps.connections.open":  # Socket Mode: the app-level token, not the bot's
            if token != APP_TOKEN:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket=t1"})
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args))

    def _channel_error(self, channel: str) -> dict[str, Any] | None:
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.archived:
            return {"ok": False, "error": "is_archived"}
        if channel in self.not_in:
            return {"ok": False, "error": "not_in_channel"}
        return None

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://helpline-test.slack.com/",
            "team": "Helpline Test",
            "user": "helpline",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        err = self._channel_error(channel)
        if err:
            return err
        ts = f"{1700000000 + next(self._ts)}.000100"
        msg = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": _maybe_json(args.get("blocks")) or [],
        }
        if args.get("thread_ts"):
            msg["thread_ts"] = str(args["thread_ts"])
        with self.cond:
            self.messages[(channel, ts)] = msg
        return {"ok": True, "channel": channel, "ts": ts, "message": msg}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = _maybe_json(args.get("view")) or {}
        return {"ok": True, "view": {**view, "id": f"V{next(self._ts):08d}"}}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        err = self._channel_error(str(args.get("channel", "")))
        return err or {"ok": True, "message_ts": f"{1700000000 + next(self._ts)}.000200"}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        err = self._channel_error(channel)
        if err:
            return err
        with self.cond:
            msg = self.messages.get((channel, ts))
            if msg is None:
                return {"ok": False, "error": "message_not_found"}
            msg.update(text=args.get("text", ""), blocks=_maybe_json(args.get("blocks")) or [])
        return {"ok": True, "channel": channel, "ts": ts, "text": args.get("text", "")}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel", "")), str(args.get("timestamp", "")))
        name = str(args.get("name", ""))
        err = self._channel_error(key[0])
        if err:
            return err
        with self.cond:
            names = self.reactions.setdefault(key, [])
            if name in names:
                return {"ok": False, "error": "already_reacted"}
            names.append(name)
        return {"ok": True}

    def _find(self, channel: str, ts: str) -> list[dict[str, Any]]:
        with self.cond:
            msg = self.messages.get((channel, ts))
        return [msg] if msg else []

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("latest", ""))
        found = [m for m in self._find(channel, ts) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        return {"ok": True, "messages": found, "has_more": False}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        return {"ok": True, "messages": self._find(channel, ts), "has_more": False}

    # ---- the files API (files_upload_v2): an upload URL per file, the bytes, then one share ----------
    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(args.get("filename") or ""), str(args.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F0UP{next(self._ts):06d}"
        with self.cond:
            self.pending_uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}"}

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        with self.cond:
            pending = self.pending_uploads.get(request.match_info["file_id"])
            if pending is None:
                return web.Response(status=404, text="not found")
            pending["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _maybe_json(args.get("files")) or []
        channel, thread_ts = str(args.get("channel_id") or ""), str(args.get("thread_ts") or "")
        err = self._channel_error(channel) if channel else None
        if err:
            return err
        out = []
        with self.cond:
            for f in files:
                pending = self.pending_uploads.get(str(f.get("id")))
                if pending is None or pending["data"] is None:
                    return {"ok": False, "error": "file_not_found"}
                if len(pending["data"]) != pending["length"]:
                    return {"ok": False, "error": "file_upload_size_mismatch"}
            ts = f"{1700000000 + next(self._ts)}.000100"
            for f in files:
                pending = self.pending_uploads.pop(str(f["id"]))
                shared = {
                    "id": f["id"],
                    "name": pending["filename"],
                    "title": f.get("title") or pending["filename"],
                    "data": pending["data"],
                    "channel": channel,
                    "thread_ts": thread_ts,
                }
                self.shared_files.append(shared)
                out.append(
                    {"id": f["id"], "name": pending["filename"], "title": shared["title"], "size": len(pending["data"])}
                )
            if channel:  # shared: one message with the files (and the blocks or comment given)
                msg = {
                    "type": "message",
                    "user": BOT_USER,
                    "bot_id": BOT_ID,
                    "ts": ts,
                    "text": str(args.get("initial_comment") or ""),
                    "blocks": _maybe_json(args.get("blocks")) or [],
                    "files": [{"id": o["id"], "name": o["name"]} for o in out],
                }
                if thread_ts:
                    msg["thread_ts"] = thread_ts
                self.messages[(channel, ts)] = msg
        return {"ok": True, "files": out}

    def add_message(self, channel: str, ts: str, user: str, text: str, thread_ts: str = "") -> None:
        """A message someone wrote in Slack (as conversations.history will return it)."""
        msg = {"type": "message", "user": user, "ts": ts, "text": text}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        with self.cond:
            self.messages[(channel, ts)] = msg

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup", ""))
        with self.cond:
            members = self.usergroups.get(group)
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "is_channel": True,
                "is_archived": channel in self.archived,
                "is_shared": channel in self.shared,
                "is_ext_shared": channel in self.shared,
                "is_member": channel not in self.not_in,
            },
        }


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
