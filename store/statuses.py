"""The status vocabularies of tickets, inbound rows and outbox rows, for code outside store/.

Constants only: the models keep the columns (``store/models.py``); code in
workers/, notifier/, router/ and ingest/ names a status through here instead
of importing the models.
"""
from __future__ import annotations

from .models import InboundStatus, OutboxStatus, TicketStatus

__all__ = ["InboundStatus", "OutboxStatus", "TicketStatus"]
