"""A local SMTP server that stands in for the upstream relay (bench and tests).

It speaks real SMTP through aiosmtpd, so Helpline's real SMTP client runs
unchanged; it only keeps what it received, and can be told to answer with a
temporary or permanent error to exercise retries.
"""

from __future__ import annotations

import asyncio
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
            self.sink.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
            )
            self.sink.cond.notify_all()
        if self.sink.answer_delay_s:  # a slow relay: it has the message, its answer comes late
            await asyncio.sleep(self.sink.answer_delay_s)
        return "250 2.0.0 queued as %d" % len(self.sink.received)


class RelaySink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self.cond = threading.Condition()
        self.fail_with: str | None = None
        self.answer_delay_s = 0.0
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


class ProcessRelaySink:
    """The same sink in a process of its own, so that a benchmark's client
    threads and the sink do not share one interpreter lock. ``received`` is
    refreshed from the sink process on each access."""

    def __init__(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue()
        self._ready = ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(self._queue, self._ready, self._stop), daemon=True)
        self._received: list[Received] = []
        self.address = ""

    def start(self) -> "ProcessRelaySink":
        self._proc.start()
        self.address = self._ready.get(timeout=30)
        return self

    @property
    def received(self) -> list[Received]:
        import queue

        while True:
            try:
                self._received.append(Received(*self._queue.get_nowait()))
            except queue.Empty:
                return self._received

    def stop(self) -> None:
        self._stop.set()
        try:
            self.cpu_s = round(self._ready.get(timeout=10), 2)  # the sink's CPU seconds
        except Exception:
            self.cpu_s = 0.0
        self._proc.join(10)


def _serve(out, ready, stop) -> None:  # noqa: ANN001 - runs in the sink process
    class Forward(_Handler):
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
            out.put((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            return "250 2.0.0 queued"

    sink = RelaySink()
    sink.controller.handler = Forward(sink)
    sink.start()
    ready.put(sink.address)
    stop.wait()
    sink.stop()
    import os

    times = os.times()
    ready.put(times.user + times.system)
