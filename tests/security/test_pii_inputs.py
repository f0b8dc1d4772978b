"""Adversarial input to the PII surfaces: ``helpline pii eval|mask`` reading files, the API's reveal route,
and text built to make the detectors' regular expressions backtrack."""

from __future__ import annotations

import subprocess
import sys
import time

from helpline.store.access import api_keys
from helpline.store.privacy import pii

from ..api.conftest import api  # noqa: F401  (the fixture)
from ..api.test_ticket_api import new_ticket


def helpline(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "helpline.ingest.cli", *args], input=stdin, capture_output=True, timeout=120
    )


def test_eval_refuses_bad_sets_with_the_line_and_no_traceback(tmp_path):
    cases = {
        "notjson.jsonl": b'{"text": "a", "pii": []}\n{oops\n',
        "binary.jsonl": b"\x00\xff\xfe" * 100,
        "kind.jsonl": b'{"text": "a", "pii": [{"kind": "__class__", "value": "a"}]}\n',
        "shape.jsonl": b'["text"]\n',
        "big.jsonl": b'{"text": "' + b"a" * 200_000 + b'", "pii": []}\n',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        out = helpline("pii", "eval", str(path))
        assert out.returncode == 2, name
        assert b"line " in out.stderr and b"Traceback" not in out.stderr, name
    out = helpline("pii", "eval", str(tmp_path / "missing.jsonl"))
    assert out.returncode == 2 and b"Traceback" not in out.stderr


def test_mask_reads_stdin_and_refuses_a_directory(tmp_path):
    out = helpline("pii", "mask", stdin=b"card 4111 1111 1111 1111\n\xff")
    assert out.returncode == 0 and b"4111 1111 1111 1111" not in out.stdout and b"1111]" in out.stdout
    out = helpline("pii", "mask", str(tmp_path))
    assert out.returncode == 2 and b"Traceback" not in out.stderr


def test_pathological_text_is_masked_in_linear_time():
    texts = [
        "4" * 200_000,
        "4 " * 100_000,
        "4-" * 100_000,
        "DE89 " * 40_000,
        "DE" + "A " * 100_000,
        "password: " * 20_000,
        ("x" * 31 + "1") * 5_000,
        "123-45-" * 30_000,
        "Order no. " * 20_000 + "4111",
        "\n".join(["pwd = " + "a " * 50] * 2_000),
    ]
    for text in texts:
        started = time.monotonic()
        pii.mask(text, tokens=True)
        assert time.monotonic() - started < 20, text[:20]  # generous: a backtracking blow-up takes hours


def test_the_reveal_route_answers_odd_paths_without_a_server_error(api):
    t = new_ticket(api, body="card 4111 1111 1111 1111")
    key = api_keys.create("crm", ["read", "pii"]).key
    for path in (
        f"/tickets/{t.number}/messages/99999999999999999999999/reveal",
        f"/tickets/{t.number}/messages/-1/reveal",
        f"/tickets/{t.number}/messages/1%20OR%201=1/reveal",
        "/tickets/..%2F..%2Fetc/messages/1/reveal",
        f"/tickets/{t.number}/messages/0x1/reveal",
    ):
        r = api.call("POST", path, key=key)
        assert r.status_code in (403, 404), (path, r.status_code, r.text)
    assert api.call("POST", f"/tickets/{t.number}/messages/1/reveal", key=None).status_code == 401
    assert api.call("POST", f"/tickets/{t.number}/messages/1/reveal", key="ingest").status_code == 403
