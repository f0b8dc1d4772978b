"""``helpline teams …``, ``helpline agents …`` and the ticket operations
``helpline tickets assign|transfer|status|priority|merge``.

``register(subparsers, tickets_subparsers)`` adds them to the ``helpline``
parser. Bulk operations take several ticket numbers; each ticket is changed in
a transaction of its own and reported on its own line, so one refused change
(an invalid status transition, an agent at capacity) does not undo the others;
the exit status is 1 when any was refused. Every change is an audit event with
the actor (``--actor``, default ``cli:$USER``) and the reason.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _settings():  # noqa: ANN202
    from helpline.store import config, db

    s = config.load()
    db.init(s.effective_database_url, s.db_busy_timeout_ms)
    return s


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return args.actor
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _acting(args: argparse.Namespace) -> tuple[Any, str]:
    """(who acts, the events' actor) of a ticket operation. ``--actor EMAIL`` must be an active agent, whose role
    then bounds what the command may do; without it the operator acts as admin, and the events say so."""
    from helpline.store.access import agent_roles

    if not args.actor:
        return agent_roles.OPERATOR, _actor(args) + " (operator, as admin)"
    info = agent_roles.by_email(args.actor)
    if info is None:
        print(
            f"helpline tickets: --actor {args.actor!r} is not an active agent (`helpline agents list` shows them; "
            "leave --actor out to act as the operator)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return info, info.email


def _allow(who: Any, action: str, t: Any) -> None:
    """Raise ``PermissionDenied`` when ``who`` may not do ``action`` on ticket state ``t``."""
    from helpline.router import permissions
    from helpline.store.access import agent_roles

    permissions.require(who, action, agent_roles.ticket_facts(ticket_id=t.id))


# ---- teams ---------------------------------------------------------------------------------
def _unknown_categories(cfg: Any, settings: Any) -> list[str]:
    """Categories the file's teams and routing rules name that neither the packaged default nor the
    active model knows (old default labels count as known through their mapping)."""
    from helpline.router.categories.category import active_labels, models_dir_for
    from helpline.router.categories.default_labels import LABELS, unknown_categories

    named = [c for t in cfg.teams for c in t.categories] + [c for r in cfg.rules for c in r.category]
    return unknown_categories(named, [*LABELS, *active_labels(models_dir_for(settings))])


def cmd_teams(args: argparse.Namespace) -> int:
    from helpline.store.siteconfig import config_file
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx

    if args.teams_action == "sync":
        from helpline.store import config

        s = config.load()
        path = args.file or s.config_file
        if not path:
            print(
                "helpline teams sync: no configuration file: set HELPLINE_CONFIG_FILE or give --file", file=sys.stderr
            )
            return 2
        cfg = config_file.load_path(path)
        if args.check:
            summary = {
                "file": path,
                "teams": len(cfg.teams),
                "agents": len(cfg.agents),
                "calendars": len(cfg.calendars),
                "routing_rules": len(cfg.rules),
                "sla_policies": len(cfg.policies),
                "escalation_rules": len(cfg.escalations),
            }
            unknown = _unknown_categories(cfg, s)
            summary["unknown_categories"] = unknown
            _print_json(summary) if args.json else print(
                f"{path}: valid: "
                + ", ".join(
                    f"{v} {k.replace('_', ' ')}" for k, v in summary.items() if k not in ("file", "unknown_categories")
                )
            )
            if unknown:
                print(
                    f"helpline teams sync: warning: no category model knows {', '.join(unknown)}: teams and rules "
                    "naming them never match a classified ticket (see `helpline model list`)",
                    file=sys.stderr,
                )
            return 0
        _settings()
        report = run_tx(lambda: routing_state.sync(cfg)).as_dict()
        if args.json:
            _print_json(report)
        else:
            for key, names in report.items():
                if names:
                    print(f"{key.replace('_', ' ')}: {', '.join(names)}")
            if not any(report.values()):
                print("teams and agents are up to date")
        from helpline.workers.tickets.ticket_ops import offer_queue

        offer_queue(s)  # new agents or capacity may take queued tickets at once
        return 0
    _settings()
    rows = routing_state.list_teams()
    if args.json:
        _print_json(rows)
        return 0
    for t in rows:
        flags = (" (default)" if t["default"] else "") + ("" if t["active"] else " (inactive)")
        print(
            f"{t['name']:<16} {t['strategy']:<13} queued={t['queued']:<4} agents={','.join(t['agents']) or '-'}{flags}"
        )
    return 0


# ---- agents ------------------------------------------------------------------------------------
def cmd_agents(args: argparse.Namespace) -> int:
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow

    s = _settings()
    if args.agents_action == "set-availability":
        ok = run_tx(lambda: routing_state.set_availability(args.email, args.availability, utcnow()))
        if not ok:
            print(
                f"helpline agents: no active agent {args.email!r}; `helpline agents list` shows them", file=sys.stderr
            )
            return 1
        print(f"{args.email.lower()}: {args.availability}")
        if args.availability == "available":
            from helpline.workers.tickets.ticket_ops import offer_queue

            for team in routing_state.agent_teams(args.email):
                got = offer_queue(s, team=team)
                if got:
                    print(f"team {team}: {got} queued ticket(s) assigned")
        return 0
    rows = routing_state.list_agents(args.team)
    if args.json:
        _print_json(rows)
        return 0
    for a in rows:
        skills = ",".join(f"{k}:{v}" for k, v in a["skills"].items()) or "-"
        role = (
            a["role"] + ("" if a["role_configured"] else " (default)") + "".join(f", lead of {t}" for t in a["lead_of"])
        )
        print(
            f"{a['email']:<32} role={role:<16} tier={a['tier']} open={a['open']}/{a['capacity']:<4} {a['availability']:<9} "
            f"teams={','.join(a['teams']) or '-'} skills={skills}" + ("" if a["active"] else " (inactive)")
        )
    return 0


# ---- ticket operations -------------------------------------------------------------------------
@dataclass(frozen=True)
class Acting:
    """Who runs a ticket operation (``_acting``), the events' actor, and the loaded settings."""

    settings: Any
    who: Any
    actor: str

    @classmethod
    def of(cls, args: argparse.Namespace) -> "Acting":
        settings = _settings()
        who, actor = _acting(args)
        return cls(settings, who, actor)


# The permission an operation needs: a name, or one that depends on (who acts, the ticket's state).
Permission = str | Callable[[Any, Any], str]


def _each(
    args: argparse.Namespace,
    permission: Permission,
    op: Callable[[Any, Any, Acting], str],
    acting: Acting | None = None,
) -> int:
    """For every number, in one transaction each: check ``permission`` and run ``op(ticket_state, now, acting)``;
    report each line."""
    from helpline.router.lifecycle import InvalidTransition
    from helpline.router.permissions import PermissionDenied
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx
    from helpline.store.clock import utcnow
    from helpline.workers.tickets import ticket_ops
    from helpline.store.inbound import audit_events

    acting = acting or Acting.of(args)
    ids = run_tx(lambda: routing_state.ids_of(args.numbers), durable=False)
    results: list[dict[str, str]] = []
    failed = 0
    for number in args.numbers:
        key = number.strip().upper()
        if key not in ids:
            results.append({"ticket": key, "error": f"no ticket {key}; `helpline tickets list` shows the numbers"})
            failed += 1
            continue

        def tx(tid: int = ids[key]) -> str:
            with audit_events.buffered_events():
                t = ticket_ops.load(tid)
                _allow(acting.who, permission if isinstance(permission, str) else permission(acting.who, t), t)
                return op(t, utcnow(), acting)

        try:
            results.append({"ticket": key, "result": run_tx(tx)})
        except (ticket_ops.TicketOpError, InvalidTransition, PermissionDenied) as exc:
            results.append({"ticket": key, "error": str(exc)})
            failed += 1
    ticket_ops.offer_queue(acting.settings)  # agents freed by these changes take queued tickets
    if args.json:
        _print_json(results)
    else:
        for r in results:
            if "error" in r:
                print(f"{r['ticket']}: refused: {r['error']}", file=sys.stderr)
            else:
                print(f"{r['ticket']}: {r['result']}")
    return 1 if failed else 0


def cmd_assign(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_ops

    from helpline.router.permissions import assign_action

    def op(t: Any, now: Any, a: Acting) -> str:
        ticket_ops.assign_to(
            t, args.agent, now=now, settings=a.settings, actor=a.actor, reason=args.reason, force=args.force
        )
        return f"assigned to {t.assignee} ({t.status})"

    return _each(args, lambda who, t: assign_action(who, args.agent, t.assignee), op)


def cmd_transfer(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_ops

    def op(t: Any, now: Any, a: Acting) -> str:
        ticket_ops.transfer(
            t,
            args.team,
            now=now,
            settings=a.settings,
            actor=a.actor,
            reason=args.reason,
            agent=args.agent,
            force=args.force,
        )
        return f"team {t.team}, " + (f"assigned to {t.assignee}" if t.assignee else "in the team queue")

    return _each(args, "transfer", op)


def _set(args: argparse.Namespace, permission: str, field: str, change: Callable[..., None], reason: str) -> int:
    """Set ``field`` of every ticket named to ``args.to`` with ``change``; each line says what it was."""
    label = "" if field == "status" else f"{field} "

    def op(t: Any, now: Any, a: Acting) -> str:
        was = getattr(t, field)
        change(t, args.to, now=now, settings=a.settings, actor=a.actor, reason=reason)
        new = getattr(t, field)
        return f"{label}{was} -> {new}" if was != new else f"{label}already {new}"

    return _each(args, permission, op)


def cmd_status(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_ops

    def change(t: Any, to: str, *, now: Any, settings: Any, actor: Any, reason: str) -> None:
        if t.status == "spam" and to == "new":  # as `tickets not-spam`: the whole normal flow
            from helpline.workers.tickets import spam_stage

            spam_stage.release(t, now=now, settings=settings, actor=actor)
        else:
            ticket_ops.change_status(t, to, now=now, settings=settings, actor=actor, reason=reason)

    return _set(args, "status", "status", change, args.reason or "set by hand")


def cmd_priority(args: argparse.Namespace) -> int:
    from helpline.workers.tickets import ticket_ops

    return _set(args, "triage", "priority", ticket_ops.set_priority, args.reason)


def cmd_merge(args: argparse.Namespace) -> int:
    from helpline.store.tickets import routing_state
    from helpline.store.db import run_tx
    from helpline.workers.tickets import ticket_ops

    acting = Acting.of(args)
    into = args.into.strip().upper()
    target_id = run_tx(lambda: routing_state.ids_of([into]), durable=False).get(into)
    if target_id is None:
        print(f"helpline tickets merge: no ticket {into}", file=sys.stderr)
        return 1

    def op(t: Any, now: Any, a: Acting) -> str:
        ticket_ops.merge(t, ticket_ops.load(target_id), now=now, settings=a.settings, actor=a.actor, reason=args.reason)
        return f"merged into {into}"

    return _each(args, "merge", op, acting)


# ---- the parser ------------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("numbers", nargs="+", metavar="NUMBER", help="ticket numbers (HL-2026-000042 ...)")
    p.add_argument("--reason", default="", help="recorded in the audit event")
    p.add_argument(
        "--actor",
        default="",
        metavar="EMAIL",
        help="the agent doing it: their role must allow it (default: the operator, as admin)",
    )
    p.add_argument("--json", action="store_true")


def register(subparsers: Any, tickets: Any) -> None:
    """Add ``teams`` and ``agents`` to the ``helpline`` parser, and the operations to ``helpline tickets``."""
    from helpline.router.lifecycle import STATUSES
    from helpline.store.siteconfig.config_file import AVAILABILITY, PRIORITIES

    t = subparsers.add_parser("teams", help="teams: sync from the configuration file, list")
    tsub = t.add_subparsers(dest="teams_action", required=True)
    sy = tsub.add_parser("sync", help="upsert teams and agents from HELPLINE_CONFIG_FILE (availability is kept)")
    sy.add_argument("--file", help="another TOML file than HELPLINE_CONFIG_FILE")
    sy.add_argument("--check", action="store_true", help="only parse and validate the file")
    sy.add_argument("--json", action="store_true")
    tl = tsub.add_parser("list", help="teams with strategy, queue length and agents")
    tl.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_teams)

    a = subparsers.add_parser("agents", help="agents: list, set availability")
    asub = a.add_subparsers(dest="agents_action", required=True)
    al = asub.add_parser("list", help="agents with role, tier, load, availability, teams and skills")
    al.add_argument("--team")
    al.add_argument("--json", action="store_true")
    av = asub.add_parser("set-availability", help="available, busy, away or offline (available takes queued tickets)")
    av.add_argument("email")
    av.add_argument("availability", choices=AVAILABILITY)
    a.set_defaults(fn=cmd_agents)

    p = tickets.add_parser("assign", help="assign tickets to an agent of their team")
    _common(p)
    p.add_argument("--agent", required=True, help="the agent's email")
    p.add_argument("--force", action="store_true", help="even beyond capacity, unavailable or outside the team")
    p.set_defaults(fn=cmd_assign)
    p = tickets.add_parser("transfer", help="move tickets to another team (and agent)")
    _common(p)
    p.add_argument("--team", required=True)
    p.add_argument("--agent", help="an agent of the new team (default: the team's strategy picks)")
    p.add_argument("--force", action="store_true", help="assign --agent even beyond capacity")
    p.set_defaults(fn=cmd_transfer)
    p = tickets.add_parser("status", help="change the status of tickets (only valid transitions)")
    _common(p)
    p.add_argument("--to", required=True, choices=STATUSES)
    p.set_defaults(fn=cmd_status)
    p = tickets.add_parser("priority", help="change the priority of tickets (SLA clocks are re-planned)")
    _common(p)
    p.add_argument("--to", required=True, choices=PRIORITIES)
    p.set_defaults(fn=cmd_priority)
    p = tickets.add_parser("merge", help="merge tickets into another one")
    _common(p)
    p.add_argument("--into", required=True, help="the ticket that stays")
    p.set_defaults(fn=cmd_merge)
