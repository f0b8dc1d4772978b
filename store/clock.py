"""The store's clock, for code outside ``store/``: naive UTC, the form every stored time takes (or, during a
history import, the imported message's own date: ``store/import_mode.py``).

It lives with the models (``models.utcnow``, their column defaults); this module hands it on so that
``ingest/``, ``workers/`` and the rest need not import the models to read the time.
"""

from __future__ import annotations

from helpline.store.models import utcnow

__all__ = ["utcnow"]
