"""Write a labelled CSV of ticket-length rows built from the Bitext sample, to time ``helpline model train`` on
40,000 tickets (a command, not a test; CI does not run it).

    python -m tests.router.make_ticket_rows --out rows.csv [--rows 40000] [--hard]

Each row joins 3-6 utterances of one intent with a greeting and a sign-off; ``--hard`` joins 2-4 of its intent
with 1-3 of random intents and replaces 10 % of the labels at random, so that the models are about as unsure as
on real tickets (held-out accuracy near 0.89), which is what makes training slow.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict

from .conftest import DATA_DIR as BITEXT_DIR

GREETINGS = ["Hello,", "Hi team,", "Dear support,", "Good morning,", ""]
SIGN_OFFS = ["Thanks, Anna", "Regards, J. Smith", "Best wishes", "Sent from my phone", "Kind regards, Mark, ext. 4411"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--hard", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    by_intent: dict[str, list[str]] = defaultdict(list)
    for part in ("Training", "Validation", "Testing"):
        with open(BITEXT_DIR / f"Bitext_Sample_Customer_Service_{part}_Dataset.csv", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                by_intent[row["intent"]].append(row["utterance"])
    rng = random.Random(args.seed)
    labels = sorted(by_intent)
    rows = []
    while len(rows) < args.rows:
        label = rng.choice(labels)
        if args.hard:
            parts = rng.sample(by_intent[label], rng.randint(2, 4))
            parts += [rng.choice(by_intent[rng.choice(labels)]) for _ in range(rng.randint(1, 3))]
            rng.shuffle(parts)
            if rng.random() < 0.1:
                label = rng.choice(labels)
        else:
            parts = rng.sample(by_intent[label], rng.randint(3, 6))
        rows.append((f"{rng.choice(GREETINGS)} {' '.join(parts)} {rng.choice(SIGN_OFFS)}".strip(), label))
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    print(f"{len(rows)} rows, {sum(len(t) for t, _ in rows) / len(rows):.0f} characters on average -> {args.out}")


if __name__ == "__main__":
    main()
