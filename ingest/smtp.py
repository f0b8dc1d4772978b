"""The SMTP server: aiosmtpd's protocol class, our decisions in a handler.

Two changes to aiosmtpd's DATA phase, made by overriding ``smtp_DATA``:
the message is streamed into a spooled temporary file (memory up to
``HELPLINE_LARGE_MESSAGE_BYTES``, disk beyond), and lines longer than 1,000
bytes are accepted, because real senders send them and bouncing a customer's
mail over RFC pedantry helps nobody. The size limit still applies.
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

from .email.normalise import NotAnEmail
from .batcher import IntakeBatcher
from .intake import EmailIntake, Offer, TemporaryIntakeError
from . import metrics

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
    def __init__(self, settings: Settings, intake: EmailIntake, executor: Any = None,
                 batcher: IntakeBatcher | None = None) -> None:
        self.settings = settings
        self.intake = intake
        self.batcher = batcher
        self.support = frozenset(a.lower() for a in settings.support_addresses)
        self.large = asyncio.Semaphore(max(1, settings.max_large_messages))
        self.executor = executor

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: SMTPEnvelope, address: str,
                          rcpt_options: list[str]) -> str:
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
            return self.intake.accept(raw, envelope.mail_from, list(envelope.rcpt_tos))

        try:
            if size > self.settings.large_message_bytes:
                async with self.large:  # cap how many big messages are parsed at once
                    result = await loop.run_in_executor(self.executor, work)
            elif self.batcher is not None:  # small: share a group commit
                body.seek(0)
                raw = unstuff(body.read())
                body.close()
                offer = Offer(raw, envelope.mail_from, list(envelope.rcpt_tos))
                result = await asyncio.wrap_future(self.batcher.submit(offer))
            else:
                result = await loop.run_in_executor(self.executor, work)
        except NotAnEmail as exc:
            metrics.INBOUND.labels("email", "rejected").inc()
            return f"554 5.6.0 Message rejected: {exc}"
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


class HelplineSMTP(SMTP):
    line_length_limit = 1 << 16  # the StreamReader's buffer; DATA lines may still be longer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        metrics.SMTP_SESSIONS.inc()
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        metrics.SMTP_SESSIONS.dec()
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
        """Copy the DATA section into ``body`` (still dot-stuffed) in 64 KiB reads.

        Scanning whole chunks for the ``CRLF.CRLF`` terminator costs a fraction
        of aiosmtpd's line-by-line loop and has no line-length limit. Bytes the
        client sent after the terminator go back to the reader for the next
        command (aiosmtpd handles its reader's buffer the same way).
        """
        size, too_big = 0, False
        tail = b"\r\n"  # the CRLF that ended "DATA": an empty message is just ".\r\n"
        while True:
            chunk = await self._reader.read(1 << 16)
            if not chunk:
                raise ConnectionResetError("connection closed during DATA")
            data = tail + chunk
            end = data.find(b"\r\n.\r\n")
            stop = max(len(tail), end + 2) if end >= 0 else len(data)
            piece = data[len(tail):stop]
            size += len(piece)
            if limit and size > limit:
                too_big = True
            if not too_big:
                body.write(piece)
            if end >= 0:
                rest = data[end + 5:]
                if rest:
                    self._reader._buffer[0:0] = rest  # type: ignore[attr-defined]  # noqa: SLF001
                return size, too_big
            tail = data[-4:]

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
        try:
            size, too_big = await self._read_body(body, limit)
        except (ConnectionError, asyncio.CancelledError):
            body.close()
            self._writer.close()
            raise
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

    def factory() -> HelplineSMTP:
        server = HelplineSMTP(
            handler, data_size_limit=settings.max_message_bytes, enable_SMTPUTF8=True, decode_data=False,
            hostname=hostname, ident="Helpline ESMTP", tls_context=tls, require_starttls=False, timeout=300,
        )
        server._spool_threshold = settings.large_message_bytes  # type: ignore[attr-defined]
        return server

    return factory
