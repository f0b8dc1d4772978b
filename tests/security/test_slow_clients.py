"""Connection caps and slow clients against the real ingest daemon (issue 12 item 5).

A slowloris client trickles bytes so that no read ever times out; the caps stop
one address (or everyone together) from holding every descriptor. Trusted
relays and proxies (Postfix, a reverse proxy) are exempt from the per-address
caps only.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from helpline.ingest.conn_limits import AddressSet, ConnectionLimiter
from helpline.store import db, migrations
from helpline.store import models as m
from tests.conftest import make_settings
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until


def _stack(tmp_path_factory, embedded_redis, **over) -> Stack:
    tmp = tmp_path_factory.mktemp("slow")
    settings = make_settings(
        tmp,
        database_url=f"sqlite:///{tmp}/helpline.sqlite3",
        broker_url=embedded_redis.url + "?db=0",
        queue_name="slow-" + uuid.uuid4().hex[:8],
        **over,
    )
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    migrations.upgrade()
    stack = Stack(settings, tmp).start_ingest()
    wait_until(lambda: _http_up(stack), 20, what="the HTTP listener")
    return stack


def _http_up(stack: Stack) -> bool:
    try:
        return _get(stack).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture(scope="module")
def strict(tmp_path_factory, embedded_redis):
    """Caps of 3 per address with no exemptions, and deadlines of a few seconds."""
    s = _stack(
        tmp_path_factory,
        embedded_redis,
        smtp_max_connections_per_ip=3,
        smtp_trusted_relays=(),
        smtp_command_timeout_s=2.0,
        smtp_data_timeout_s=3.0,
        http_max_connections_per_ip=3,
        http_trusted_proxies=(),
        http_header_timeout_s=2.0,
    )
    yield s
    s.stop()
    db.database().close()


@pytest.fixture(scope="module")
def behind_proxies(tmp_path_factory, embedded_redis):
    """Loopback is the trusted relay and proxy: per-address caps of 2 do not apply, totals of 6 do."""
    s = _stack(
        tmp_path_factory,
        embedded_redis,
        smtp_max_connections_per_ip=2,
        smtp_max_connections=6,
        smtp_trusted_relays=("127.0.0.1",),
        http_max_connections_per_ip=2,
        http_max_connections=6,
        http_trusted_proxies=("127.0.0.0/8",),
    )
    yield s
    s.stop()
    db.database().close()


def _http_port(stack: Stack) -> int:
    return int(stack.settings.http_listen.rsplit(":", 1)[1])


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _get(stack: Stack, sock: socket.socket | None = None) -> bytes:
    own = sock is None
    sock = sock or _connect(_http_port(stack))
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: helpline.test\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        if own:
            sock.close()


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"", every: float = 0.4) -> float:
    """Trickle ``trickle`` one byte at a time; how long until the server closed the connection."""
    start = time.monotonic()
    sock.settimeout(every)
    i = 0
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            pass
        except ConnectionResetError:
            return time.monotonic() - start
        if trickle:
            try:
                sock.sendall(trickle[i % len(trickle) : i % len(trickle) + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
            i += 1
    raise AssertionError(f"the server kept the connection open for {seconds}s")


# ---- SMTP -------------------------------------------------------------------------------------------
def test_smtp_per_address_cap_answers_421_and_frees_the_slot(strict):
    held = [_connect(strict.smtp_port) for _ in range(3)]
    try:
        assert all(_line(s).startswith(b"220") for s in held)
        extra = _connect(strict.smtp_port)
        assert _line(extra).startswith(b"421 4.7.0")
        assert extra.recv(10) == b""  # and closed
        extra.close()
        held.pop().close()
        time.sleep(0.3)
        again = _connect(strict.smtp_port)
        assert _line(again).startswith(b"220")
        held.append(again)
    finally:
        for s in held:
            s.close()


def test_smtp_command_trickled_one_byte_at_a_time_is_cut_off(strict):
    sock = _connect(strict.smtp_port)
    try:
        assert _line(sock).startswith(b"220")
        # never completes a command: each byte arrives well within any per-read timeout
        took = _closed_within(sock, 10, trickle=b"EHLO slow.example.org and on and on ")
        assert took < 5
    finally:
        sock.close()


def test_smtp_idle_connection_is_closed(strict):
    sock = _connect(strict.smtp_port)
    try:
        assert _line(sock).startswith(b"220")
        assert _closed_within(sock, 10) < 5
    finally:
        sock.close()


def test_smtp_noop_every_second_cannot_keep_a_session_forever(strict):
    sock = _connect(strict.smtp_port)
    try:
        assert _line(sock).startswith(b"220")
        answers = []
        for _ in range(25):
            sock.sendall(b"NOOP\r\n")
            answers.append(_line(sock))
            if not answers[-1].startswith(b"250"):
                break
        assert answers[-1].startswith(b"421") and len(answers) == 21
    finally:
        sock.close()


def test_smtp_data_trickled_is_cut_off_at_the_data_deadline(strict):
    sock = _connect(strict.smtp_port)
    try:
        assert _line(sock).startswith(b"220")
        for cmd, code in (
            (b"HELO t.example", b"250"),
            (b"MAIL FROM:<a@example.org>", b"250"),
            (b"RCPT TO:<support@example.com>", b"250"),
            (b"DATA", b"354"),
        ):
            sock.sendall(cmd + b"\r\n")
            assert _line(sock).startswith(code)
        # one byte every 0.4 s: the 2 s command deadline would never fire on its own during DATA
        took = _closed_within(sock, 12, trickle=b"Subject: slow\r\n\r\nline\r\n")
        assert 2.5 < took < 6
    finally:
        sock.close()


def test_smtp_a_normal_message_still_goes_through(strict):
    raw, mid = make_mail()
    sock = _connect(strict.smtp_port)
    try:
        assert _line(sock).startswith(b"220")
        for cmd in (b"HELO t.example", b"MAIL FROM:<alice@example.org>", b"RCPT TO:<support@example.com>"):
            sock.sendall(cmd + b"\r\n")
            assert _line(sock).startswith(b"250")
        sock.sendall(b"DATA\r\n")
        assert _line(sock).startswith(b"354")
        sock.sendall(raw + b"\r\n.\r\n")
        assert _line(sock).startswith(b"250")
    finally:
        sock.close()
    wait_until(lambda: m.Inbound.get_or_none(m.Inbound.external_id == mid.strip("<>")), 10)


def test_smtp_trusted_relay_is_exempt_from_the_per_address_cap_not_the_total(behind_proxies):
    held = [_connect(behind_proxies.smtp_port) for _ in range(6)]
    try:
        assert all(_line(s).startswith(b"220") for s in held)  # 6 from one address, cap per address is 2
        extra = _connect(behind_proxies.smtp_port)
        assert _line(extra).startswith(b"421 4.7.0")  # the total of 6 holds for everyone
        extra.close()
    finally:
        for s in held:
            s.close()


# ---- HTTP -------------------------------------------------------------------------------------------
def test_http_per_address_cap_answers_503(strict):
    port = _http_port(strict)
    held = [_connect(port) for _ in range(3)]
    try:
        time.sleep(0.2)
        extra = _connect(port)
        extra.sendall(b"GET / HTTP/1.1\r\nHost: helpline.test\r\n\r\n")
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in answer
        extra.close()
        held.pop().close()
        time.sleep(0.3)
        assert _get(strict).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()


def test_http_connection_that_never_sends_a_request_is_closed(strict):
    sock = _connect(_http_port(strict))
    try:
        assert _closed_within(sock, 10) < 5
    finally:
        sock.close()


def test_http_headers_trickled_are_cut_off(strict):
    sock = _connect(_http_port(strict))
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: helpline.test\r\n")
        assert _closed_within(sock, 10, trickle=b"X-Slow: abcdefghijklmnop\r\n") < 5
    finally:
        sock.close()


def test_http_slow_second_request_on_a_kept_alive_connection_is_cut_off(strict):
    sock = _connect(_http_port(strict))
    try:
        assert _get(strict, sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert _closed_within(sock, 10, trickle=b"X-Slow: abcdefghijklmnop\r\n") < 5
    finally:
        sock.close()


def test_http_trusted_proxy_is_exempt_from_the_per_address_cap_not_the_total(behind_proxies):
    port = _http_port(behind_proxies)
    held = [_connect(port) for _ in range(5)]
    try:
        for s in held[:4]:
            assert _get(behind_proxies, s).startswith(b"HTTP/1.1 200")  # kept alive, 4 > 2 per address
        sixth = _connect(port)
        assert _get(behind_proxies, sixth).startswith(b"HTTP/1.1 200")  # the sixth fits the total
        seventh = _connect(port)
        seventh.sendall(b"GET / HTTP/1.1\r\nHost: helpline.test\r\n\r\n")
        assert seventh.recv(4096).startswith(b"HTTP/1.1 503")
        for s in (sixth, seventh):
            s.close()
    finally:
        for s in held:
            s.close()


# ---- the pieces ----------------------------------------------------------------------------------------
def test_limiter_counts_and_releases():
    lim = ConnectionLimiter(total=4, per_address=2, exempt=["10.0.0.0/8", "::1"])
    assert lim.admit("192.0.2.1") == "" and lim.admit("192.0.2.1") == ""
    assert "from 192.0.2.1" in lim.admit("192.0.2.1")
    assert lim.admit("10.1.2.3") == "" and lim.admit("10.1.2.3") == ""  # exempt from the per-address cap
    assert "4 open" in lim.admit("10.1.2.3")  # not from the total
    lim.release("192.0.2.1")
    assert lim.admit("::ffff:10.9.9.9") == ""  # an IPv4-mapped address matches its network
    assert lim.count == 4


def test_address_set_refuses_garbage():
    with pytest.raises(ValueError, match="not an IP"):
        AddressSet(["postfix.local"])
    assert "127.0.0.1" in AddressSet(["127.0.0.0/8"]) and "fe80::1%eth0" not in AddressSet(["127.0.0.1"])
