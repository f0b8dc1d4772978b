"""The sender-authentication stage: what a forged-looking sender may not do.

A message whose trusted Authentication-Results shows its From address failed
(store/inbound/sender_auth.py) must not write into the ticket of the person it claims
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
from helpline.store.inbound.sender_auth import UNTRUSTED, AuthVerdict, headers_of, judge, judge_header

from helpline.workers.inbound.threads import ThreadDecision

_JOINS = frozenset({"append", "reopen", "new_follow_up"})


def verdict(env: Envelope, settings: Settings) -> AuthVerdict:
    if env.channel != "email" or not env.auth:
        return UNTRUSTED
    return judge(env.auth, settings.trusted_authserv_id, env.sender.address, settings.auth_alignment)


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
    return ThreadDecision(
        "new_possible_follow_up",
        decision.ticket_id,
        f"{decision.reason}, but the sender failed authentication ({v.reason}): new ticket",
    )


def ack_refusal(env: Envelope, v: AuthVerdict) -> str:
    """Why a new ticket from this message gets no acknowledgement ("" when it may).

    A forged From makes the acknowledgement backscatter: mail from us to
    someone who never wrote. The trusted MTA's verdict decides; with none
    configured, a topmost header saying DMARC failed still stops it, since
    believing a header only to send less mail cannot be abused."""
    if v.failed:
        return f"sender_auth_failed: {v.reason}"
    if not v.trusted and env.channel == "email":
        top = headers_of(env.auth)[:1]
        if top and judge_header(top[0], env.sender.address, trusted=False).dmarc_failed:
            return "sender_auth_failed: the topmost Authentication-Results says dmarc=fail"
    return ""


def ack_may_echo(env: Envelope, v: AuthVerdict, recipient: str) -> bool:
    """Whether the acknowledgement may repeat the subject and the sender's name.

    Only to an address authentication vouched for: the trusted MTA found the
    From domain authenticated, and the acknowledgement goes to that domain
    (the From address or a Reply-To beside it). Otherwise anyone could have us
    mail their chosen subject line to anyone. Other channels keep their own
    rule (workers/inbound/api_messages.py)."""
    if env.channel != "email":
        return True
    from_domain = env.sender.address.rpartition("@")[2].lower()
    return v.vouched and bool(from_domain) and recipient.rpartition("@")[2].lower() == from_domain


def warning(v: AuthVerdict) -> str:
    """The line agents see on the message; "" when there is nothing to warn about."""
    if not v.failed:
        return ""
    return f"The sender's address failed authentication at our mail server ({v.reason}): it may be forged."
