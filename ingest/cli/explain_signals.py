"""``helpline explain``: the ticket's priority, signal by signal.

The ``priority_set`` / ``priority_changed`` events carry the rules that matched
with the signals each reads (``router.priority.rule_signals``) and how many
levels each moved the priority; here they are summed per signal so an agent
sees that, say, the keyword made it high and the enterprise tier urgent, while
the sentiment rule matched but changed nothing. The SLA is the latest SLA
event's policy and deadlines plus any escalation that moved the priority.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

SIGNALS = ("keywords", "tier", "category", "sentiment", "repeated contact", "SLA")
PRIORITY_EVENTS = ("priority_set", "priority_changed")


def contributions(decisions: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """signal -> {"steps": levels it raised the priority in all, "details": [one line per matching rule]}."""
    out: dict[str, dict[str, Any]] = {s: {"steps": 0, "details": []} for s in SIGNALS}
    for d in decisions:
        data = d.get("data") or {}
        if not isinstance(data, Mapping):
            continue
        kind = d.get("kind", "")
        if kind in PRIORITY_EVENTS:
            for c in data.get("contributions") or ():
                signals = [s for s in c.get("signals") or () if s in out] or []
                for s in signals:
                    out[s]["steps"] += int(c.get("steps") or 0)
                    moved = (
                        f"{c.get('from')} -> {c.get('to')} (+{c['steps']})"
                        if c.get("steps")
                        else f"matched, no change (already {c.get('from')})"
                    )
                    out[s]["details"].append(f"{moved}: rule {c.get('rule')!r}: {' and '.join(c.get('why') or ())}")
        elif kind.startswith("sla_"):
            due = data.get("due")
            dues = ", ".join(f"{k} due {v}" for k, v in due.items()) if isinstance(due, Mapping) else ""
            out["SLA"]["details"].append(
                f"{kind.removeprefix('sla_')}"
                + (f" policy {data['policy']}" if data.get("policy") else "")
                + (f" ({dues})" if dues else "")
            )
        elif "escalat" in kind and data.get("from") and data.get("to") and data.get("step") == "priority":
            from helpline.router.priority import LEVELS

            steps = (
                LEVELS.index(data["to"]) - LEVELS.index(data["from"])
                if data["to"] in LEVELS and data["from"] in LEVELS
                else 0
            )
            out["SLA"]["steps"] += steps
            out["SLA"]["details"].append(f"escalation {data['from']} -> {data['to']} (+{steps})")
    return out


def render(signals: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = ["priority, signal by signal:"]
    for name in SIGNALS:
        s = signals.get(name) or {"steps": 0, "details": []}
        head = f"  {name:<16} {'+' + str(s['steps']) if s['steps'] else ' 0'}"
        details = s["details"] or ["no rule on it matched" if name != "SLA" else "no SLA event"]
        lines.append(f"{head}  {details[0]}")
        lines += [f"  {'':<16}    {x}" for x in details[1:]]
    return lines
