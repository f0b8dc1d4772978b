"""The clock every row is stamped with, for code outside store/ that must not import the models.

Naive UTC; during a history import, the imported message's own date (``store/import_mode.py``).
"""
from __future__ import annotations

from .models import utcnow

__all__ = ["utcnow"]
