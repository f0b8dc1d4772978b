"""What Slack shows of a ticket, read from the store when the message is sent.

Rendering at send time rather than at enqueue time means a parent message
always shows the ticket as it is now: a retried post after an outage, or the
one ``chat.update`` that several quick changes were coalesced into, carries the
latest status, priority and assignee.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpline.store.storage import download_links
from helpline.store.tickets import routing_state
from helpline.store.views import slack_card_reads
from helpline.store.channels import slack_state
from helpline.store.tickets import tags
from helpline.store.config import Settings

from helpline.notifier.slack.slack_blocks import TicketCard

if TYPE_CHECKING:
    from helpline.store.models import Message


def _files(message_id: int, settings: Settings | None) -> list[tuple]:
    """(name, size, link) of a message's attachments; the link is fresh on every render (a parent
    updated later carries links valid from then) and "" when links cannot be made."""
    if settings is not None and download_links.can_link(settings):  # a withheld file: its notice, no link
        return [
            (f"{a.filename} ({a.withheld})" if a.withheld else a.filename, a.size, a.url)
            for a in download_links.of_message(settings, message_id)
        ]
    return list(slack_card_reads.listed_files(message_id))


def load_card(ticket_id: int, settings: Settings | None = None) -> TicketCard | None:
    """The ticket's card; None when the ticket no longer exists. With ``settings`` that can sign
    them, the first message's files are signed download links."""
    ticket = slack_card_reads.ticket(ticket_id)
    if ticket is None:
        return None
    first = slack_card_reads.first_customer_message(ticket_id)
    customer = slack_card_reads.customer(ticket.customer_id)
    confidence = None
    cat_event = slack_card_reads.last_category_event(ticket_id)
    if (
        cat_event is not None
        and cat_event.kind == "category_set"
        and isinstance(cat_event.data, dict)
        and cat_event.data.get("confidence") is not None
    ):  # an agent's choice has no model confidence
        confidence = float(cat_event.data["confidence"])
    attachments = _files(first.id, settings) if first is not None else []
    return TicketCard(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        channel=ticket.channel,
        customer_name=(customer.name if customer else "") or (first.author if first else ""),
        customer_address=first.sender if first else "",
        category=ticket.category or "",
        category_confidence=confidence if ticket.category else None,
        team=ticket.team or "",
        assignee=slack_state.assignee_label(ticket.assignee),
        sla_due=min((r.due_at for r in routing_state.sla_rows(ticket_id, open_only=True) if r.due_at), default=None),
        first_text=first.text if first else "",
        attachments=attachments,
        created_at=ticket.created_at,
        first_message_id=first.id if first else 0,
        tags=tags.tags_of(ticket_id),
    )


def load_message(message_id: int, settings: Settings | None = None) -> tuple[Message, list[tuple]] | None:
    msg = slack_card_reads.message(message_id)
    if msg is None:
        return None
    return msg, _files(message_id, settings)
