"""The Reveal button under a Slack post whose personal data was masked: answered at the edge, ephemerally.

Only an agent whose role may see personal data (``see_pii``) gets the text,
and only of a message of the ticket whose thread holds the button; every
reveal is an audited ``pii_revealed`` event. The text goes to the presser
alone (``response_type: ephemeral``), never into the channel."""

from __future__ import annotations

from helpline.router import permissions
from helpline.store.access import agent_roles
from helpline.store.privacy import pii_reveal
from helpline.store.channels import slack_state

from helpline.ingest.channels import slack_permissions

MAX_SHOWN = 2900  # a section's text is limited to 3000 characters


def reveal(user: str, listed: bool, channel: str, thread_ts: str, message_id: int) -> tuple[bool, str]:
    """(done, what to tell the presser). Runs off the event loop."""
    actor = slack_permissions.actor_of(user, listed)
    tid = slack_state.ticket_of(channel, thread_ts) if channel and thread_ts else None
    facts = agent_roles.ticket_facts(ticket_id=tid) if tid is not None else None
    decision = permissions.decide(actor, "see_pii", facts)
    if not decision.allowed:
        return False, decision.message
    if facts is None:
        return False, "This button is not on a ticket's message."
    got = (
        pii_reveal.reveal(message_id, actor=actor.label if actor else f"slack:{user}", via="slack", role=decision.role)
        if pii_reveal.message_of_ticket(message_id, facts.id)
        else None
    )
    if got is None:
        return False, "That message is not part of this ticket."
    text = got.text if len(got.text) <= MAX_SHOWN else got.text[:MAX_SHOWN] + "…"
    return True, f"Unmasked, for you only (this view is recorded):\n{text}"
