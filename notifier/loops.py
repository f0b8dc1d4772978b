"""Loop and spam-storm protection for automatic replies (ARCHITECTURE.md, "Guarantees").

Plain functions without I/O: the caller counts recent acks in the outbox and
passes the numbers in, so the decision is a table-testable function. Every
"no" carries a short snake_case reason that ends up in an event, so an agent
can see why a customer got no acknowledgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from helpline.store.envelope import Envelope

from helpline.notifier.addresses import addr_spec, canonical, is_sane, local_part, single_address


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str


SEND = Decision(True, "ok")

_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply", "auto-reply"})

# Local parts that belong to machines: replying to them bounces at best and
# starts a loop at worst.
_MACHINE_EXACT = frozenset(
    {
        "mailer-daemon",
        "mailerdaemon",
        "postmaster",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "dontreply",
        "dont-reply",
        "bounce",
        "bounces",
        "listserv",
        "majordomo",
        "root",
        "daemon",
        "nobody",
    }
)
_MACHINE_PATTERNS = (
    re.compile(r"^(no|do-?not|dont)[-_.]?reply"),  # noreply-alerts, do-not-reply.billing
    re.compile(r"^bounces?([-_.=]|$)"),  # bounce-123, bounces=...
    re.compile(r"[-_.]bounces?$"),  # list-bounces (Mailman)
    re.compile(r"^owner-|-request$"),  # Majordomo/Mailman owner and request robots
    re.compile(r"^mailer[-_.]?daemon"),
)


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "automatic"


def _automatic_reason(env: Envelope) -> str:
    """Why the message itself is machine-made, or "" when it looks human."""
    ar = env.auto_reply
    if ar.bounce:
        return "bounce"
    if ar.auto_submitted and ar.auto_submitted.strip().lower() != "no":
        return "auto_submitted"
    precedence = (ar.precedence or "").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return "precedence_" + _snake(precedence)
    if ar.list_id:
        return "mailing_list"
    if ar.reasons:
        return _snake(str(ar.reasons[0]))
    return ""


def is_machine_address(addr: str) -> bool:
    """True for no-reply, MAILER-DAEMON, postmaster, bounce and list-robot addresses."""
    local = local_part(addr)
    return local in _MACHINE_EXACT or any(p.search(local) for p in _MACHINE_PATTERNS)


def is_own_address(addr: str, own_addresses: Sequence[str]) -> bool:
    """True when ``addr`` is one of ours, plus-variants included."""
    key = canonical(addr)
    return any(key == canonical(addr_spec(o) or o) for o in own_addresses if o)


def reply_address(env: Envelope) -> str:
    """Where an automatic reply goes: a single sane Reply-To, else the sender.

    A Reply-To naming several addresses, or garbage, is ignored rather than
    trusted, since replying to many addresses at once is what spammers want.
    """
    reply_to = single_address(list(env.reply_to))
    if reply_to and is_sane(reply_to):
        return reply_to
    return addr_spec(env.sender.address)


def autoreply_decision(
    env: Envelope,
    *,
    own_addresses: Sequence[str],
    sent_to_address_last_hour: int,
    sent_total_last_hour: int,
    per_address_limit: int,
    global_limit: int,
) -> Decision:
    """Whether this message may get an automatic acknowledgement, and why not.

    Checked cheapest-first; the first reason wins. A null sender (``MAIL
    FROM:<>``) is a notification by definition (RFC 5321 §4.5.5) even when it
    carries a Reply-To.
    """
    reason = _automatic_reason(env)
    if reason:
        return Decision(False, reason)
    if not addr_spec(env.sender.address) and env.channel == "email":
        return Decision(False, "null_sender")
    recipient = reply_address(env)
    if not recipient:
        return Decision(False, "no_recipient")
    if not is_sane(recipient):
        return Decision(False, "invalid_recipient")
    if is_own_address(recipient, own_addresses) or is_own_address(addr_spec(env.sender.address), own_addresses):
        return Decision(False, "own_address")
    if is_machine_address(recipient):
        return Decision(False, "no_reply_address")
    if sent_to_address_last_hour >= per_address_limit:
        return Decision(False, "rate_limited_address")
    if sent_total_last_hour >= global_limit:
        return Decision(False, "rate_limited_global")
    return SEND
