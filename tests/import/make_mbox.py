"""Write an mbox of realistic support mail for import tests and the import rate figure.

    python tests/import/make_mbox.py OUT.mbox --messages 50000 [--seed 7] [--duplicates 0.01] [--broken 0.002]

Texts are customer utterances of the Bitext customer-service intent sample
(read in place from ``--data``, default /work/shared/data/bitext-support-intents;
nothing of it is copied into this repository). Attribution: "Bitext - Customer
Service Tagged Training Dataset for Intent Detection" (sample), (c) Bitext
Innovations, 2022 (bitext.com), used under CDLA-Sharing-1.0 (see the LICENSE
file next to the data). An mbox written by this script holds that data and,
if published, falls under CDLA-Sharing-1.0 too.

The mix: about 60 % of messages open a conversation, the rest answer one
(In-Reply-To and References set, "Re:" subject); a share are exact duplicates
(the same message delivered twice), a few are broken (binary junk, no header
block), some bodies hold an unescaped "From " line, dates spread over three
years in order, as a real mailbox export is.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import email.utils
import os
import random
import sys

DEFAULT_DATA = "/work/shared/data/bitext-support-intents"
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Eva",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Silva",
    "Keller",
    "Dubois",
    "Ivanov",
    "Novak",
    "Haddad",
    "Okafor",
    "Tanaka",
    "Garcia",
    "Berg",
    "Rossi",
    "Cohen",
    "Nowak",
    "Larsen",
    "Patel",
    "Moreau",
    "Schmidt",
    "Khan",
    "Murphy",
    "Costa",
]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "shop.example"]
FOLLOW = [
    "Any news on this?",
    "Thanks, that worked!",
    "It still does not work, I tried again this morning.",
    "Could you please check again? I attached nothing new.",
    "I am still waiting for an answer.",
    "Thank you for the quick help.",
    "Sorry, one more question about the same thing.",
]


def utterances(data_dir: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name in sorted(os.listdir(data_dir)):
        if name.endswith(".csv"):
            with open(os.path.join(data_dir, name), newline="", encoding="utf-8") as fh:
                rows += [(r["utterance"].strip(), r["intent"]) for r in csv.DictReader(fh) if r["utterance"].strip()]
    if not rows:
        raise SystemExit(f"no utterances found in {data_dir} (expected the Bitext CSV files)")
    return rows


def _message(
    *, sender: tuple[str, str], subject: str, body: str, when: dt.datetime, mid: str, parent: list[str], support: str
) -> bytes:
    headers = [
        f"From: {sender[0]} <{sender[1]}>",
        f"To: Support <{support}>",
        f"Subject: {subject}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: <{mid}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent[-1]}>", "References: " + " ".join(f"<{p}>" for p in parent)]
    return ("\n".join(headers) + "\n\n" + body + "\n").encode("utf-8")


def _escape(raw: bytes) -> bytes:
    """mboxrd: every body line that begins with (>*)From gets one more '>'."""
    out = []
    for line in raw.split(b"\n"):
        stripped = line.lstrip(b">")
        out.append(b">" + line if stripped.startswith(b"From ") else line)
    return b"\n".join(out)


def generate(
    path: str,
    n: int,
    *,
    seed: int = 7,
    data_dir: str = DEFAULT_DATA,
    duplicates: float = 0.01,
    broken: float = 0.002,
    unescaped_from: float = 0.005,
    support: str = "support@helpline.example",
    start: dt.datetime | None = None,
) -> dict[str, int]:
    """Write ``n`` messages to ``path``; the counts of each kind written."""
    rnd = random.Random(seed)
    texts = utterances(data_dir)
    start = start or dt.datetime(2022, 1, 3, 8, 0, tzinfo=dt.timezone.utc)
    step = dt.timedelta(days=3 * 365) / max(1, n)
    threads: list[dict] = []
    counts = {"messages": 0, "new": 0, "reply": 0, "duplicate": 0, "broken": 0, "unescaped_from": 0}
    last: bytes | None = None
    with open(path, "wb") as out:
        for i in range(n):
            when = start + step * i
            stamp = when.strftime("%a %b %d %H:%M:%S %Y")
            roll = rnd.random()
            if last is not None and roll < duplicates:
                raw, kind = last, "duplicate"
            elif roll < duplicates + broken:
                junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(40, 400))).replace(b"\n", b" ")
                raw, kind = b"\x00\x01\x02" + junk + b"\n", "broken"
            else:
                open_threads = [t for t in threads[-400:] if t["replies"] < 4]
                if open_threads and rnd.random() < 0.4:
                    t = rnd.choice(open_threads)
                    t["replies"] += 1
                    mid = f"r{i}.{seed}@{t['sender'][1].split('@')[1]}"
                    body = rnd.choice(FOLLOW) + "\n\n" + rnd.choice(texts)[0]
                    raw = _message(
                        sender=t["sender"],
                        subject="Re: " + t["subject"],
                        body=body,
                        when=when,
                        mid=mid,
                        parent=t["chain"],
                        support=support,
                    )
                    t["chain"].append(mid)
                    kind = "reply"
                else:
                    first, lastn = rnd.choice(FIRST), rnd.choice(LAST)
                    addr = (
                        f"{first.lower().replace('é', 'e')}.{lastn.lower()}{rnd.randint(1, 3000)}@{rnd.choice(DOMAINS)}"
                    )
                    text, intent = rnd.choice(texts)
                    extra = rnd.choice(texts)[0] if rnd.random() < 0.5 else ""
                    subject = text[:70].rstrip("?.! ") or intent.replace("_", " ")
                    body = f"Hello,\n\n{text}\n{extra}\n\nBest regards,\n{first} {lastn}"
                    if rnd.random() < unescaped_from:
                        body = body.replace("Hello,", "Hello,\n\nFrom the start I had this problem.")
                        counts["unescaped_from"] += 1
                    mid = f"m{i}.{seed}@{addr.split('@')[1]}"
                    raw = _message(
                        sender=(f"{first} {lastn}", addr),
                        subject=subject,
                        body=body,
                        when=when,
                        mid=mid,
                        parent=[],
                        support=support,
                    )
                    threads.append(
                        {"sender": (f"{first} {lastn}", addr), "subject": subject, "chain": [mid], "replies": 0}
                    )
                    kind = "new"
            counts[kind] += 1
            counts["messages"] += 1
            sender_addr = "MAILER-DAEMON" if kind == "broken" else "import@example.com"
            out.write(f"From {sender_addr} {stamp}\n".encode() + _escape(raw) + b"\n")
            if kind in ("new", "reply"):
                last = raw
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--messages", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--duplicates", type=float, default=0.01)
    p.add_argument("--broken", type=float, default=0.002)
    a = p.parse_args(argv)
    counts = generate(a.out, a.messages, seed=a.seed, data_dir=a.data, duplicates=a.duplicates, broken=a.broken)
    print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
