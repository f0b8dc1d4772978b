"""``ticket_ops.TicketState`` is built positionally from store's ``ticket_lookups.TicketRow``: same fields,
same order, or a column would land in the wrong attribute."""

from __future__ import annotations

import dataclasses

from helpline.store.tickets.ticket_lookups import TicketRow
from helpline.workers.tickets.ticket_ops import TicketState


def test_ticket_state_has_the_row_fields_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(TicketState)) == TicketRow._fields
