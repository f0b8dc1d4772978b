"""Damaged input never raises (other than NotAnEmail) and never breaks a step."""

from __future__ import annotations

import json
import random

from email_testkit import MAIL_DIR
from helpline.ingest.email import NotAnEmail, normalise_email

CHARSET_SWAPS = [b"charset=x-\x00", b"charset=utf-16", b"charset=utf-7", b'charset="', b"charset=rot13"]


def _mutate(rng: random.Random, raw: bytearray) -> bytes:
    op = rng.randrange(6)
    if op == 0:
        return bytes(raw[: rng.randrange(len(raw))])
    if op == 1:
        for _ in range(rng.randrange(1, 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif op == 2:
        a, b = rng.randrange(len(raw)), rng.randrange(len(raw))
        raw[a:a] = raw[b : b + rng.randrange(200)]
    elif op == 3:
        a = rng.randrange(len(raw))
        del raw[a : a + rng.randrange(300)]
    elif op == 4:
        end = max(1, raw.find(b"\n\n"))
        for _ in range(rng.randrange(1, 10)):
            raw[rng.randrange(end)] = rng.randrange(128, 256)
    else:
        raw = bytearray(
            raw.replace(b"charset=", rng.choice(CHARSET_SWAPS)).replace(
                b"base64", rng.choice([b"quoted-printable", b"x-uuencode", b"bogus"])
            )
        )
    return bytes(raw)


def test_mutated_fixtures():
    rng = random.Random(20260302)
    fixtures = [p.read_bytes() for p in sorted(MAIL_DIR.glob("*.eml"))]
    for _ in range(600):
        raw = _mutate(rng, bytearray(rng.choice(fixtures)))
        try:
            env = normalise_email(raw, put_blob=lambda d: "k", support_addresses=["support@helpline.example"])
        except NotAnEmail:
            continue
        assert not [w for w in env.warnings if w.startswith("internal_error")], (env.warnings, raw[:300])
        json.dumps(env.to_dict()).encode("utf-8")  # strict UTF-8: no lone surrogates anywhere
