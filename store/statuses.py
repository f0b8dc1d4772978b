"""The status vocabularies of inbound rows, tickets and outbox rows, for code outside ``store/``.

They are defined with the models (``models.InboundStatus`` …), whose column defaults use them; this module
hands them on so that ``ingest/``, ``workers/`` and the rest compare statuses without importing the models.
"""

from __future__ import annotations

from helpline.store.models import InboundStatus, OutboxStatus, TicketStatus

__all__ = ["InboundStatus", "OutboxStatus", "TicketStatus"]
