"""``helpline bench``: the whole pipeline measured from the outside, over its real protocols.

It starts ``helpline run`` in a temporary data directory (or uses the
configured stack with ``--use-config``), with a local SMTP sink as the relay,
sends generated messages on C connections, either back to back or at a fixed
total rate (open loop), and waits until every accepted message is a ticket
message. It prints one JSON object. ``--channel`` picks what is sent: email
over SMTP (new conversations, replies to the acknowledgements that came back,
attachments, non-UTF-8 charsets), Twilio-signed SMS webhooks (new numbers and
follow-up texts), HMAC-signed JSON to ``/api/v1/messages``, or all three in turn.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import datetime as dt
import email.utils
from email.parser import BytesHeaderParser
import json
import os
import random
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from helpline.ingest.tools.relay_sink import ProcessRelaySink, RelaySink


_EPOCH = dt.datetime(1970, 1, 1)  # stored times are naive UTC


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))], 2)


# ---- message generation -------------------------------------------------------------
SUBJECTS = [
    "Order #{n} has not arrived",
    "Cannot log in to my account",
    "Refund for invoice {n}",
    "Question about my subscription",
    "Wrong item delivered (order {n})",
    "Payment failed twice",
    "How do I change my address?",
    "Billing error on my last statement",
]
BODIES = [
    "Hello,\n\nI ordered something {d} days ago and the tracking page still says 'label created'.\n"
    "Could you tell me where my parcel is? The order number is {n}.\n\nThanks,\n{name}\n",
    "Hi support team,\n\nsince this morning I cannot log in: the page says my password is wrong, but the reset\n"
    "mail never arrives. I tried {d} times. Please help, I need to download an invoice.\n\nBest regards\n{name}\n",
    "Good afternoon,\n\nplease refund invoice {n}; I was charged twice for the same month.\n"
    "I attached the bank statement.\n\nKind regards,\n{name}\n-- \n{name}\nACME Ltd.\n",
]
NAMES = [
    "Alice Martin",
    "Bruno Keller",
    "Chloé Dubois",
    "Dmitri Ivanov",
    "Eva Lindqvist",
    "Farid Haddad",
    "Grete Müller",
    "Hiro Tanaka",
    "Inês Costa",
    "Jan Novák",
]
ATTACHMENT = base64.encodebytes(os.urandom(24_000)).decode()


def new_message(i: int, rng: random.Random, support: str) -> tuple[str, bytes, str]:
    name = rng.choice(NAMES)
    addr = f"customer{i}@bench.example"
    n = rng.randint(10000, 99999)
    subject = rng.choice(SUBJECTS).format(n=n)
    body = rng.choice(BODIES).format(n=n, d=rng.randint(2, 9), name=name.split()[0])
    mid = f"<bench.{i}.{rng.getrandbits(40):x}@bench.example>"
    kind = rng.random()
    headers = (
        f"From: {email.utils.formataddr((name, addr))}\r\nTo: Support <{support}>\r\n"
        f"Subject: {subject}\r\nDate: {email.utils.formatdate(localtime=True)}\r\nMessage-ID: {mid}\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if kind < 0.1:  # with an attachment
        b = f"b{i}"
        raw = (
            headers + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n")
            + f'\r\n--{b}\r\nContent-Type: application/pdf; name="statement-{n}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="statement-{n}.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + ATTACHMENT.replace("\n", "\r\n") + f"\r\n--{b}--\r\n"
        )
        return addr, raw.encode(), mid
    if kind < 0.2:  # a legacy charset
        charset = rng.choice(["iso-8859-1", "windows-1252", "iso-2022-jp"])
        text = body + (
            "\nDanke für Ihre Hilfe — café, naïve.\n" if charset != "iso-2022-jp" else "\nよろしくお願いします。\n"
        )
        payload = text.replace("\n", "\r\n").encode(charset, errors="replace")
        cte = "7bit" if charset == "iso-2022-jp" else "8bit"
        return (
            addr,
            headers.encode()
            + f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode()
            + payload,
            mid,
        )
    b = f"a{i}"
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.splitlines() if line) + "</body></html>"
    raw = (
        headers + f'Content-Type: multipart/alternative; boundary="{b}"\r\n\r\n--{b}\r\n'
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body.replace("\n", "\r\n")
        + f"\r\n--{b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--{b}--\r\n"
    )
    return addr, raw.encode(), mid


def reply_message(i: int, ack, rng: random.Random, support: str) -> tuple[str, bytes, str]:  # noqa: ANN001
    msg = BytesHeaderParser().parsebytes(ack.data)  # headers only: the client must stay cheap
    addr = str(msg["To"]).strip("<>")
    mid = f"<bench.r{i}.{rng.getrandbits(40):x}@bench.example>"
    ack_id = str(msg["Message-ID"])
    raw = (
        f"From: {addr}\r\nTo: {msg['Reply-To'] or support}\r\nSubject: Re: {msg['Subject']}\r\n"
        f"Date: {email.utils.formatdate(localtime=True)}\r\nMessage-ID: {mid}\r\nIn-Reply-To: {ack_id}\r\n"
        f"References: {msg['References'] or ''} {ack_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Thanks, one more detail: the reference is {rng.randint(1000, 9999)}.\r\n\r\n"
        f"On {msg['Date']}, Support <{support}> wrote:\r\n> Thank you for contacting us.\r\n"
    )
    return addr, raw.encode(), mid


# ---- the run ----------------------------------------------------------------------
@dataclass
class Sent:
    inbound_id: int | None
    ack_ms: float
    acked_at: float  # time.time() when 250 / 2xx came back
    code: int
    channel: str = "email"
    external_id: str = ""  # for SMS, whose answer carries no inbound id


BENCH_TWILIO_TOKEN = "bench-twilio-token"
BENCH_WEBHOOK_SOURCE, BENCH_WEBHOOK_SECRET = "bench", "bench-webhook-secret"
CHANNELS = ("email", "sms", "webhook")


def sms_form(i: int, rng: random.Random) -> dict[str, str]:
    """A Twilio inbound-message webhook: a third of the texts come from a number that wrote before."""
    n = rng.randrange(max(1, i)) if i and rng.random() < 0.3 else i
    return {
        "MessageSid": f"SM{i:032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": f"+1415555{n % 10000:04d}",
        "To": "+14155550000",
        "Body": f"Hi, order {4000 + n} has not arrived yet, can you check? ({i})",
        "NumMedia": "0",
        "NumSegments": "1",
    }


def webhook_body(i: int, rng: random.Random) -> bytes:
    n = rng.randrange(max(1, i)) if i and rng.random() < 0.3 else i
    return json.dumps(
        {
            "customer": {"email": f"app-user{n}@bench.example", "name": f"App User {n}"},
            "subject": f"In-app question {n}",
            "text": f"The export button does nothing ({i}).",
            "metadata": {"plan": rng.choice(["free", "pro"])},
            "conversation_id": f"chat-{n}",
        }
    ).encode()


class HttpChannels:
    """Signs and posts SMS and webhook messages on one kept-alive connection per thread."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        from twilio.request_validator import RequestValidator

        host, port = config_hostport(settings.http_listen)
        self.host, self.port = host, port
        self.public = settings.public_url.rstrip("/")
        self.validator = RequestValidator(settings.twilio_auth_token or BENCH_TWILIO_TOKEN)
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return conn

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def sms(self, i: int) -> tuple[int, int | None, str]:
        form = sms_form(i, random.Random(i))
        signature = self.validator.compute_signature(self.public + "/twilio/sms", form)
        status, _ = self._post(
            "/twilio/sms",
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        return status, None, form["MessageSid"]

    def webhook(self, i: int) -> tuple[int, int | None, str]:
        body = webhook_body(i, random.Random(i))
        ts = str(int(time.time()))
        mac = hmac.new(BENCH_WEBHOOK_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        status, answer = self._post(
            "/api/v1/messages",
            body,
            {
                "Content-Type": "application/json",
                "X-Helpline-Source": BENCH_WEBHOOK_SOURCE,
                "X-Helpline-Timestamp": ts,
                "X-Helpline-Signature": "sha256=" + mac,
                "Idempotency-Key": f"bench-{i}",
            },
        )
        inbound = json.loads(answer).get("inbound_id") if status == 202 else None
        return status, inbound, ""


@dataclass
class Peaks:
    """Peak RSS and CPU seconds per process kind of the stack under test."""

    rss: dict[str, float] = field(default_factory=dict)
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def cpu_by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind, seconds in self.cpu.values():
            out[kind] = round(out.get(kind, 0.0) + seconds, 2)
        return out

    def sample(self, root_pid: int) -> None:
        import psutil

        try:
            root = psutil.Process(root_pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    cmd = " ".join(p.cmdline())
                    rss = p.memory_info().rss / 2**20
                    times = p.cpu_times()
                except psutil.Error:
                    continue
                kind = (
                    "redis"
                    if "redis-server" in cmd
                    else "worker"
                    if "dramatiq" in cmd
                    or "workers.entry" in cmd
                    or " worker " in cmd + " "  # `helpline worker`, which supervises Dramatiq
                    else "ingest"
                    if cmd.endswith(" ingest")
                    else "scheduler"
                    if cmd.endswith(" scheduler")
                    else "supervisor"
                    if cmd.endswith(" run")
                    else "other"
                )
                self.rss[kind] = max(self.rss.get(kind, 0.0), round(rss, 1))
                self.cpu[p.pid] = (kind, times.user + times.system)
            self.stop.wait(0.25)


def _wait_ready(admin: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{admin}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the stack did not become ready on {admin} within {timeout:.0f}s")


def _warm_up(settings, timeout: float = 120.0) -> float:  # noqa: ANN001
    """Send one message and wait until it is a ticket, so that worker start-up
    (imports, loading the category model) is not counted as pipeline latency."""
    from helpline.store import db
    from helpline.store.views import bench_counts

    host, port = config_hostport(settings.smtp_listen)
    t0 = time.perf_counter()
    raw = (
        b"From: warm-up@bench.example\r\nTo: "
        + settings.support_addresses[0].encode()
        + b"\r\nSubject: warm-up\r\nMessage-ID: <warm-up."
        + str(time.time_ns()).encode()
        + b"@bench.example>\r\n\r\nwarming up\r\n"
    )
    with smtplib.SMTP(host, port, timeout=60) as conn:
        conn.sendmail("warm-up@bench.example", [settings.support_addresses[0]], raw)
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench_counts.any_finished():
            return round(time.perf_counter() - t0, 2)
        time.sleep(0.1)
    raise RuntimeError(f"the warm-up message was not processed within {timeout:.0f}s; are the workers running?")


def reference_loop_ms() -> float:
    """The best of three runs of a fixed pure-Python loop, in ms: a yardstick
    for the machine, so figures from a slower or busier machine can be read
    for what they are: the sandbox VMs this was developed on differed by half
    from one session to the next."""
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.process_time() - t0)
    return round(best * 1000, 1)


def main(args: argparse.Namespace) -> int:
    from helpline.store import config

    sink = ProcessRelaySink().start()  # its own process: no lock shared with the client threads
    tmp = tempfile.mkdtemp(prefix="helpline-bench-")
    proc = None
    if args.use_config:
        settings = config.load()
    else:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("HELPLINE_"):
                del env[k]
        env.update(
            {
                "HELPLINE_DATA_DIR": tmp,
                "HELPLINE_SMTP_LISTEN": f"127.0.0.1:{_free_port()}",
                "HELPLINE_HTTP_LISTEN": f"127.0.0.1:{_free_port()}",
                "HELPLINE_ADMIN_LISTEN": f"127.0.0.1:{_free_port()}",
                "HELPLINE_SUPPORT_ADDRESSES": "support@bench.example",
                "HELPLINE_SMTP_RELAY": sink.address,
                "HELPLINE_LOG_LEVEL": "WARNING",
                "HELPLINE_AUTOREPLY_GLOBAL_LIMIT": "1000000",
            }
        )
        if args.channel != "email":  # the HTTP channels, signed as their senders sign
            env.update(
                {
                    "HELPLINE_PUBLIC_URL": f"http://{env['HELPLINE_HTTP_LISTEN']}",
                    "HELPLINE_TWILIO_AUTH_TOKEN": BENCH_TWILIO_TOKEN,
                    "HELPLINE_WEBHOOK_SOURCES": f"{BENCH_WEBHOOK_SOURCE}={BENCH_WEBHOOK_SECRET}",
                    "HELPLINE_WEBHOOK_RATE_PER_MINUTE": "0",
                }
            )
        for item in args.set or ():  # e.g. --set HELPLINE_SIMILARITY=no, to price one stage
            key, sep, value = item.partition("=")
            if not sep or not key.startswith("HELPLINE_"):
                raise SystemExit(f"--set takes HELPLINE_NAME=VALUE, not {item!r}")
            env[key] = value
        if args.workers:
            env["HELPLINE_WORKER_PROCESSES"] = str(args.workers)
        if args.threads:
            env["HELPLINE_WORKER_THREADS"] = str(args.threads)
        settings = config.load(env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "helpline.ingest.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "run.log"), "wb"),
        )
    peaks = Peaks()
    ok = False
    try:
        _wait_ready(settings.admin_listen)
        warm = _warm_up(settings)
        if proc:
            threading.Thread(target=peaks.sample, args=(proc.pid,), daemon=True).start()
        result = _drive(args, settings, sink)
        result["warm_up_s"] = warm
        result["peak_rss_mb"] = peaks.rss
        result["cpu_s"] = peaks.cpu_by_kind()
        times = os.times()
        result["cpu_s"]["bench_client"] = round(times.user + times.system, 2)
        result["cpu_ms_per_message"] = {
            k: round(v * 1000 / max(1, result["messages"]), 2) for k, v in result["cpu_s"].items()
        }
        result["reference_loop_ms"] = reference_loop_ms()
        result["stack"] = "configured" if args.use_config else f"embedded in {tmp}"
        ok = True
    finally:
        peaks.stop.set()
        if proc:
            proc.send_signal(2)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        sink.stop()
        if proc and not ok:  # say why before the evidence is deleted
            log_path = os.path.join(tmp, "run.log")
            if os.path.exists(log_path):
                sys.stderr.write("--- last lines of the stack's log ---\n")
                sys.stderr.write("".join(open(log_path, errors="replace").readlines()[-40:]))
        if proc:
            shutil.rmtree(tmp, ignore_errors=True)
    if "cpu_s" in result:
        result["cpu_s"]["relay_sink"] = sink.cpu_s
        result["cpu_ms_per_message"]["relay_sink"] = round(sink.cpu_s * 1000 / max(1, result["messages"]), 2)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0 if result["lost"] == 0 else 1


def _drive(args: argparse.Namespace, settings, sink: RelaySink | ProcessRelaySink) -> dict:  # noqa: ANN001
    from helpline.store import db
    from helpline.store.views import bench_counts

    support = settings.support_addresses[0]
    host, port = config_hostport(settings.smtp_listen)
    rng = random.Random(42)
    corpus = sorted(Path(args.corpus).glob("*.eml")) if args.corpus else []
    total = len(corpus) if corpus else args.messages
    lock = threading.Lock()
    counter = iter(range(total))
    sent: list[Sent] = []
    cursor = [0]  # the next acknowledgement not yet replied to
    start = time.perf_counter()

    def next_message(i: int) -> bytes:
        if corpus:
            return corpus[i].read_bytes()
        with lock:
            received = sink.received
            pick = cursor[0] if cursor[0] < len(received) and rng.random() < 0.3 else None
            if pick is not None:
                cursor[0] += 1  # each acknowledgement is answered at most once
        if pick is not None:
            return reply_message(i, received[pick], random.Random(i), support)[1]
        return new_message(i, random.Random(i), support)[1]

    channels = CHANNELS if args.channel == "mixed" else (args.channel,)
    web = HttpChannels(settings) if args.channel != "email" else None

    def sender() -> None:
        conn: smtplib.SMTP | None = None
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            channel = "email" if corpus else channels[i % len(channels)]
            raw = next_message(i) if channel == "email" else b""
            if args.rate:
                delay = start + i / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            if channel == "email":
                if conn is None:
                    conn = smtplib.SMTP(host, port, timeout=120)
                    conn.ehlo("bench.example")
                conn.mail(f"customer{i}@bench.example")
                conn.rcpt(support)
                t0 = time.perf_counter()
                code, answer = conn.data(raw)
                t1 = time.perf_counter()
                text = answer.decode(errors="replace")
                iid = int(text.rsplit(" ", 1)[-1]) if code == 250 and text.rsplit(" ", 1)[-1].isdigit() else None
                external = ""
            else:
                t0 = time.perf_counter()
                status, iid, external = web.sms(i) if channel == "sms" else web.webhook(i)  # type: ignore[union-attr]
                t1 = time.perf_counter()
                code = 250 if 200 <= status < 300 else status
            with lock:
                sent.append(Sent(iid, (t1 - t0) * 1000, time.time(), code, channel, external))
        if conn is not None:
            conn.quit()

    threads = [threading.Thread(target=sender) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send_s = time.perf_counter() - start

    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    accepted = [s for s in sent if s.code == 250]
    texts = [s for s in accepted if s.inbound_id is None and s.external_id]
    sms_ids = bench_counts.sms_ids([s.external_id for s in texts])  # a Twilio answer carries no id: by MessageSid
    for s in texts:
        s.inbound_id = sms_ids.get(s.external_id, s.inbound_id)
    ids = [s.inbound_id for s in accepted if s.inbound_id]
    deadline = time.monotonic() + args.timeout
    done: dict[int, str] = {}  # inbound id -> status
    while time.monotonic() < deadline:
        done.update(bench_counts.finished(i for i in ids if i not in done))
        if len(done) == len(ids):
            break
        time.sleep(0.1)
    all_done_s = time.perf_counter() - start
    created = {inbound_id: (at - _EPOCH).total_seconds() for inbound_id, at in bench_counts.message_times(ids).items()}
    e2e = [(created[s.inbound_id] - s.acked_at) * 1000 for s in accepted if s.inbound_id in created]
    time.sleep(1.0)  # let the last acknowledgements leave
    statuses: dict[str, int] = {}
    for status in done.values():
        statuses[status] = statuses.get(status, 0) + 1
    tickets_created = bench_counts.ticket_count() - 1  # less the warm-up
    acks_sent = bench_counts.acks_sent() - 1
    acks_queued = bench_counts.acks_queued_by_channel()
    return {
        "messages": total,
        "accepted": len(accepted),
        "refused": len(sent) - len(accepted),
        "accepted_per_s": round(len(accepted) / send_s, 1),
        "end_to_end_per_s": round(len(done) / all_done_s, 1),
        "channel": args.channel,
        "smtp_ack_ms": {
            "p50": _pct([s.ack_ms for s in accepted if s.channel == "email"], 50),
            "p99": _pct([s.ack_ms for s in accepted if s.channel == "email"], 99),
        },
        "ack_ms_by_channel": {
            c: {
                "p50": _pct([s.ack_ms for s in accepted if s.channel == c], 50),
                "p99": _pct([s.ack_ms for s in accepted if s.channel == c], 99),
                "accepted": sum(1 for s in accepted if s.channel == c),
            }
            for c in CHANNELS
            if any(s.channel == c for s in sent)
        },
        "end_to_end_ms": {"p50": _pct(e2e, 50), "p99": _pct(e2e, 99)},
        "tickets_created": tickets_created,
        "ticket_messages": len(created),
        "inbound_status": statuses,
        "acks_sent": acks_sent,
        "acks_received_by_relay": len(sink.received) - 1,
        "acks_queued_by_channel": acks_queued,  # SMS acks wait for a Twilio account the bench does not have
        "lost": len(ids) - len(done),
        "accepted_untracked": len(accepted) - len(ids),  # spooled or re-delivered: no inbound id in the 250
        "concurrency": args.concurrency,
        "rate": args.rate or None,
    }


def config_hostport(value: str) -> tuple[str, int]:
    from helpline.store.config import parse_hostport

    return parse_hostport(value, 2525)
