"""Precision and recall of ``store/privacy/pii.py`` on a labelled set (JSON lines: ``{"text", "pii": [{"kind",
"value"}]}``), for ``helpline pii eval`` and the test that holds masking to its promise: no false masks,
every labelled card number and IBAN caught."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from helpline.store.privacy import pii

MAX_ITEMS = 100_000
MAX_TEXT = 100_000


class LabelledSetError(ValueError):
    """A labelled set that cannot be read; the message names the line."""


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)  # "line N: kind value" for false negatives
    false_masks: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def read(lines: Iterable[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(items) >= MAX_ITEMS:
            raise LabelledSetError(f"more than {MAX_ITEMS} texts; split the set")
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise LabelledSetError(f"line {n}: not JSON ({exc})") from None
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("text"), str)
            or len(item["text"]) > MAX_TEXT
            or not isinstance(item.get("pii", []), list)
            or not all(
                isinstance(p, dict) and p.get("kind") in pii.KINDS and isinstance(p.get("value"), str)
                for p in item.get("pii", [])
            )
        ):
            raise LabelledSetError(
                f'line {n}: want {{"text": str (at most {MAX_TEXT} characters), "pii": '
                f'[{{"kind": one of {", ".join(pii.KINDS)}, "value": str}}]}}'
            )
        item["line"] = n
        items.append(item)
    return items


def evaluate(items: list[dict[str, Any]], *, tokens: bool = False) -> dict[str, Score]:
    """Per kind (and ``all``): a finding is right when its kind and exact text are labelled in that text."""
    scores = {k: Score() for k in (*pii.KINDS, "all")}
    for item in items:
        text = item["text"]
        want = [(p["kind"], p["value"]) for p in item.get("pii", [])]
        got = [(f.kind, text[f.start : f.end]) for f in pii.find(text, tokens=tokens)]
        for g in got:
            hit = g in want
            for k in (g[0], "all"):
                if hit:
                    scores[k].tp += 1
                else:
                    scores[k].fp += 1
                    scores[k].false_masks.append(f"line {item['line']}: {g[0]} {g[1]!r}")
            if hit:
                want.remove(g)
        for w in want:
            for k in (w[0], "all"):
                scores[k].fn += 1
                scores[k].misses.append(f"line {item['line']}: {w[0]} {w[1]!r}")
    return scores
