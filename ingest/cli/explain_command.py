"""``helpline explain HL-YYYY-NNNNNN``: every decision made for a ticket, with its reasons.

The audit trail already holds each decision with the data behind it (the
pipeline, routing, the SLA clocks, agents); this command reads it back as
sentences an agent understands: why the ticket is urgent, why it went to that
team, why no acknowledgement was sent. ``--json`` gives the same as data: each
decision with its time, actor, kind, the sentence and the raw event data.

``explain(detail, signals)`` is a plain function of what ``store.queries``
and ``store.triage_state`` return, so the wording is tested without a database.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Mapping

Formatter = Callable[[Mapping[str, Any]], str]


def _q(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _reason(d: Mapping[str, Any]) -> str:
    return str(d.get("reason") or d.get("why") or "")


def _with(text: str, reason: str) -> str:
    return f"{text}: {reason}" if reason else text


def _created(d: Mapping[str, Any]) -> str:
    return _with(f"ticket opened from {d.get('channel', '?')}", _reason(d))


def _priority(d: Mapping[str, Any]) -> str:
    reasons = "; ".join(d.get("reasons") or []) or _reason(d)
    head = f"priority {d.get('priority')}" + (f" (was {d['from']})" if d.get("from") else "")
    by_message = f" after message {d['message']}" if d.get("message") else ""
    return f"{head}{by_message} — {reasons}" if reasons else head


def _priority_changed(d: Mapping[str, Any]) -> str:
    return _with(f"priority {d.get('from')} -> {d.get('to')}", _reason(d))


def _priority_not_raised(d: Mapping[str, Any]) -> str:
    return (
        f"priority kept at {d.get('priority')} (the rules said {d.get('rules_say')}: "
        f"{'; '.join(d.get('reasons') or [])}) — {_reason(d)}"
    )


def _category(d: Mapping[str, Any]) -> str:
    if "confidence" not in d:
        return _with(f"category {d.get('category')}", _reason(d))
    text = f"category {d.get('category')} (confidence {d.get('confidence', 0):.2f}"
    if d.get("runner_up"):
        text += f", runner-up {d['runner_up']} at {d.get('runner_up_confidence', 0):.2f}"
    text += f", model {d.get('model', '?')}, threshold {d.get('threshold', '?')})"
    if d.get("team"):
        text += f", team {d['team']}"
    # The reason repeats the figures of a classified ticket; it is news only when the model said no.
    return _with(text, _reason(d)) if d.get("category") == "unclassified" else text


def _language(d: Mapping[str, Any]) -> str:
    code = d.get("language") or "undetermined"
    where = f" from message {d['message']}" if d.get("message") else ""
    return _with(f"language {code}{where}", _reason(d))


def _sentiment_dropped(d: Mapping[str, Any]) -> str:
    return (
        f"sentiment turned negative in message {d.get('message')}: {d.get('from'):+.2f} -> {d.get('to'):+.2f} "
        f"(threshold {d.get('threshold')})"
    )


def _routed(d: Mapping[str, Any]) -> str:
    text = f"routed to team {d.get('team') or '(none)'}"
    extra = []
    if d.get("priority"):
        extra.append(f"priority {d['priority']}")
    if d.get("sla_policy"):
        extra.append(f"SLA policy {d['sla_policy']}")
    if d.get("rules"):
        extra.append("rules " + ", ".join(map(_q, d["rules"])))
    return _with(text + (f" ({'; '.join(extra)})" if extra else ""), _reason(d))


def _assigned(d: Mapping[str, Any]) -> str:
    who = d.get("agent") or d.get("to") or "?"
    text = f"assigned to {who}" + (f" (was {d['previous']})" if d.get("previous") else "")
    return _with(text, _reason(d) or str(d.get("strategy") or ""))


def _status(d: Mapping[str, Any]) -> str:
    return _with(f"status {d.get('from')} -> {d.get('to')}", _reason(d))


def _message(d: Mapping[str, Any]) -> str:
    return _with(f"message {d.get('message')} received by {d.get('channel', '?')}", str(d.get("via") or ""))


def _follow_up(kind: str) -> Formatter:
    def fmt(d: Mapping[str, Any]) -> str:
        what = "possibly a follow-up of" if kind == "possible_follow_up" else "follow-up of"
        return _with(f"{what} ticket {d.get('ticket')}", _reason(d))

    return fmt


def _sla(kind: str) -> Formatter:
    def fmt(d: Mapping[str, Any]) -> str:
        verb = kind.removeprefix("sla_")
        due = d.get("due")
        dues = ", ".join(f"{k} due {v}" for k, v in due.items()) if isinstance(due, dict) else ""
        head = f"SLA {verb}" + (f", policy {d['policy']}" if d.get("policy") else "") + (f" ({dues})" if dues else "")
        why = "; ".join(x for x in (str(d.get("why") or ""), str(d.get("reason") or "")) if x)
        return _with(head, why)

    return fmt


def _plain(text: str) -> Formatter:
    return lambda d: _with(text, _reason(d))


FORMATTERS: dict[str, Formatter] = {
    "ticket_created": _created,
    "priority_set": _priority,
    "priority_changed": _priority_changed,
    "priority_not_raised": _priority_not_raised,
    "category_set": _category,
    "category_confirmed": lambda d: f"category {d.get('category')} confirmed by an agent",
    "category_corrected": lambda d: f"category corrected by an agent: {d.get('previous')} -> {d.get('category')}",
    "language_set": _language,
    "sentiment_dropped": _sentiment_dropped,
    "routed": _routed,
    "assigned": _assigned,
    "unassigned": _plain("unassigned"),
    "queued": lambda d: _with(f"waiting in the queue of team {d.get('team', '?')}", _reason(d)),
    "transferred": lambda d: _with(f"transferred from team {d.get('from')} to {d.get('to')}", _reason(d)),
    "status_changed": _status,
    "ticket_reopened": lambda d: _with(f"reopened (was {d.get('from')})", _reason(d)),
    "message_received": _message,
    "duplicate_received": lambda d: f"duplicate of message {d.get('duplicate_of')} ignored ({d.get('external_id')})",
    "possible_follow_up": _follow_up("possible_follow_up"),
    "follow_up_of": _follow_up("follow_up_of"),
    "ack_queued": lambda d: f"acknowledgement queued to {d.get('to')}",
    "ack_suppressed": lambda d: _with("no acknowledgement sent", _reason(d)),
    "sender_auth_failed": lambda d: (
        f"sender authentication failed: {d['reason']} (policy {d.get('policy', '?')})"
        if d.get("reason")
        # events from before the trusted-header rule
        else f"sender authentication failed: {', '.join(map(str, d.get('failed') or []))}"
    ),
    "identity_conflict": lambda d: _with(
        f"{d.get('kind')} {d.get('address')} belongs to customer {d.get('customer')}", _reason(d)
    ),
    "escalated": lambda d: (
        f"escalated ({d.get('step')}): "
        + ", ".join(f"{k} {v}" for k, v in d.items() if k not in ("step",) and v not in (None, "", []))
    ),
    "merged": lambda d: _with(f"ticket {d.get('from')} merged into this one", _reason(d)),
    "merged_into": lambda d: _with(f"merged into ticket {d.get('ticket')}", _reason(d)),
    "agent_replied": lambda d: f"agent replied to {d.get('to')} by {d.get('channel')} (message {d.get('message')})",
    "note_added": lambda d: f"internal note added (message {d.get('message')})",
    **{k: _sla(k) for k in ("sla_started", "sla_replanned", "sla_paused", "sla_resumed", "sla_stopped")},
}


def _generic(d: Mapping[str, Any] | None) -> str:
    if not d:
        return ""
    reason = _reason(d)
    rest = ", ".join(f"{k}={_q(v)}" for k, v in d.items() if k not in ("reason",) and not isinstance(v, (dict, list)))
    return "; ".join(x for x in (rest, reason) if x)


def describe(kind: str, data: Mapping[str, Any] | None) -> str:
    """One event as a sentence."""
    fmt = FORMATTERS.get(kind)
    if fmt is None:
        return _generic(data)
    try:
        return fmt(data or {})
    except (TypeError, ValueError, AttributeError):  # an older event shape: say what it holds
        return _generic(data)


def explain(detail: Mapping[str, Any], signals: Mapping[int, tuple[str | None, float | None]]) -> dict[str, Any]:
    """The explanation of one ticket: its state, every decision in order, and its messages' signals."""
    decisions = [
        {
            "at": e["created_at"],
            "actor": e["actor"],
            "kind": e["kind"],
            "what": describe(e["kind"], e["data"]),
            "data": e["data"],
        }
        for e in detail["events"]
    ]
    messages = []
    for msg in detail["messages"]:
        language, sentiment = signals.get(msg["id"], (None, None))
        messages.append(
            {
                "id": msg["id"],
                "direction": msg["direction"],
                "author_role": msg["author_role"],
                "channel": msg["channel"],
                "sender": msg["sender"],
                "created_at": msg["created_at"],
                "language": language,
                "sentiment": sentiment,
            }
        )
    ticket = {
        k: detail[k]
        for k in (
            "number",
            "subject",
            "status",
            "priority",
            "category",
            "team",
            "assignee",
            "language",
            "channel",
            "created_at",
        )
        if k in detail
    }
    ticket["customer"] = {
        "id": detail["customer"]["id"],
        "name": detail["customer"]["name"],
        "tier": detail["customer"].get("tier"),
    }
    from helpline.ingest.cli.explain_signals import contributions

    return {
        "ticket": ticket,
        "decisions": decisions,
        "messages": messages,
        "priority_signals": contributions(decisions),
    }


def render(out: Mapping[str, Any]) -> str:
    """The explanation as text for a terminal."""
    t = out["ticket"]
    lines = [
        f"{t['number']}  [{t['status']}/{t['priority']}]  {t['subject']}",
        f"customer {t['customer']['name'] or '(no name)'} (tier {t['customer'].get('tier') or '?'}) · "
        f"channel {t['channel']} · category {t.get('category') or '-'} · team {t.get('team') or '-'} · "
        f"assignee {t.get('assignee') or '-'} · language {t.get('language') or '-'}",
        "",
        "decisions, oldest first:",
    ]
    width = max((len(d["kind"]) for d in out["decisions"]), default=0)
    for d in out["decisions"]:
        actor = "" if d["actor"] == "system" else f" [{d['actor']}]"
        lines.append(f"  {d['at']}  {d['kind']:<{width}}  {d['what']}{actor}")
    if out.get("priority_signals"):
        from helpline.ingest.cli.explain_signals import render as render_signals

        lines += ["", *render_signals(out["priority_signals"])]
    lines += ["", "messages:"]
    for msg in out["messages"]:
        mood = "" if msg["sentiment"] is None else f" sentiment {msg['sentiment']:+.2f}"
        lines.append(
            f"  #{msg['id']} {msg['direction']:<3} {msg['created_at']} {msg['channel']:<7} "
            f"{msg['sender'] or msg['author_role']}  language {msg['language'] or '-'}{mood}"
        )
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> int:
    from helpline.store import config, db
    from helpline.store.views import queries
    from helpline.store.tickets import triage_state

    settings = config.load()
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)
    try:
        detail = queries.ticket_detail(args.number)
    except queries.TicketNotFound as exc:
        print(f"helpline explain: {exc}", file=sys.stderr)
        return 1
    detail["customer"]["tier"] = queries.customer_tier(detail["customer"]["id"])
    ticket_id = detail.get("id") or queries.ticket_id(detail["number"])
    out = explain(detail, triage_state.message_signals(ticket_id))
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    else:
        print(render(out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``helpline explain`` to the ``helpline`` parser."""
    p = sub.add_parser("explain", help="every decision made for a ticket, with its reasons")
    p.add_argument("number", help="ticket number, e.g. HL-2026-000042")
    p.add_argument("--json", action="store_true", help="the decisions as JSON")
    p.set_defaults(fn=cmd_explain)
