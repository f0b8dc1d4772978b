"""``helpline pii eval FILE`` and ``helpline pii mask [FILE]``: how well masking does on a labelled set, and
what a text looks like masked.

``eval`` reads JSON lines (``{"text": …, "pii": [{"kind", "value"}]}``; the
project's own set is ``tests/data/pii/labelled.jsonl``) and prints precision
and recall per kind; with ``--strict`` it exits 1 on any false mask or any
missed card number or IBAN, the promise the masking keeps. ``mask`` reads a
text (a file, or standard input) and prints it masked, for an operator who
wants to see what agents will see. Neither touches the database.
"""

from __future__ import annotations

import argparse
import json
import sys

MAX_BYTES = 50 * 1024 * 1024


def _read(path: str) -> str:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB")
    return data.decode("utf-8", errors="replace")


def cmd_eval(args: argparse.Namespace) -> int:
    from helpline.store.privacy import pii_eval

    try:
        items = pii_eval.read(_read(args.file).splitlines())
    except (OSError, ValueError) as exc:
        print(f"helpline pii eval: {exc}", file=sys.stderr)
        return 2
    scores = pii_eval.evaluate(items, tokens=args.tokens)
    if args.json:
        print(
            json.dumps(
                {
                    k: {
                        "tp": s.tp,
                        "fp": s.fp,
                        "fn": s.fn,
                        "precision": s.precision,
                        "recall": s.recall,
                        "false_masks": s.false_masks,
                        "misses": s.misses,
                    }
                    for k, s in scores.items()
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(f"{len(items)} texts")
        print(f"{'kind':<12} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>8}")
        for kind, s in scores.items():
            print(f"{kind:<12} {s.tp:>4} {s.fp:>4} {s.fn:>4} {s.precision:>10.3f} {s.recall:>8.3f}")
        for line in scores["all"].false_masks:
            print(f"false mask: {line}")
        for line in scores["all"].misses:
            print(f"missed: {line}")
    failed = scores["all"].fp or scores["card"].fn or scores["iban"].fn
    return 1 if args.strict and failed else 0


def cmd_mask(args: argparse.Namespace) -> int:
    from helpline.store import config
    from helpline.store.privacy import pii

    try:
        text = _read(args.file)
    except (OSError, ValueError) as exc:
        print(f"helpline pii mask: {exc}", file=sys.stderr)
        return 2
    tokens = args.tokens or config.load().pii_mask_tokens
    sys.stdout.write(pii.mask(text, tokens=tokens))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    p = sub.add_parser("pii", help="personal-data masking: evaluate on a labelled set, mask a text")
    psub = p.add_subparsers(dest="pii_action", required=True)
    e = psub.add_parser("eval", help="precision and recall per kind on a labelled JSON-lines set")
    e.add_argument("file", help='JSON lines: {"text": ..., "pii": [{"kind": ..., "value": ...}]} (\'-\': stdin)')
    e.add_argument("--tokens", action="store_true", help="as with HELPLINE_PII_MASK_TOKENS=true")
    e.add_argument("--strict", action="store_true", help="exit 1 on a false mask or a missed card number or IBAN")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_eval)
    m = psub.add_parser("mask", help="print a text as agents without the see_pii permission see it")
    m.add_argument("file", nargs="?", default="-", help="the text ('-' or nothing: stdin)")
    m.add_argument("--tokens", action="store_true", help="mask API-token-like strings everywhere too")
    m.set_defaults(fn=cmd_mask)
