"""The IMAP poller: mail from a mailbox at a provider into Helpline, once.

One blocking poller per mailbox, each in its own thread (imapclient is
blocking); ``run_imap_pollers`` runs them under the ingest daemon's event loop.

The rules, in the order a message meets them:

- **One poller per mailbox.** A lease row (``store.imap_state``) is taken before
  connecting and renewed while polling; a daemon that cannot take it waits. A
  holder that loses the database keeps working only until its lease would run
  out, then stops.
- **Neither re-import nor skip.** UIDVALIDITY and the highest finished UID are
  kept in the database; after a restart, only UIDs above it are fetched. With
  no usable progress (first contact, or UIDVALIDITY changed) the messages
  present are re-synced (``_candidates``): all of them with after=move or
  delete; with after=seen the unseen ones plus those that arrived since a day
  before the last import, never years of mail people read long ago. Intake's
  dedupe by Message-ID and content makes every re-import a no-op.
- **Durable first.** Bodies are fetched with ``BODY.PEEK[]`` (no ``\\Seen``), given
  to intake in batches (one group commit each), and only the messages whose
  inbound row committed (or that went to the host spool while the database is
  down) are then marked on the server (``after=seen|move:FOLDER|delete``). A
  crash in between means a re-fetch. The high-water mark advances only over
  finished messages in a row; finished ones above an unfinished one are
  remembered in memory so they are not offered (or spooled) again.
- **Nothing blocks the mailbox.** A message that is too large, not an email, or
  that intake could only quarantine is recorded as a quarantined inbound row
  and then moved to the quarantine folder (while the database is down it waits
  for its row). An import attempt is counted in the database before it starts;
  a batch that keeps dying is retried one message at a time, and a message
  whose import began ``MAX_ATTEMPTS`` times without finishing is quarantined
  unparsed.
- **OAuth2 tokens are kept, and replaced in time.** The token ``oauth2_cmd``
  printed is reused for new connections while fresh; before it goes stale the
  command runs again and the session is replaced between two polls; a kept
  token the server refuses is replaced once at once (see "OAuth2 tokens" below).
- **Progress is visible.** Each finished poll, each error and the imports per
  minute are recorded for ``helpline imap status`` and ``/metrics``.
- **Network trouble is waited out.** Errors are logged as
  ``event=imap_error account=USER@HOST/FOLDER error=TYPE`` (secrets masked) and
  the poller reconnects with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import imaplib
import ipaddress
import json
import logging
import os
import random
import select
import shlex
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable

from imapclient import DELETED, SEEN, IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.util import to_unicode as to_str

from helpline.store.channels import imap_state
from helpline.store.inbound import intake_rows
from helpline.store.clock import utcnow
from helpline.store.db import UNAVAILABLE, DatabaseUnavailable, database, run_tx
from helpline.store.envelope import Envelope

from helpline.ingest import metrics
from helpline.ingest.email.normalise import NotAnEmail, normalise_email
from helpline.ingest.channels.imap_accounts import ImapAccount, imap_settings, mask
from helpline.ingest.intake import IntakeResult, Offer, TemporaryIntakeError

log = logging.getLogger("helpline.ingest.imap")
# imapclient logs every protocol line, message bodies included, at DEBUG: mail is not log material.
logging.getLogger("imapclient.imaplib").setLevel(logging.INFO)
HOST = socket.gethostname()
QUARANTINE_KEYWORD = "$HelplineQuarantined"
_DB_DOWN = (DatabaseUnavailable, *UNAVAILABLE)


class ImapRefused(RuntimeError):
    """The mailbox cannot be used as configured (plain text to a remote host, login refused, no token)."""


class LeaseLost(RuntimeError):
    """Another daemon holds this mailbox now (ours ran out)."""


class MailboxChanged(IMAPClientError):
    """The selected folder was deleted, recreated or otherwise changed under us: reconnect and re-check."""


class _Stop(Exception):
    """Internal: stop importing this batch (the stop event is set)."""


class _Reconnect(Exception):
    """Internal: end this session and log in again at once (a fresh OAuth2 token is ready)."""


@dataclass
class _Token:
    """An OAuth2 access token and when to replace it (monotonic clock)."""

    value: str
    refresh_at: float  # get a new one from here on (before a known expiry, or after oauth2_refresh minutes)
    expires_at: float | None  # None: the command did not say


@dataclass
class _Item:
    uid: int
    size: int | None  # None: expunged meanwhile


_HANGUP = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)


def _readable(client: IMAPClient, timeout: float) -> bool:
    """Wait up to ``timeout`` for the server to say something during IDLE.

    imapclient's ``idle_check`` treats a closed connection as "no news" and
    returns at once, which would spin until the IDLE period ends; a hang-up
    is an error here, so the poller reconnects."""
    poller = select.poll()
    poller.register(client.socket().fileno(), select.POLLIN | _HANGUP)
    events = poller.poll(timeout * 1000)
    if not events:
        return False
    if events[0][1] & _HANGUP:
        raise imaplib.IMAP4.abort("connection closed by the server during IDLE")
    return True


def _news(client: IMAPClient) -> bool:
    """Take (and forget) the EXISTS announcements the server made in answers to our commands.

    A message delivered while the poller searches, fetches or marks is announced
    in the answer to whichever command comes next; imaplib keeps such untagged
    responses aside, and IDLE would not announce them again: without this check
    the message would wait for the next IDLE re-issue (minutes)."""
    pending = client._imap.untagged_responses  # noqa: SLF001 - imapclient offers no public view of them
    for name in ("RECENT", b"RECENT"):  # comes with EXISTS (sometimes a command later): EXISTS is what counts
        pending.pop(name, None)
    return any([pending.pop(name, None) for name in ("EXISTS", b"EXISTS")])


def _keepalive(client: IMAPClient) -> None:
    """TCP keepalive, so that a peer gone silently (a NAT that forgot us) shows as a hang-up within
    about two minutes instead of at the next IDLE re-issue."""
    try:
        sock = client.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


def _is_loopback(client: IMAPClient) -> bool:
    try:
        peer = client.socket().getpeername()[0]
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except (OSError, ValueError, AttributeError):
        return False


class ImapPoller:
    """Polls one mailbox until ``stop`` is set; ``run`` blocks (call it in a thread)."""

    MAX_ATTEMPTS = 3
    MIN_BACKOFF_S = 1.0
    MAX_BACKOFF_S = 300.0

    def __init__(
        self,
        account: ImapAccount,
        intake: Any,
        *,
        max_message_bytes: int | None = None,
        batch_size: int = 50,
        batch_bytes: int = 32 * 1024 * 1024,
        stop: threading.Event | None = None,
        holder: str | None = None,
        use_idle: bool = True,
        connect_timeout: float = 30.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.account = account
        self.intake = intake
        settings = getattr(intake, "settings", None)
        self.max_bytes = max_message_bytes or getattr(settings, "max_message_bytes", 25 * 1024 * 1024)
        self.batch_size = max(1, batch_size)
        self.batch_bytes = batch_bytes
        self.stop = stop or threading.Event()
        self.holder = holder or f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.use_idle = use_idle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.holding = False
        self._lease_until = 0.0  # monotonic: our lease is surely still ours before this
        self._renew_at = 0.0
        self.state: imap_state.FolderState | None = None  # in memory; may run ahead of the database
        self._token = ""  # the newest OAuth2 token (masked in every error text)
        self._oauth: _Token | None = None
        self._token_retry_at = 0.0  # after a failed refresh, when to try again
        self._success_saved = -1e9  # monotonic time of the last success written to the database
        self._failed_since_success = False
        self._folders: set[str] = set()
        self.stats: Counter[str] = Counter()
        self.idling = threading.Event()  # set while an IDLE is outstanding (tests wait on it)
        self.backoff_s = self.MIN_BACKOFF_S
        self._retry_reason: dict[int, BaseException] = {}
        self._unsaved = False  # progress in memory that the database has not taken yet
        self._done_above: set[int] = set()  # finished UIDs above the high-water mark (an earlier one is not)

    # ---- the loop ---------------------------------------------------------
    def run(self) -> None:
        log.info("event=imap_poller_started account=%s holder=%s", self.account.label, self.holder)
        try:
            while not self.stop.is_set():
                try:
                    if not self._lease():
                        self._sleep(max(1.0, min(self.account.lease_seconds / 3, self.account.poll_seconds)))
                        continue
                    self._session()
                except LeaseLost:
                    log.warning("event=imap_lease_lost account=%s holder=%s", self.account.label, self.holder)
                    self.holding = False
                except _Stop:
                    break
                except _Reconnect:
                    continue
                except Exception as exc:  # noqa: BLE001 - every failure is logged, waited out and retried
                    self._failed(exc)
        finally:
            self._release()
            try:
                database().close()  # this thread's connection
            except Exception:  # noqa: BLE001
                pass
            log.info("event=imap_poller_stopped account=%s", self.account.label)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _failed(self, exc: BaseException) -> None:
        self.stats["errors"] += 1
        self._failed_since_success = True
        detail = mask(str(exc), self.account.secrets + ((self._token,) if self._token else ()))[:300]
        known = isinstance(exc, (OSError, IMAPClientError, ImapRefused, TemporaryIntakeError, *_DB_DOWN))
        log.warning(
            "event=imap_error account=%s error=%s detail=%s retry_in=%.1fs",
            self.account.label,
            type(exc).__qualname__,
            json.dumps(detail),
            self.backoff_s,
            exc_info=not known,
        )
        if not isinstance(exc, _DB_DOWN):
            try:
                imap_state.record_error(self.account.key, f"{type(exc).__name__}: {detail}")
            except Exception:  # noqa: BLE001 - the database may be the trouble
                pass
        self._sleep(self.backoff_s * random.uniform(0.8, 1.2))
        self.backoff_s = min(self.backoff_s * 2, self.MAX_BACKOFF_S)

    # ---- lease -------------------------------------------------------------
    def _lease(self) -> bool:
        """True while we hold the mailbox; renews when due. Raises LeaseLost when it went to another."""
        now = time.monotonic()
        if self.holding and now < self._renew_at:
            return True
        ttl = self.account.lease_seconds
        try:
            ok = imap_state.acquire_lease(self.account.key, self.holder, ttl)
        except _DB_DOWN:
            if self.holding and now < self._lease_until:
                return True  # nobody else can take it before it runs out
            if self.holding:
                self.holding = False
                raise LeaseLost("lease ran out while the database was unreachable") from None
            raise
        if ok:
            if not self.holding:
                log.info("event=imap_lease_acquired account=%s holder=%s", self.account.label, self.holder)
            self.holding = True
            self._lease_until = now + ttl * 0.9
            self._renew_at = now + ttl / 3
            return True
        if self.holding:
            self.holding = False
            raise LeaseLost("another daemon took the lease")
        return False

    def _release(self) -> None:
        if not self.holding:
            return
        self.holding = False
        try:
            imap_state.release_lease(self.account.key, self.holder)
        except Exception:  # noqa: BLE001 - it runs out by itself
            pass

    def _check(self) -> None:
        if self.stop.is_set():
            raise _Stop()
        if not self._lease():
            raise LeaseLost("lease not held")

    # ---- connection ----------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.account.cafile or None)
        if not self.account.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    # ---- OAuth2 tokens ------------------------------------------------------------------------
    # A token is checked only at login, and an IMAP session cannot log in again; providers end a
    # session some time after its token expires. So the poller keeps the token it got, logs in with
    # it while it is fresh, and before it goes stale gets a new one and starts a new session.
    REFRESH_MARGIN_S = 300.0  # replace a token this long before its stated expiry (at most a fifth of its life)

    def _fetch_token(self) -> _Token:
        """Run ``oauth2_cmd``: it prints the token, or JSON with ``access_token`` and ``expires_in``."""
        try:
            proc = subprocess.run(
                shlex.split(self.account.oauth2_cmd),
                capture_output=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            raise ImapRefused(f"oauth2_cmd could not run ({type(exc).__name__})") from None
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not out:
            raise ImapRefused(
                f"oauth2_cmd exited with status {proc.returncode}" + ("" if out else " and printed no token")
            )
        now = time.monotonic()
        life: float | None = None
        token = out
        if out.startswith("{"):
            try:
                data = json.loads(out)
            except ValueError:
                raise ImapRefused("oauth2_cmd printed something like JSON that does not parse") from None
            token = data.get("access_token") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token.strip():
                raise ImapRefused("oauth2_cmd printed JSON without an access_token")
            token = token.strip()
            raw = data.get("expires_in")
            try:
                life = float(raw) if raw is not None and not isinstance(raw, bool) else None
            except (TypeError, ValueError):
                life = None
            if life is not None and not life > 0:
                life = None
        self._token = token
        self.stats["tokens"] += 1
        if life is None:
            return _Token(token, now + self.account.oauth2_refresh_minutes * 60, None)
        return _Token(token, now + life - min(self.REFRESH_MARGIN_S, life / 5), now + life)

    def _login_token(self) -> tuple[str, bool]:
        """A token to log in with, and whether it was fetched just now."""
        if self._oauth is not None and time.monotonic() < self._oauth.refresh_at:
            return self._oauth.value, False
        self._oauth = self._fetch_token()
        return self._oauth.value, True

    def _token_due(self) -> bool:
        """True when a new token is ready and the session should be replaced (checked between polls).

        A failed refresh keeps the session (its token still works for a while) and is tried again in a minute."""
        t = self._oauth
        now = time.monotonic()
        if not self.account.oauth2_cmd or t is None or now < t.refresh_at or now < self._token_retry_at:
            return False
        try:
            self._oauth = self._fetch_token()
        except ImapRefused as exc:
            self._token_retry_at = now + 60.0
            log.warning(
                "event=imap_oauth2_refresh_failed account=%s detail=%s retry_in=60s",
                self.account.label,
                json.dumps(mask(str(exc), self.account.secrets)),
            )
            return False
        log.info(
            "event=imap_oauth2_refreshed account=%s expires_in=%s",
            self.account.label,
            "unknown" if self._oauth.expires_at is None else f"{self._oauth.expires_at - now:.0f}s",
        )
        return True

    def connect(self) -> IMAPClient:
        """Connect, secure and log in (also used by tests and ``helpline`` diagnostics)."""
        a = self.account
        timeout = SocketTimeout(connect=self.connect_timeout, read=self.read_timeout)
        ctx = self._ssl_context()
        if a.tls == "implicit":
            client = IMAPClient(a.host, a.port, ssl=True, ssl_context=ctx, timeout=timeout)
        else:
            client = IMAPClient(a.host, a.port, ssl=False, timeout=timeout)
            try:
                if client.has_capability("STARTTLS"):
                    client.starttls(ctx)
                elif not _is_loopback(client):
                    raise ImapRefused(
                        f"{a.host}:{a.port} offers no STARTTLS and is not a loopback address: refusing to log in "
                        f"in plain text (use imaps:// or enable STARTTLS on the server)"
                    )
            except BaseException:
                _close(client)
                raise
        fresh = True
        try:
            if a.oauth2_cmd:
                token, fresh = self._login_token()
                client.oauth2_login(a.user, token)
            else:
                client.login(a.user, a.password)
        except LoginError as exc:
            _close(client)
            if a.oauth2_cmd and not fresh:  # e.g. AUTHENTICATIONFAILED: the kept token was revoked or expired early
                log.info("event=imap_oauth2_relogin account=%s reason=kept_token_refused", a.label)
                self._oauth = None
                return self.connect()  # once: the next token is fresh, and a refusal of it is an error
            raise ImapRefused(
                "login refused: " + mask(str(exc), a.secrets + ((self._token,) if self._token else ()))
            ) from None
        except BaseException:
            _close(client)
            raise
        client.normalise_times = False
        _keepalive(client)
        self.stats["connects"] += 1
        return client

    # ---- one connection's life --------------------------------------------------
    def _session(self) -> None:
        client = self.connect()
        self._folders = set()
        try:
            info = client.select_folder(self.account.folder)
            uidvalidity = int(info[b"UIDVALIDITY"])
            uidnext = int(info.get(b"UIDNEXT") or 0)
            self._load_state()
            idle = self.use_idle and client.has_capability("IDLE")
            log.info(
                "event=imap_connected account=%s idle=%s uidvalidity=%d last_uid=%d",
                self.account.label,
                "yes" if idle else "no",
                uidvalidity,
                self.state.last_uid if self.state else 0,
            )
            if self.state is None or self.state.uidvalidity != uidvalidity:
                self._begin_resync(client, uidvalidity, uidnext)
            while True:
                _news(client)  # what the server announced so far is covered by this sync
                self._sync(client, uidvalidity)
                self.backoff_s = self.MIN_BACKOFF_S
                self._succeeded()
                self._check()
                if self._token_due():
                    raise _Reconnect()
                if _news(client):  # mail arrived during the sync, announced in a command's answer: again
                    self.stats["news_before_idle"] += 1
                    continue
                if idle:
                    self._idle(client)
                else:
                    self._pause(client)
        finally:
            self.idling.clear()
            _close(client)

    SUCCESS_EVERY_S = 10.0

    def _succeeded(self) -> None:
        """Note a finished poll for ``helpline imap status`` (at most every few seconds, at once after an error)."""
        now = time.monotonic()
        if not self._failed_since_success and now - self._success_saved < self.SUCCESS_EVERY_S:
            return
        try:
            imap_state.record_success(self.account.key)
        except _DB_DOWN:
            return
        self._success_saved = now
        self._failed_since_success = False

    def _load_state(self) -> None:
        """Take the database's progress, unless ours (kept while the database was away) is further."""
        try:
            stored = imap_state.load_state(self.account.key)
        except _DB_DOWN:
            if self.state is None:
                raise
            return
        mine = self.state
        if mine is not None and self._unsaved:
            return  # ours is newer than what the database has
        if mine is not None and mine.uidvalidity == stored.uidvalidity and mine.last_uid > stored.last_uid:
            stored.last_uid = mine.last_uid
        self.state = stored

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        self.stats["idles"] += 1
        self.idling.set()
        started = time.monotonic()
        news = False
        try:
            while time.monotonic() - started < self.account.idle_minutes * 60:
                try:
                    self._check()
                    if self._token_due():
                        raise _Reconnect()
                except (_Stop, LeaseLost, _Reconnect):
                    client.idle_done()  # leave IDLE cleanly so that LOGOUT is answered
                    raise
                if not _readable(client, 1.0):
                    continue
                for resp in client.idle_check(timeout=0):
                    if len(resp) > 1 and resp[1] in (b"EXISTS", b"RECENT"):
                        news = True
                    elif resp and resp[0] == b"BYE":
                        raise imaplib.IMAP4.abort("server said BYE during IDLE")
                    elif resp and (
                        resp[0] in (b"NO", b"BAD")
                        or (isinstance(resp[-1], bytes) and resp[-1].startswith(b"[UIDVALIDITY"))
                    ):
                        # e.g. Dovecot's "* NO Internal error" when the folder is deleted while selected
                        raise MailboxChanged(f"server said {to_str(resp[0])} during IDLE")
                if news:
                    break
        finally:
            self.idling.clear()
        client.idle_done()

    def _pause(self, client: IMAPClient) -> None:
        deadline = time.monotonic() + self.account.poll_seconds
        while (left := deadline - time.monotonic()) > 0:
            self._check()
            if self._token_due():
                raise _Reconnect()
            self.stop.wait(min(1.0, left))
        _, untagged = client.noop()
        if any(r and r[0] in (b"NO", b"BAD", b"BYE") for r in untagged):
            raise MailboxChanged("server complained during NOOP")

    # ---- what to fetch -------------------------------------------------------------
    def _sync(self, client: IMAPClient, uidvalidity: int) -> None:
        assert self.state is not None
        # A folder deleted and re-created while selected may go unannounced: ask (cheap, once per wake-up).
        now = client.folder_status(self.account.folder, [b"UIDVALIDITY"]).get(b"UIDVALIDITY")
        if now is not None and int(now) != uidvalidity:
            raise MailboxChanged(f"UIDVALIDITY changed from {uidvalidity} to {now}")
        if self.state.resync_until > self.state.last_uid:
            self._resync(client, uidvalidity)
        last = self.state.last_uid
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        todo = [u for u in uids if u not in self._done_above]  # finished earlier, above one that was not
        if todo:
            self._import(client, todo, uidvalidity)
        if self._done_above:
            self._advance(uids, uidvalidity, imported=False)

    def _begin_resync(self, client: IMAPClient, uidvalidity: int, uidnext: int) -> None:
        """No usable progress (first contact, or UIDVALIDITY changed): the messages present now,
        up to a snapshot UID, are re-synced by ``_candidates``; later ones are simply new."""
        old = self.state.uidvalidity if self.state else None
        if not uidnext:
            uidnext = max(client.search(["ALL"]) or [0]) + 1
        snapshot = uidnext - 1
        log.info(
            "event=imap_resync account=%s old_uidvalidity=%s uidvalidity=%d until_uid=%d",
            self.account.label,
            old if old is not None else "none",
            uidvalidity,
            snapshot,
        )
        self.state = imap_state.FolderState(
            uidvalidity, 0, self.state.last_import_at if self.state else None, resync_until=snapshot
        )
        self._done_above = set()
        self._save(uidvalidity, 0, imported=False, resync_until=snapshot)

    def _candidates(self, client: IMAPClient, first: int, until: int) -> list[int]:
        """What a re-sync fetches among UIDs first..until.

        after=move or delete: everything (what Helpline imported is gone from the folder).
        after=seen: what is unseen, plus whatever arrived since a day before the last import
        (mail a person read before Helpline saw it); never years of read mail.
        """
        crit: list[Any] = ["UID", f"{first}:{until}"]
        if self.account.after == "seen":
            last = self.state.last_import_at if self.state else None
            if last is not None:
                crit += ["OR", "UNSEEN", "SINCE", (last - dt.timedelta(days=1)).date()]
            else:
                crit += ["UNSEEN"]
        return sorted(u for u in client.search(crit) if first <= u <= until)

    def _resync(self, client: IMAPClient, uidvalidity: int) -> None:
        assert self.state is not None
        until = self.state.resync_until
        uids = [u for u in self._candidates(client, self.state.last_uid + 1, until) if u not in self._done_above]
        if uids:
            self._import(client, uids, uidvalidity)
        self.state.last_uid = max(self.state.last_uid, until)
        self._done_above = {u for u in self._done_above if u > self.state.last_uid}
        self._save(uidvalidity, self.state.last_uid, imported=False)
        log.info("event=imap_resync_done account=%s candidates=%d", self.account.label, len(uids))

    # ---- importing -----------------------------------------------------------------------
    def _sizes(self, client: IMAPClient, uids: list[int]) -> list[_Item]:
        out: list[_Item] = []
        for i in range(0, len(uids), 500):
            part = uids[i : i + 500]
            data = client.fetch(part, ["RFC822.SIZE"])
            out += [
                _Item(u, int(data[u][b"RFC822.SIZE"]) if u in data and b"RFC822.SIZE" in data[u] else None)
                for u in part
            ]
        return out

    def _import(self, client: IMAPClient, uids: list[int], uidvalidity: int) -> None:
        items = self._sizes(client, uids)
        batch_size = self.batch_size
        i = 0
        while i < len(items):
            self._check()
            chunk: list[_Item] = []
            total = 0
            for it in items[i:]:
                cost = it.size if it.size is not None and it.size <= self.max_bytes else 0
                if chunk and (len(chunk) >= batch_size or total + cost > self.batch_bytes):
                    break
                chunk.append(it)
                total += cost
            key = f"{uidvalidity}:{chunk[0].uid}"
            attempts = self._note_attempt(key)
            if attempts >= 2:  # a batch starting here died before: one message at a time, to find the culprit
                batch_size = 1
                chunk = chunk[:1]
            self._import_chunk(client, chunk, uidvalidity, key=key, poisoned=attempts >= self.MAX_ATTEMPTS)
            i += len(chunk)

    def _note_attempt(self, key: str) -> int:
        try:
            return imap_state.note_attempt(self.account.key, key)
        except _DB_DOWN:
            return 0  # intake will spool; the count resumes when the database is back

    def _import_chunk(
        self, client: IMAPClient, chunk: list[_Item], uidvalidity: int, *, key: str, poisoned: bool
    ) -> None:
        outcome: dict[int, str] = {}  # uid -> imported | quarantine | gone
        failure: BaseException | None = None
        try:
            small = [it.uid for it in chunk if it.size is not None and it.size <= self.max_bytes]
            bodies = client.fetch(small, ["BODY.PEEK[]", "INTERNALDATE"]) if small else {}
            offers: list[tuple[int, Offer]] = []
            special: list[_Item] = []  # too large, or poisoned: recorded as quarantined without intake
            for it in chunk:
                if it.size is None or (it.uid in small and b"BODY[]" not in bodies.get(it.uid, {})):
                    outcome[it.uid] = "gone"  # expunged by someone else meanwhile
                elif it.size > self.max_bytes or poisoned:
                    special.append(it)
                else:
                    when = bodies[it.uid].get(b"INTERNALDATE")
                    received = when.isoformat() if isinstance(when, dt.datetime) and when.tzinfo else None
                    offers.append((it.uid, Offer(bytes(bodies[it.uid][b"BODY[]"]), None, [], received)))
            if offers:
                results = self._accept([o for _, o in offers])
                for (uid, offer), result in zip(offers, results, strict=True):
                    outcome[uid] = self._judge(uid, offer, result)
            for it in special:
                if it.size is not None and it.size > self.max_bytes:
                    self._quarantine_too_large(client, it)
                else:
                    self._record_quarantined(
                        bytes(bodies[it.uid][b"BODY[]"]),
                        "poisoned",
                        f"import did not finish in {self.MAX_ATTEMPTS} attempts; quarantined unparsed",
                    )
                outcome[it.uid] = "quarantine"
        except (TemporaryIntakeError, *_DB_DOWN, OSError, IMAPClientError) as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - a bug: the attempt counts towards quarantine
            log.exception("event=imap_import_failed account=%s uid=%d", self.account.label, chunk[0].uid)
            failure = exc
            key = ""
        # Mark every finished message on the server (each is durable or recorded), then advance
        # the high-water mark over the finished ones in a row; finished UIDs above an unfinished
        # one are remembered (in memory) so that they are not offered again.
        finished = [it for it in chunk if outcome.get(it.uid) in ("imported", "quarantine", "gone")]
        imported = [it.uid for it in finished if outcome[it.uid] == "imported"]
        quarantined = [it.uid for it in finished if outcome[it.uid] == "quarantine"]
        finished_uids = {it.uid for it in finished}
        failed_at = next((it.uid for it in chunk if it.uid not in finished_uids), None)
        if failure is None and failed_at is not None:
            failure = self._retry_reason.get(failed_at) or TemporaryIntakeError("message not made durable")
        self._retry_reason.clear()
        try:
            if quarantined:
                self._move_to_quarantine(client, quarantined)
            if imported:
                self._mark_imported(client, imported)
        except (OSError, IMAPClientError):
            if key:  # the connection broke: an ordinary failure, not the message's fault
                self._clear_attempt(key)
            raise
        self._done_above.update(finished_uids)
        if finished:
            assert self.state is not None and self.state.uidvalidity == uidvalidity
            self._advance(chunk, uidvalidity, imported=bool(imported), count=len(imported))
            self.stats["imported"] += len(imported)
            self.stats["quarantined"] += len(quarantined)
            log.info(
                "event=imap_imported account=%s count=%d quarantined=%d last_uid=%d",
                self.account.label,
                len(imported),
                len(quarantined),
                self.state.last_uid,
            )
        if failure is not None:
            if key:
                self._clear_attempt(key)
            raise failure

    def _advance(
        self, uids_in_order: Iterable[_Item | int], uidvalidity: int, *, imported: bool, count: int = 0
    ) -> None:
        """Move the high-water mark over the leading finished UIDs and save it."""
        assert self.state is not None
        last = self.state.last_uid
        for it in uids_in_order:
            uid = it.uid if isinstance(it, _Item) else it
            if uid <= last:
                continue
            if uid not in self._done_above:
                break
            last = uid
        if last > self.state.last_uid or imported:
            self.state.last_uid = max(self.state.last_uid, last)
            self._done_above = {u for u in self._done_above if u > self.state.last_uid}
            self._save(uidvalidity, self.state.last_uid, imported=imported, count=count)

    def _accept(self, offers: list[Offer]) -> list[IntakeResult | BaseException]:
        batch = getattr(self.intake, "accept_batch", None)
        if batch is not None:
            return batch(offers)
        out: list[IntakeResult | BaseException] = []
        for o in offers:
            try:
                out.append(self.intake.accept(o.raw, o.mail_from, o.rcpt_tos, received_at=o.received_at))
            except (NotAnEmail, TemporaryIntakeError) as exc:
                out.append(exc)
        return out

    def _judge(self, uid: int, offer: Offer, result: IntakeResult | BaseException) -> str:
        """What intake's answer means for the message on the server."""
        if isinstance(result, IntakeResult):
            metrics.INBOUND.labels("imap", result.status).inc()
            self.stats[result.status] += 1
            if result.status == "quarantined":  # kept, unparsed: it must not stay in the folder
                log.warning(
                    "event=imap_quarantined account=%s uid=%d inbound=%s reason=parse_failed",
                    self.account.label,
                    uid,
                    result.inbound_id,
                )
                return "quarantine"
            return "imported"  # accepted, duplicate, or spooled: durable either way
        if isinstance(result, NotAnEmail):
            try:
                self._record_quarantined(offer.raw, "not_an_email", f"not an email: {result}")
            except (TemporaryIntakeError, *_DB_DOWN) as exc:
                result = exc  # not recorded: try again later
            else:
                return "quarantine"
        metrics.INBOUND.labels("imap", "temp_failed").inc()
        self._retry_reason[uid] = result
        return "retry"

    # ---- quarantine ----------------------------------------------------------------------
    def _quarantine_too_large(self, client: IMAPClient, it: _Item) -> None:
        head = b""
        try:
            data = client.fetch([it.uid], ["BODY.PEEK[HEADER]<0.65536>"]).get(it.uid, {})
            head = next((bytes(v) for k, v in data.items() if bytes(k).startswith(b"BODY[HEADER]")), b"")
        except IMAPClientError:
            pass
        self._record_quarantined(
            head, "too_large", f"too large: {it.size} bytes, the limit is {self.max_bytes}", headers_only=True
        )

    def _record_quarantined(self, raw: bytes, warning: str, reason: str, *, headers_only: bool = False) -> None:
        """Keep the message as a quarantined inbound row (with the raw bytes when we have them).

        Raises when that is not possible (database down, blob store not writable): the message
        then stays where it is and is tried again, so that no quarantine goes unrecorded."""
        digest = hashlib.sha256(raw).hexdigest()
        now = dt.datetime.now(dt.timezone.utc)
        env: Envelope | None = None
        if headers_only and raw:
            try:  # the headers of a too-large message: who sent it, about what
                env = normalise_email(
                    raw,
                    put_blob=self.intake.blobs.put,
                    support_addresses=self.intake.settings.support_addresses,
                    received_at=now,
                )
            except Exception:  # noqa: BLE001
                env = None
        if env is None:
            env = Envelope(
                channel="email", external_id="sha256:" + digest, content_hash=digest, received_at=now.isoformat()
            )
        env.warnings = [*env.warnings, warning]
        try:
            key = self.intake.blobs.put(raw) if raw else ""
        except OSError as exc:
            raise TemporaryIntakeError(f"blob store not writable: {exc.strerror}") from exc
        env.raw_blob_key = key

        run_tx(lambda: intake_rows.quarantine(env, key, reason, now.replace(tzinfo=None), HOST), retries=1)
        metrics.INBOUND.labels("imap", "quarantined").inc()
        self.stats["quarantined_rows"] += 1
        log.warning("event=imap_quarantined account=%s reason=%s", self.account.label, warning)

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        if folder in self._folders:
            return
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except IMAPClientError:
                if not client.folder_exists(folder):  # not a race with another client: a real refusal
                    raise
        self._folders.add(folder)

    def _move(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        self._ensure_folder(client, folder)
        if client.has_capability("MOVE"):
            client.move(uids, folder)
        else:
            client.copy(uids, folder)
            client.add_flags(uids, [DELETED], silent=True)
            self._expunge(client, uids)

    def _expunge(self, client: IMAPClient, uids: list[int]) -> None:
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    def _move_to_quarantine(self, client: IMAPClient, uids: list[int]) -> None:
        try:
            self._move(client, uids, self.account.quarantine_folder)
        except IMAPClientError as exc:  # cannot create or move: leave it, marked, and go on
            log.warning(
                "event=imap_quarantine_move_failed account=%s folder=%s error=%s",
                self.account.label,
                json.dumps(self.account.quarantine_folder),
                type(exc).__name__,
            )
            try:
                client.add_flags(uids, [SEEN, QUARANTINE_KEYWORD], silent=True)
            except IMAPClientError:
                client.add_flags(uids, [SEEN], silent=True)

    def _mark_imported(self, client: IMAPClient, uids: list[int]) -> None:
        """Only for messages that are durable in Helpline."""
        if self.account.after == "seen":
            client.add_flags(uids, [SEEN], silent=True)
        elif self.account.after == "move":
            self._move(client, uids, self.account.move_to)
        else:
            client.add_flags(uids, [DELETED], silent=True)
            self._expunge(client, uids)

    # ---- progress ---------------------------------------------------------------------------
    def _save(
        self, uidvalidity: int, last_uid: int, *, imported: bool, resync_until: int | None = None, count: int = 0
    ) -> None:
        if imported and self.state is not None:
            self.state.last_import_at = utcnow()
        try:
            imap_state.save_progress(self.account.key, uidvalidity, last_uid, imported, resync_until, count)
            self._unsaved = False
        except _DB_DOWN:
            self._unsaved = True  # kept in memory; saved with the next batch, or re-fetched and deduped after a restart

    def _clear_attempt(self, key: str) -> None:
        try:
            imap_state.clear_attempt(self.account.key, key)
        except _DB_DOWN:
            pass


def _close(client: IMAPClient) -> None:
    try:
        client.socket().settimeout(5)  # a dead connection must not hold the poller for the read timeout
        client.logout()
    except Exception:  # noqa: BLE001
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


# ---- in the ingest daemon ------------------------------------------------------------------
def accounts_from_settings(settings: Any) -> list[ImapAccount]:
    """The mailboxes to poll: ``HELPLINE_IMAP_ACCOUNTS`` and the configuration file's ``[[imap.accounts]]``.

    Raises ``ConfigError`` for an unusable URL; call it at start-up to fail fast."""
    raw = getattr(settings, "imap_accounts", None)
    if raw is None:
        return imap_settings()
    if isinstance(raw, (list, tuple)) and all(isinstance(a, ImapAccount) for a in raw):
        return list(raw)
    env = {
        "HELPLINE_IMAP_ACCOUNTS": raw if isinstance(raw, str) else ",".join(raw),
        "HELPLINE_CONFIG_FILE": getattr(settings, "config_file", "") or "",
    }  # its [[imap.accounts]]
    for name in ("idle_minutes", "poll_seconds", "lease_seconds", "quarantine_folder"):
        value = getattr(settings, "imap_" + name, None)
        if value not in (None, ""):
            env["HELPLINE_IMAP_" + name.upper()] = str(value)
    return imap_settings(env)


async def run_imap_pollers(
    settings: Any, intake: Any, stop: asyncio.Event, *, accounts: Iterable[ImapAccount] | None = None
) -> None:
    """Poll every configured mailbox, each in a thread of its own, until ``stop`` is set.

    Returns once every poller has finished its batch, left its mailbox and released its lease.
    ``accounts`` defaults to ``accounts_from_settings(settings)``."""
    accounts = list(accounts_from_settings(settings) if accounts is None else accounts)
    if not accounts:
        return
    halt = threading.Event()
    pollers = [
        ImapPoller(a, intake, max_message_bytes=getattr(settings, "max_message_bytes", None), stop=halt)
        for a in accounts
    ]
    log.info("event=imap_pollers_starting mailboxes=%d", len(pollers))
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=len(pollers), thread_name_prefix="imap")
    futures = [loop.run_in_executor(pool, p.run) for p in pollers]
    try:
        await stop.wait()
    finally:
        halt.set()
        await asyncio.gather(*futures, return_exceptions=True)
        pool.shutdown(wait=False)
