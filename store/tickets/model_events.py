"""The category model's events: when the gated retrain last decided (``category_model_gate``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from helpline.store import models as m

GATE_EVENT = "category_model_gate"


def last_gate_at() -> dt.datetime | None:
    """When the last gated retrain recorded its decision; None when none has."""
    row = (
        m.Event.select(m.Event.created_at)
        .where(m.Event.kind == GATE_EVENT)
        .order_by(m.Event.created_at.desc())
        .limit(1)
        .tuples()
        .first()
    )
    return row[0] if row else None


def record_gate(data: dict[str, Any]) -> None:
    """Record a gated retrain's decision (version, verdict, figures) as the audit trail's event."""
    m.Event.create(ticket=None, actor="model-gate", kind=GATE_EVENT, data=data)
