"""The SMTP server: aiosmtpd's protocol class, our decisions in a handler.

Two changes to aiosmtpd's DATA phase, made by overriding ``smtp_DATA``:
the message is streamed into a spooled temporary file (memory up to
``HELPLINE_LARGE_MESSAGE_BYTES``, disk beyond), and lines longer than 1,000
bytes are accepted, because real senders send them and bouncing a customer's
mail over RFC pedantry helps nobody. The size limit still applies.
``smtp_DATA`` and ``_getaddr`` are aiosmtpd internals: pyproject.toml pins the
tested release and tests/ingest/test_aiosmtpd_surface.py fails when they change.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from email.errors import HeaderParseError
from email._header_value_parser import get_addr_spec, get_angle_addr
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope as SMTPEnvelope, Session, syntax

from helpline.store.config import Settings

from helpline.ingest.email.normalise import NotAnEmail
from helpline.ingest.batcher import IntakeBatcher
from helpline.ingest.intake import EmailIntake, Offer, SenderRefused, TemporaryIntakeError
from helpline.ingest.conn_limits import ConnectionLimiter, peer_address
from helpline.ingest.channels.smtp_data import BareLineFeed, read_data
from helpline.ingest import metrics

log = logging.getLogger("helpline.ingest")


def is_support_address(address: str, support: frozenset[str]) -> bool:
    """``support@x`` and its plus variants ``support+anything@x``."""
    local, at, domain = address.strip("<>").rpartition("@")
    if not at:
        return False
    return f"{local.split('+', 1)[0]}@{domain}".lower() in support


def unstuff(raw: bytes) -> bytes:
    """Undo SMTP dot-stuffing (RFC 5321 4.5.2): a line starting with ".." loses one dot."""
    raw = raw.replace(b"\r\n..", b"\r\n.")
    return raw[1:] if raw.startswith(b"..") else raw


class Handler:
    def __init__(
        self, settings: Settings, intake: EmailIntake, executor: Any = None, batcher: IntakeBatcher | None = None
    ) -> None:
        self.settings = settings
        self.intake = intake
        self.batcher = batcher
        self.support = frozenset(a.lower() for a in settings.support_addresses)
        self.large = asyncio.Semaphore(max(1, settings.max_large_messages))
        self.executor = executor

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: SMTPEnvelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd's EHLO answer plus PIPELINING (RFC 2920): commands are read one
        line at a time from the stream and DATA never reads past its terminator
        (smtp_data.py), so a client may send MAIL, RCPT and DATA in one packet.
        aiosmtpd's public hook; with it, remembering the name is ours to do."""
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SMTPEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not is_support_address(address, self.support):
            metrics.SMTP_REJECTED.labels("unknown_recipient").inc()
            return "550 5.1.1 No such mailbox here: this server accepts mail for its support addresses only"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SMTPEnvelope) -> str:
        body = envelope.content_file  # type: ignore[attr-defined]
        size = envelope.content_size  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()

        def work() -> Any:
            body.seek(0)
            raw = unstuff(body.read())
            body.close()
            return self.intake.accept(raw, envelope.mail_from, list(envelope.rcpt_tos), refusable=True)

        try:
            if size > self.settings.large_message_bytes:
                async with self.large:  # cap how many big messages are parsed at once
                    result = await loop.run_in_executor(self.executor, work)
            elif self.batcher is not None:  # small: share a group commit
                body.seek(0)
                raw = unstuff(body.read())
                body.close()
                offer = Offer(raw, envelope.mail_from, list(envelope.rcpt_tos), refusable=True)
                result = await asyncio.wrap_future(self.batcher.submit(offer))
            else:
                result = await loop.run_in_executor(self.executor, work)
        except NotAnEmail as exc:
            metrics.INBOUND.labels("email", "rejected").inc()
            return f"554 5.6.0 Message rejected: {exc}"
        except SenderRefused as exc:
            metrics.INBOUND.labels("email", "rejected").inc()
            metrics.SMTP_REJECTED.labels("sender_auth").inc()
            return f"550 5.7.1 Message refused: {exc}"
        except TemporaryIntakeError as exc:
            metrics.INBOUND.labels("email", "temp_failed").inc()
            log.error("event=smtp_tempfail reason=%r", str(exc))
            if exc.storage_full:
                return "452 4.3.1 Insufficient system storage; please retry later"
            return "451 4.3.0 Temporary failure storing the message; please retry later"
        except Exception:
            metrics.INBOUND.labels("email", "temp_failed").inc()
            log.exception("event=smtp_intake_error")
            return "451 4.3.0 Temporary failure storing the message; please retry later"
        metrics.INBOUND.labels("email", result.status).inc()
        if result.status == "duplicate":
            return "250 2.0.0 OK: already have this message"
        return f"250 2.0.0 OK: queued as {result.inbound_id or 'spool'}"


# Commands that move no mail: enough for any real client, too few to keep a session alive forever.
JUNK_LIMITS = {"NOOP": 20, "RSET": 1000, "VRFY": 5, "EXPN": 5, "HELP": 5, "*": 1 << 30}


class HelplineSMTP(SMTP):
    line_length_limit = 1 << 16  # the StreamReader's buffer; DATA lines may still be longer
    _spool_threshold: int  # bytes of DATA kept in memory before the body goes to a temporary file; set by the factory
    _limiter: ConnectionLimiter | None = None
    _data_timeout: float | None = None
    _address: str | None = None  # set once the connection is admitted
    _refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._address is None and not self._refused:  # a new connection, not the TLS layer after STARTTLS
            address = peer_address(transport)
            reason = self._limiter.admit(address) if self._limiter is not None else ""
            if reason:  # answered before aiosmtpd starts a session at all
                self._refused = True
                metrics.SMTP_REJECTED.labels("too_many_connections").inc()
                log.warning("event=smtp_connection_refused reason=%r", reason)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"421 4.7.0 {self.hostname} {reason}; try again later\r\n".encode())
                transport.close()
                return
            self._address = address
            metrics.SMTP_SESSIONS.inc()
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        if self._address is not None:
            metrics.SMTP_SESSIONS.dec()
            if self._limiter is not None:
                self._limiter.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's own parse of a MAIL/RCPT address, minus the ``typing.Protocol``
        class it defines on every call (a tenth of the daemon's CPU per message)."""
        if not arg:
            return "", ""
        try:
            address, rest = get_angle_addr(arg) if arg.lstrip().startswith("<") else get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    async def _read_body(self, body: Any, limit: int | None) -> tuple[int, bool]:
        """Copy the DATA section into ``body`` (still dot-stuffed); past ``limit``
        bytes keep reading to the terminator but store nothing (smtp_data.py)."""
        kept = [0]

        def write(piece: bytes) -> None:
            if not limit or kept[0] + len(piece) <= limit:
                body.write(piece)
            kept[0] += len(piece)

        size = await read_data(self._reader, write)
        return size, bool(limit and size > limit)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limit = self.data_size_limit
        body = tempfile.SpooledTemporaryFile(max_size=self._spool_threshold)
        if self._data_timeout:  # the whole message within this, however slowly it trickles
            self._reset_timeout(self._data_timeout)
        try:
            size, too_big = await self._read_body(body, limit)
        except (ConnectionError, asyncio.CancelledError):
            body.close()
            self._writer.close()
            raise
        except BareLineFeed as exc:  # the rest of DATA is unread: no way back in step, so hang up
            body.close()
            metrics.SMTP_REJECTED.labels("bare_lf").inc()
            await self.push(f"554 5.5.2 Message refused: {exc}; closing the connection")
            self._writer.close()
            return
        self._reset_timeout()  # the next command's deadline
        if too_big:
            body.close()
            metrics.SMTP_REJECTED.labels("too_large").inc()
            await self.push(f"552 5.3.4 Message too big: the limit is {limit} bytes")
            self._set_post_data_state()
            return
        self.envelope.content_file = body  # type: ignore[attr-defined]
        self.envelope.content_size = size  # type: ignore[attr-defined]
        self.envelope.content = b""
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.smtp_tls_cert and settings.smtp_tls_key):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
    return ctx


def make_factory(settings: Settings, handler: Handler):  # noqa: ANN201
    tls = tls_context(settings)
    hostname = settings.mail_domain
    limiter = ConnectionLimiter(
        settings.smtp_max_connections, settings.smtp_max_connections_per_ip, settings.smtp_trusted_relays
    )

    def factory() -> HelplineSMTP:
        # aiosmtpd's timer restarts only when a whole valid command arrived, so
        # ``timeout`` bounds idle time plus the time to send one command.
        server = HelplineSMTP(
            handler,
            data_size_limit=settings.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident="Helpline ESMTP",
            tls_context=tls,
            require_starttls=False,
            timeout=settings.smtp_command_timeout_s,
            command_call_limit=JUNK_LIMITS,
        )
        server._spool_threshold = settings.large_message_bytes
        server._limiter = limiter
        server._data_timeout = settings.smtp_data_timeout_s
        return server

    return factory
