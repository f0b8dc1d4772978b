"""Outbound email through the upstream SMTP relay, with smtplib.

One connection per thread, kept open across sends (the relay's TLS and login
cost more than a message), checked with NOOP after 30 s idle and re-opened
when the relay has hung up. Failures are classified by SMTP reply class: 4xx
and network trouble are temporary, 5xx permanent.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from email.utils import getaddresses
from functools import lru_cache
from typing import Any, Callable

from helpline.store.storage.blobs import BlobStore, open_store
from helpline.store.config import Settings, parse_hostport

from helpline.notifier.addresses import addr_spec, bare
from helpline.notifier.errors import OutcomeUnknown, PermanentFailure, RelayUnavailable, TemporaryFailure
from helpline.notifier.logkv import line, log
from helpline.notifier.templates import render_bytes

IDLE_CHECK_S = 30.0


def _reply_text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())[:300]


def _classify(code: int, resp: bytes | str, stage: str) -> TemporaryFailure | PermanentFailure:
    """An exception for an SMTP error reply ``code`` received at ``stage``."""
    text = f"{code} {_reply_text(resp)}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(f"relay answered {text} to {stage}; will retry with back-off")
    if 500 <= code < 600:
        return PermanentFailure(
            f"relay refused the message at {stage}: {text}; check the recipient address and the relay's policy"
        )
    return TemporaryFailure(f"relay answered unexpectedly {text} to {stage}; will retry")


class _Conn:
    __slots__ = ("smtp", "last_used")

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.last_used = time.monotonic()


class EmailSender:
    """Sends outbox email payloads through ``settings.smtp_relay``."""

    channel = "email"
    unconfigured_hint = "set HELPLINE_SMTP_RELAY"

    def __init__(self, settings: Settings, *, timeout: float = 30.0, idle_check_s: float = IDLE_CHECK_S) -> None:
        self._relay = settings.smtp_relay.strip()
        self._host, self._port = parse_hostport(self._relay, 25) if self._relay else ("", 0)
        self._user = settings.smtp_relay_user
        self._password = settings.smtp_relay_password
        self._starttls = settings.smtp_relay_starttls
        self._timeout = timeout
        self._idle_check_s = idle_check_s
        self._helo = _helo_name(settings.mail_domain)
        self._local = threading.local()
        self._blob_where = (settings.blob_backend, settings.effective_blob_dir)
        self._blobs: BlobStore | None = None
        self._settings = settings

    def __repr__(self) -> str:  # never show the password
        return f"EmailSender(relay={self._relay!r}, user={self._user!r}, starttls={self._starttls})"

    @property
    def configured(self) -> bool:
        """False without a relay: mail then waits in the outbox instead of failing."""
        return bool(self._relay)

    # ---- connection ---------------------------------------------------
    def _connect(self) -> smtplib.SMTP:
        where = f"{self._host}:{self._port}"
        try:
            smtp = smtplib.SMTP(self._host, self._port, local_hostname=self._helo, timeout=self._timeout)
        except smtplib.SMTPConnectError as exc:
            raise RelayUnavailable(
                f"relay {where} refused the connection ({exc.smtp_code} {_reply_text(exc.smtp_error)}); will retry"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayUnavailable(
                f"relay {where} unreachable ({type(exc).__name__}: {exc}); check HELPLINE_SMTP_RELAY and that the relay is running; will retry"
            ) from None
        try:
            smtp.ehlo()
            if self._starttls:
                if not smtp.has_extn("starttls"):
                    raise RelayUnavailable(
                        f"relay {where} does not offer STARTTLS; set HELPLINE_SMTP_RELAY_STARTTLS=false or fix the relay"
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self._user:
                try:
                    smtp.login(self._user, self._password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise RelayUnavailable(
                        f"relay {where} rejected the login of user {self._user!r} ({exc.smtp_code}); "
                        "check HELPLINE_SMTP_RELAY_USER and HELPLINE_SMTP_RELAY_PASSWORD"
                    ) from None
                except smtplib.SMTPNotSupportedError:
                    raise RelayUnavailable(
                        f"relay {where} offers no AUTH on this connection; enable HELPLINE_SMTP_RELAY_STARTTLS or unset HELPLINE_SMTP_RELAY_USER"
                    ) from None
        except RelayUnavailable:
            _close_quietly(smtp)
            raise
        except ssl.SSLError as exc:
            _close_quietly(smtp)
            raise RelayUnavailable(
                f"TLS with relay {where} failed ({exc.reason or type(exc).__name__}); check its certificate"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close_quietly(smtp)
            raise RelayUnavailable(f"relay {where} failed during greeting ({type(exc).__name__}); will retry") from None
        log.info(line("smtp_connected", relay=where, starttls=self._starttls, auth=bool(self._user)))
        return smtp

    def _connection(self) -> tuple[smtplib.SMTP, bool]:
        """This thread's connection, and whether it is reused (may have gone stale)."""
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is not None and time.monotonic() - conn.last_used >= self._idle_check_s:
            try:
                code, _ = conn.smtp.noop()
                ok = code == 250
            except (OSError, smtplib.SMTPException):
                ok = False
            if not ok:
                self.close()
                conn = None
        if conn is not None:
            return conn.smtp, True
        smtp = self._connect()
        self._local.conn = _Conn(smtp)
        return smtp, False

    def close(self) -> None:
        """Close this thread's connection (QUIT), if any."""
        conn: _Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.smtp.quit()
            except (OSError, smtplib.SMTPException):
                _close_quietly(conn.smtp)

    # ---- sending ------------------------------------------------------
    def send(self, payload: dict[str, Any]) -> str:
        """Send one payload; return the relay's final reply, e.g. ``250 2.0.0 queued as 12``.

        A reused connection that turns out dead before the message was handed
        over is re-opened once and the message tried again. Once the whole
        message and its final dot were sent, a timeout or a dropped connection
        is the unknowable case (a slow relay may have taken it): ``OutcomeUnknown``,
        never an immediate resend. smtplib reports a read timeout as
        ``SMTPServerDisconnected``, so the phase, not the exception, decides.
        """
        if not self.configured:
            raise RelayUnavailable("no relay configured (HELPLINE_SMTP_RELAY is empty); mail stays in the outbox")
        if payload.get("attachments"):
            self._scanned(payload["attachments"])
        mail_from, rcpts, data = _prepare(payload, self._blob if payload.get("attachments") else None)
        for _ in range(2):
            smtp, reused = self._connection()
            handed_over = [False]
            try:
                reply = self._transaction(smtp, mail_from, rcpts, data, handed_over)
            except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout) as exc:
                self._drop()
                if handed_over[0]:
                    log.warning(
                        line("smtp_outcome_unknown", relay=f"{self._host}:{self._port}", error=type(exc).__name__)
                    )
                    raise OutcomeUnknown(
                        f"relay {self._host}:{self._port} took the whole message but did not answer its end "
                        f"({type(exc).__name__}); it may have been delivered, so it is not resent: check with "
                        "the recipient or the relay's log"
                    ) from None
                if reused and not isinstance(exc, socket.timeout):
                    continue
                raise TemporaryFailure(
                    f"relay {self._host}:{self._port} dropped the connection during the send ({type(exc).__name__}); will retry"
                ) from None
            except OSError as exc:
                self._drop()
                if handed_over[0]:
                    raise OutcomeUnknown(
                        f"network error after the message was handed to relay {self._host}:"
                        f"{self._port} ({type(exc).__name__}); it may have been delivered"
                    ) from None
                raise TemporaryFailure(
                    f"network error talking to relay {self._host}:{self._port} ({type(exc).__name__}); will retry"
                ) from None
            except smtplib.SMTPException as exc:
                self._drop()
                raise TemporaryFailure(
                    f"SMTP error with relay {self._host}:{self._port} ({type(exc).__name__}); will retry"
                ) from None
            self._local.conn.last_used = time.monotonic()
            return reply
        raise AssertionError("unreachable")

    def _scanned(self, files: list[dict[str, Any]]) -> None:
        """With HELPLINE_CLAMD_SOCKET, an agent's file goes out only once clamd found it clean: a withheld one
        fails the reply (the agent is told), clamd down makes it wait (``store/storage/attachment_scan.py``)."""
        from helpline.store.storage import attachment_scan
        from helpline.store.storage import clamd

        if not attachment_scan.enabled(self._settings):
            return
        for item in files:
            try:
                verdict = attachment_scan.ensure_blob(self._settings, str(item.get("blob_key") or ""))
            except clamd.ClamdUnavailable as exc:
                raise TemporaryFailure(f"the virus scanner is unavailable ({exc}); the reply waits for it") from None
            if verdict is not None and verdict.status != clamd.CLEAN:
                why = attachment_scan.withheld_reason(verdict.status, verdict.detail)
                raise PermanentFailure(f"{item.get('filename') or 'a file'}: {why}; the reply was not sent")

    def _blob(self, key: str) -> bytes:
        """An attachment's bytes (an agent's file from Slack), from the blob store opened on first use."""
        if self._blobs is None:
            self._blobs = open_store(*self._blob_where)
        return self._blobs.get(key)

    def _drop(self) -> None:
        conn: _Conn | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            _close_quietly(conn.smtp)

    def _transaction(
        self, smtp: smtplib.SMTP, mail_from: str, rcpts: list[str], data: bytes, handed_over: list[bool]
    ) -> str:
        """MAIL, RCPT, DATA by hand: ``sendmail`` would discard the relay's queue id, and
        ``handed_over[0]`` turns true once the message's final dot was sent."""
        try:
            code, resp = _command(smtp, "mail", "FROM:", mail_from)
            if code != 250:
                raise _classify(code, resp, "MAIL FROM")
            for rcpt in rcpts:
                code, resp = _command(smtp, "rcpt", "TO:", rcpt)
                if code not in (250, 251):
                    raise _classify(code, resp, "RCPT TO")
            code, resp = _data(smtp, data, handed_over)
            if code != 250:
                raise _classify(code, resp, "end of DATA")
        except (TemporaryFailure, PermanentFailure):
            self._reset(smtp)
            raise
        except smtplib.SMTPResponseException as exc:  # raised by data() for a bad DATA reply
            self._reset(smtp)
            raise _classify(exc.smtp_code, exc.smtp_error, "DATA") from None
        return f"{code} {_reply_text(resp)}".strip()

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """Leave the kept connection ready for the next message, or drop it."""
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


def _prepare(payload: dict[str, Any], blob: Callable[[str], bytes] | None = None) -> tuple[str, list[str], bytes]:
    """Envelope sender, recipients and wire bytes; a payload we cannot encode fails for good."""
    try:
        data = render_bytes(payload, blob)
    except (KeyError, ValueError, TypeError, UnicodeError) as exc:
        raise PermanentFailure(
            f"the outbox payload cannot be turned into an email ({type(exc).__name__}: {exc})"
        ) from None
    values = [payload.get("to"), payload.get("cc")]
    flat: list[str] = []
    for v in values:
        if isinstance(v, (list, tuple)):
            flat.extend(str(x) for x in v if x)
        elif v:
            flat.append(str(v))
    rcpts = [a for v in flat for a in _addresses(v)]
    if not rcpts:
        raise PermanentFailure("the outbox payload has no recipient address")
    mail_from = addr_spec(str(payload.get("envelope_from") or payload["from"]))
    for addr in [mail_from, *rcpts]:
        if not addr.isascii():
            raise PermanentFailure("a non-ASCII address needs SMTPUTF8, which Helpline does not use yet")
    return mail_from, rcpts, data


@lru_cache(maxsize=8192)  # the stdlib address parser is slow and most sends go to few distinct headers
def _addresses(value: str) -> tuple[str, ...]:
    if bare(value.strip()):
        return (value.strip(),)
    return tuple(a for _n, a in getaddresses([value]) if a)


def _command(smtp: smtplib.SMTP, verb: str, arg: str, addr: str) -> tuple[int, bytes]:
    """MAIL FROM / RCPT TO. smtplib's ``mail``/``rcpt`` re-parse the address with
    email.utils on every call; ours are bare and ASCII already (``_prepare``)."""
    smtp.putcmd(verb, f"{arg}<{addr}>")
    return smtp.getreply()


def _data(smtp: smtplib.SMTP, data: bytes, handed_over: list[bool]) -> tuple[int, bytes]:
    """``smtplib.SMTP.data`` in its two phases, so a failure after the message's end is known as such."""
    smtp.putcmd("data")
    code, repl = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, repl)
    q = smtplib._quote_periods(data)  # noqa: SLF001 - what data() does
    if q[-2:] != smtplib.bCRLF:
        q += smtplib.bCRLF
    smtp.send(q + b"." + smtplib.bCRLF)
    handed_over[0] = True
    return smtp.getreply()


def _helo_name(mail_domain: str) -> str:
    """Our EHLO name without a DNS look-up (``socket.getfqdn`` can hang for seconds)."""
    name = socket.gethostname()
    return name if "." in name else (mail_domain or "localhost")


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass
