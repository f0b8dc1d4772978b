"""The pipeline's reads and writes, under the names the other workers modules still call.

They live in ``store/`` now, in modules named for what they keep: ``inbound_state`` (the inbound row),
``ticket_refs``, ``customer_refs``, ``thread_state`` (thread keys, participants, the conversation lock),
``message_state`` and ``audit_events``. New code imports those; this module only keeps the old names working
until the modules that use them call store directly (ARCHITECTURE.md, "store/").
"""
from __future__ import annotations

from helpline.store.audit_events import buffered_events, event
from helpline.store.customer_refs import CustomerRef
from helpline.store.customer_refs import create as create_customer
from helpline.store.customer_refs import find as find_customer
from helpline.store.inbound_state import update as update_inbound
from helpline.store.message_state import add_inbound as add_message
from helpline.store.message_state import add_outbound as add_outbound_message
from helpline.store.thread_state import add_participants, add_thread_keys, participants_of
from helpline.store.ticket_refs import as_datetime
from helpline.store.ticket_refs import create as create_ticket
from helpline.store.ticket_refs import get as get_ticket
from helpline.store.ticket_refs import update as update_ticket

__all__ = ["CustomerRef", "add_message", "add_outbound_message", "create_customer", "create_ticket", "add_participants", "add_thread_keys",
           "as_datetime", "buffered_events", "event", "find_customer", "get_ticket", "participants_of",
           "update_inbound", "update_ticket"]
