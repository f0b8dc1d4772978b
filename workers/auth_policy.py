"""The sender-authentication stage: what a forged-looking sender may not do.

A message whose trusted Authentication-Results shows its From address failed
(store/sender_auth.py) must not write into the ticket of the person it claims
to be: a subject tag and a From address are all an attacker needs to read
along (agents' answers go to the real customer, but the attacker's text lands
in their conversation). HELPLINE_AUTH_FAILED_POLICY says what happens instead:

- ``new_ticket`` (default): a new ticket, linked to the one the evidence
  pointed at as a possible follow-up, so an agent can still merge it;
- ``thread``: it joins as before, and agents see a warning on the message;
- ``reject``: refused at SMTP DATA when the header is already there; a
  message that arrives another way (IMAP) is quarantined.
"""
from __future__ import annotations

from helpline.store.config import Settings
from helpline.store.envelope import Envelope
from helpline.store.sender_auth import UNTRUSTED, AuthVerdict, judge

from .threads import ThreadDecision

_JOINS = frozenset({"append", "reopen", "new_follow_up"})


def verdict(env: Envelope, settings: Settings) -> AuthVerdict:
    if env.channel != "email" or not env.auth:
        return UNTRUSTED
    return judge(env.auth, settings.trusted_authserv_id, env.sender.address)


def quarantine_reason(v: AuthVerdict, policy: str) -> str:
    """Why the message is quarantined, or "" when it goes on."""
    if v.failed and policy == "reject":
        return f"sender authentication failed ({v.reason}); HELPLINE_AUTH_FAILED_POLICY=reject"
    return ""


def may_join(v: AuthVerdict, policy: str) -> bool:
    """Whether the message may join an existing ticket (thread evidence or near-duplicate merge)."""
    return not v.failed or policy == "thread"


def apply(decision: ThreadDecision, v: AuthVerdict, policy: str) -> ThreadDecision:
    """The threading decision with the policy applied: joining becomes a linked new ticket."""
    if may_join(v, policy) or decision.action not in _JOINS:
        return decision
    return ThreadDecision("new_possible_follow_up", decision.ticket_id,
                          f"{decision.reason}, but the sender failed authentication ({v.reason}): new ticket")


def warning(v: AuthVerdict) -> str:
    """The line agents see on the message; "" when there is nothing to warn about."""
    if not v.failed:
        return ""
    return f"The sender's address failed authentication at our mail server ({v.reason}): it may be forged."
