"""A small userspace TCP proxy that adds latency and drops connections: a bad network between two hosts.

This kernel has no ``netem``, so latency and loss are made in userspace: the
proxy runs on one host (inside its namespace), accepts connections on a local
port, and forwards each to the target after ``delay_s`` per chunk in each
direction. Loss: a database client keeps a few long-lived connections, so
dropping a share of connections at connect time would drop none; instead each
forwarded chunk resets its connection with probability ``drop_ratio``
(mid-query, as a flaky link does), which with 1 % resets a busy connection
every hundred round trips.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable


class Stats:
    def __init__(self) -> None:
        self.connections = 0
        self.dropped = 0
        self.bytes = 0


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    stats: Stats,
    maybe_reset: Callable[[], bool],
) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            await asyncio.sleep(delay)
            if maybe_reset():
                break
            stats.bytes += len(chunk)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def serve(
    listen_port: int, target: tuple[str, int], delay_s: float, drop_ratio: float, stats_file: str, seed: int = 7
) -> None:
    rng = random.Random(seed)
    stats = Stats()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        stats.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        reset = asyncio.Event()

        def maybe_reset() -> bool:
            if rng.random() < drop_ratio:
                stats.dropped += 1
                reset.set()
                for w in (client_w, server_w):
                    if w.transport is not None:
                        w.transport.abort()  # a reset, not a clean close
                return True
            return False

        await asyncio.gather(
            _pipe(client_r, server_w, delay_s, stats, maybe_reset),
            _pipe(server_r, client_w, delay_s, stats, maybe_reset),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        while not stop.is_set():
            Path(stats_file).write_text(
                json.dumps({"connections": stats.connections, "dropped": stats.dropped, "bytes": stats.bytes})
            )
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except asyncio.TimeoutError:
                pass


class ProxyHandle:
    def __init__(self, stats_file: Path) -> None:
        self.stats_file = stats_file

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads(self.stats_file.read_text())
        except (OSError, ValueError):
            return {}


def start_proxy_on(
    run: Any, host: str, *, listen_port: int, target: tuple[str, int], delay_s: float, drop_ratio: float
) -> ProxyHandle:
    stats = run.workdir / f"proxy-{host}.json"
    run.cluster.spawn(
        run.host(host),
        [
            sys.executable,
            "-m",
            "tests.cluster.proxy",
            "--port",
            str(listen_port),
            "--target",
            f"{target[0]}:{target[1]}",
            "--delay-s",
            str(delay_s),
            "--drop-ratio",
            str(drop_ratio),
            "--stats",
            str(stats),
        ],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        log=str(run.log_dir / "proxy.log"),
    )
    deadline = time.monotonic() + 20
    while not stats.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the proxy did not start")
        time.sleep(0.2)
    return ProxyHandle(stats)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--delay-s", type=float, default=0.1)
    p.add_argument("--drop-ratio", type=float, default=0.01)
    p.add_argument("--stats", required=True)
    a = p.parse_args()
    host, port = a.target.rsplit(":", 1)
    asyncio.run(serve(a.port, (host, int(port)), a.delay_s, a.drop_ratio, a.stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
