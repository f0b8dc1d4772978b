"""``helpline report [--since DATE] [--until DATE] [--team T] [--json]``: the desk's figures against its targets.

The figures come from ``workers.reports.figures`` (rows) and
``router.report_figures.compute`` (arithmetic); this module parses dates and
prints. Dates are UTC: ``2026-04-01`` or ``2026-04-01T09:00``; the window
covers tickets created in it, ``--until`` exclusive.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any


def _date(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)") from None
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(f: dict[str, Any]) -> str:
    t = f["targets"]

    def mark(key: str) -> str:
        return {True: "ok", False: "MISSED", None: "no data"}[t[key]["met"]]

    lines = [f"tickets: {f['tickets']}"]
    for what, counts in f["volume"].items():
        lines.append(f"by {what}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))
    fr, rs = f["first_response_s"], f["resolution_s"]
    lines.append(
        f"first response (business time): median {_dur(fr['median'])}, p90 {_dur(fr['p90'])} "
        f"[target median < {_dur(t['first_response_median_s']['target'])}: {mark('first_response_median_s')}]"
    )
    lines.append(f"resolution (business time): median {_dur(rs['median'])}, p90 {_dur(rs['p90'])}")
    for target, s in f["sla"].items():
        lines.append(f"SLA {target}: {_pct(s['attainment'])} met ({s['met']} met, {s['missed']} missed)")
    lines.append(f"first-contact resolution: {_pct(f['fcr'])} [target > {_pct(t['fcr']['target'])}: {mark('fcr')}]")
    lines.append(f"reopen rate: {_pct(f['reopen_rate'])}")
    c = f["csat"]
    avg = "-" if c["average"] is None else f"{c['average']:.2f}"
    lines.append(
        f"CSAT: average {avg} from {c['answered']} of {c['sent']} surveys "
        f"(response rate {_pct(c['response_rate'])}) [target > {t['csat']['target']}: {mark('csat')}]"
    )
    k = f.get("knowledge")
    if k:
        s, w, wo, d = (
            k["suggestions"],
            k["first_response_with_suggestion_s"],
            k["first_response_without_suggestion_s"],
            k["deflection"],
        )
        lines.append(
            f"suggestions: {s['shown']} shown on {s['tickets']} tickets; {s['sent']} sent, {s['edited']} "
            f"edited and sent, {s['dismissed']} dismissed"
        )
        lines.append(
            f"first response with a suggestion: median {_dur(w['median'])} ({w['count']} tickets); "
            f"without: median {_dur(wo['median'])} ({wo['count']} tickets)"
        )
        lines.append(
            f"deflection: {d['self_served']} self-served of {d['offered']} offered an article ({_pct(d['rate'])})"
        )
    for agent, a in f["agents"].items():
        lines.append(
            f"agent {agent}: {a['assigned']} assigned, {a['open']} open, {a['resolved']} resolved, "
            f"{a['replies']} replies"
        )
    misses = f.get("search_misses") or []
    if misses:  # the articles to write (all of them: helpline search misses)
        lines.append("searches that found nothing: " + ", ".join(f"{m['query']!r} ×{m['count']}" for m in misses))
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    from helpline.store import config, db
    from helpline.workers.jobs.reports import figures

    settings = config.load()
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    if args.since and args.until and args.until <= args.since:
        print("helpline report: --until must be after --since", file=sys.stderr)
        return 2
    from helpline.store.privacy import pii
    from helpline.store.fulltext import search
    from helpline.store.db import run_tx

    out = figures(settings, args.since, args.until, args.team)
    out["search_misses"] = run_tx(lambda: search.misses(args.since, 10), durable=False)
    # An export leaves for people: any personal data in its labels (teams, categories, agents, searches) is masked.
    out = pii.mask_json(out, tokens=settings.pii_mask_tokens)
    print(json.dumps(out, indent=2, ensure_ascii=False, default=str) if args.json else render(out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``helpline report`` to the ``helpline`` parser."""
    p = sub.add_parser("report", help="volume, response and resolution times, SLA, FCR, CSAT, workload vs targets")
    p.add_argument("--since", type=_date, help="tickets created from this UTC date/time on")
    p.add_argument("--until", type=_date, help="tickets created before this UTC date/time")
    p.add_argument("--team", help="only this team's tickets")
    p.add_argument("--json", action="store_true", help="the figures as JSON")
    p.set_defaults(fn=cmd_report)
