"""The client host: customers writing to both ingest hosts, as a sending MTA would.

Run inside the client namespace (``python -m tests.cluster.client``). Each
conversation is a first mail and replies to it (In-Reply-To and References set),
spread over the ingest hosts round-robin, so one conversation's messages reach
different hosts. A message that is not answered 250 (a refusal, a reset, a
timeout, a host that is gone) is retried on the next host with the same
Message-ID, the way an MTA retries. Every answer is written as a JSON line,
which the scenario counts against the database.
"""

from __future__ import annotations

import argparse
import json
import smtplib
import socket
import sys
import time
import uuid


def mail(conversation: int, index: int, run: str, first_id: str | None) -> tuple[str, bytes]:
    msg_id = f"<c{conversation}.m{index}.{run}@customers.example>"
    sender = f"customer{conversation}@customers.example"
    headers = [
        f"From: Customer {conversation} <{sender}>",
        "To: support@example.com",
        f"Subject: {'Re: ' if first_id else ''}Order {conversation} problem",
        f"Message-ID: {msg_id}",
        "Date: Mon, 07 Dec 2026 09:00:00 +0000",
    ]
    if first_id:
        headers += [f"In-Reply-To: {first_id}", f"References: {first_id}"]
    body = f"Hello, this is message {index} about order {conversation}-{run}. Unique {uuid.uuid4().hex}.\r\n"
    return msg_id, ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def send(host: str, raw: bytes, sender: str, timeout: float) -> tuple[int, str]:
    with smtplib.SMTP(host, 2525, timeout=timeout) as s:
        s.ehlo("client.example")
        code, resp = s.mail(sender)
        if code != 250:
            return code, resp.decode(errors="replace")
        code, resp = s.rcpt("support@example.com")
        if code not in (250, 251):
            return code, resp.decode(errors="replace")
        code, resp = s.data(raw)
        return code, resp.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", required=True, help="comma-separated ingest addresses")
    p.add_argument("--conversations", type=int, default=100)
    p.add_argument("--replies", type=int, default=1)
    p.add_argument("--rate", type=float, default=50.0, help="messages per second at most")
    p.add_argument("--run", default=uuid.uuid4().hex[:8])
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--give-up-s", type=float, default=300.0)
    args = p.parse_args(argv)
    hosts = args.hosts.split(",")
    turn = 0
    interval = 1.0 / args.rate
    with open(args.out, "a") as out:
        plan = []
        for c in range(args.conversations):
            for i in range(args.replies + 1):
                plan.append((i, c))
        plan.sort()  # all first mails, then the replies: a reply always follows its first mail's 250
        first_ids: dict[int, str] = {}
        for i, c in plan:
            msg_id, raw = mail(c, i, args.run, first_ids.get(c) if i else None)
            deadline = time.monotonic() + args.give_up_s
            while True:
                host = hosts[turn % len(hosts)]
                turn += 1
                started = time.monotonic()
                try:
                    code, text = send(host, raw, f"customer{c}@customers.example", args.timeout)
                except (OSError, smtplib.SMTPException) as exc:
                    code, text = 0, f"{type(exc).__name__}: {exc}"
                record = {
                    "conversation": c,
                    "index": i,
                    "message_id": msg_id,
                    "host": host,
                    "code": code,
                    "answer": text[:200],
                    "ms": round((time.monotonic() - started) * 1000, 1),
                    "at": time.time(),
                }
                out.write(json.dumps(record) + "\n")
                out.flush()
                if code == 250:
                    if i == 0:
                        first_ids[c] = msg_id
                    break
                if code >= 500 or time.monotonic() > deadline:
                    print(f"gave up on {msg_id}: {code} {text}", file=sys.stderr)
                    break
                time.sleep(0.2)
            time.sleep(interval)
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
