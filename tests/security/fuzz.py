"""Long fuzz runs of the property suites: ``python -m tests.security.fuzz --minutes N``.

The test suite runs a short derandomised slice of each property; this runs
the same properties with fresh randomness, batch after batch, until the time
is up, and exits non-zero on the first failure (Hypothesis prints the
shrunk example). Add a suite by adding an entry to ``SUITES``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import mail_properties as mp

_BATCH = settings(
    max_examples=500, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck)
)


def _mail_suites() -> dict[str, Callable[[], None]]:
    return {
        "mail.any_bytes": given(mp.any_bytes)(mp.check_envelope_or_refusal),
        "mail.header_junk": given(mp.mail_like_bytes())(mp.check_envelope_or_refusal),
        "mail.round_trip": given(
            mp.subjects,
            mp.names,
            mp.bodies,
            mp.attachments,
            st.sampled_from(["utf-8", "iso-8859-1", "gb18030", "utf-7", "big5", "shift_jis"]),
        )(mp.check_round_trip),
    }


SUITES: dict[str, Callable[[], dict[str, Callable[[], None]]]] = {"mail": _mail_suites}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to run (default 5)")
    parser.add_argument("--suite", choices=sorted(SUITES), action="append", help="run only these suites (default: all)")
    args = parser.parse_args(argv)
    props = {name: _BATCH(fn) for suite in (args.suite or sorted(SUITES)) for name, fn in SUITES[suite]().items()}
    deadline = time.monotonic() + args.minutes * 60
    runs = dict.fromkeys(props, 0)
    while time.monotonic() < deadline:
        for name, prop in props.items():
            if time.monotonic() >= deadline:
                break
            try:
                prop()
            except Exception:
                print(f"FAILED {name} after {runs[name]} batches of {_BATCH.max_examples}", file=sys.stderr)
                raise
            runs[name] += 1
    for name, n in runs.items():
        print(f"{name}: {n * _BATCH.max_examples} examples, no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
