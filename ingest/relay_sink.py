"""A local SMTP server that stands in for the upstream relay (bench and tests).

It speaks real SMTP through aiosmtpd, so Helpline's real SMTP client runs
unchanged; it only keeps what it received, and can be told to answer with a
temporary or permanent error to exercise retries.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, sink: "RelaySink") -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001 - aiosmtpd's duck-typed hook
        if self.sink.fail_with:
            return self.sink.fail_with
        with self.sink.cond:
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            self.sink.cond.notify_all()
        return "250 2.0.0 queued as %d" % len(self.sink.received)


class RelaySink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self.cond = threading.Condition()
        self.fail_with: str | None = None
        self.controller = Controller(_Handler(self), hostname=host, port=port or _free_port(host))

    @property
    def address(self) -> str:
        return f"{self.controller.hostname}:{self.controller.port}"

    def start(self) -> "RelaySink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"relay sink got {len(self.received)} messages, expected {count}")
                self.cond.wait(left)
            return list(self.received)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
