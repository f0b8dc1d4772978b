"""The clock the rest of the code reads: naive UTC, or a history import's message date (``import_mode``)."""
from __future__ import annotations

from .models import utcnow

__all__ = ["utcnow"]
