"""The status vocabularies of inbound rows, tickets and outbox rows, for code outside ``store/``.

They are defined with the tables (``models.py``); this module re-exports them so that the other packages
can compare statuses without importing the models (ARCHITECTURE.md: queries live in ``store/``).
"""
from __future__ import annotations

from .models import InboundStatus, OutboxStatus, TicketStatus

__all__ = ["InboundStatus", "OutboxStatus", "TicketStatus"]
