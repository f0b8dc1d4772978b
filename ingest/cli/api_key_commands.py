"""``helpline api-keys create|list|revoke``: bearer keys for the public HTTP API.

``create`` prints the key once, on stdout alone (so ``KEY=$(helpline api-keys
create …)`` works); only its hash is stored, so a lost key is revoked and
replaced, never shown again. ``register(subparsers)`` adds the command to the
``helpline`` parser.
"""

from __future__ import annotations

import argparse
import json
import sys


def _db() -> None:
    from helpline.store import config, db

    settings = config.load()
    db.init(settings.effective_database_url, settings.db_busy_timeout_ms)


def _may_manage(args: argparse.Namespace) -> bool:
    """``--actor EMAIL`` must be an agent whose role may manage API keys (admin); without it the operator may."""
    from helpline.router import permissions
    from helpline.store.access import agent_roles

    if not getattr(args, "actor", ""):
        return True
    decision = permissions.decide(agent_roles.by_email(args.actor), "api_keys")
    if not decision.allowed:
        print(f"helpline api-keys: refused for {args.actor}: {decision.message}", file=sys.stderr)
    return decision.allowed


def cmd_create(args: argparse.Namespace) -> int:
    from helpline.store.access.api_keys import ApiKeyError, create

    _db()
    if not _may_manage(args):
        return 2
    try:
        key = create(args.name, args.scope, team=args.team, agent=args.agent)
    except ApiKeyError as exc:
        print(f"helpline api-keys: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "id": key.id,
                    "name": key.name,
                    "scopes": list(key.scopes),
                    "team": key.team,
                    "agent": key.agent,
                    "key": key.key,
                }
            )
        )
    else:
        print(key.key)
        team = (f", team: {key.team}" if key.team else "") + (f", agent: {key.agent}" if key.agent else "")
        print(
            f"API key {key.id} ({key.name}, scopes: {', '.join(key.scopes)}{team}) created. It is shown this once; "
            "store it now. Use it as: Authorization: Bearer <key>",
            file=sys.stderr,
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from helpline.store.access.api_keys import list_keys

    _db()
    rows = list_keys(include_revoked=args.all)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        print(
            f"{r['id']:>4}  {r['prefix']}…  {r['name'][:30]:<30} {','.join(r['scopes']):<12} "
            f"{'team ' + r['team'] + '  ' if r.get('team') else ''}{'agent ' + r['agent'] + '  ' if r.get('agent') else ''}created {r['created_at']}  last used {r['last_used_at'] or 'never'}  {state}"
        )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from helpline.store.access.api_keys import ApiKeyError, revoke

    _db()
    if not _may_manage(args):
        return 2
    try:
        changed = revoke(args.id)
    except ApiKeyError as exc:
        print(f"helpline api-keys: {exc}", file=sys.stderr)
        return 1
    print(f"API key {args.id} {'revoked' if changed else 'was already revoked'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # noqa: SLF001
    p = sub.add_parser("api-keys", help="bearer keys for the public HTTP API")
    ksub = p.add_subparsers(dest="action", required=True)
    c = ksub.add_parser("create", help="make a key and print it once")
    c.add_argument("--name", required=True, help="who or what uses the key (its webhook source name)")
    c.add_argument(
        "--scope",
        action="append",
        required=True,
        help="what the key may do (repeatable): ingest (post messages), read (the ticket API's GETs), "
        "write (replies, notes, changes; includes read), admin (everything, bulk too), "
        "pii (answers carry personal data unmasked)",
    )
    c.add_argument("--team", help="the key sees and changes only this team's tickets")
    c.add_argument(
        "--agent",
        metavar="EMAIL",
        help="a personal key: it acts as this agent, may do only what both "
        "its scopes and the agent's role allow, and authors as them",
    )
    c.add_argument("--json", action="store_true")
    c.add_argument(
        "--actor", default="", metavar="EMAIL", help="the agent doing it (must be admin; default: the operator)"
    )
    c.set_defaults(fn=cmd_create)
    ls = ksub.add_parser("list", help="keys with their prefix, scopes and last use (never the key)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(fn=cmd_list)
    r = ksub.add_parser("revoke", help="revoke a key by its id; effective on the next request")
    r.add_argument("id", type=int)
    r.add_argument("--actor", default="", metavar="EMAIL", help="the agent doing it (must be admin)")
    r.set_defaults(fn=cmd_revoke)
