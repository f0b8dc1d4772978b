"""Duplicate detection beyond the exact (channel, external id, content) key.

The exact case never reaches a worker: the inbound row's unique key turns a
re-delivery into a no-op at intake. Here we catch the same sender sending the
same body again under a new id (a client that re-sends, a customer who clicks
send twice) within a window: it is recorded on the existing ticket instead of
opening a second one.
"""

from __future__ import annotations

import hashlib
import re

from helpline.store.envelope import Envelope

_WS = re.compile(r"\s+")


def body_hash(env: Envelope) -> str:
    """Hash of the new text (case and white space folded) and the attachments, or "" if empty."""
    text = _WS.sub(" ", (env.text or env.full_text or "").strip().lower())
    atts = sorted(a.sha256 for a in env.attachments)
    if not text and not atts:
        return ""
    return hashlib.sha256("\x00".join([text, *atts]).encode()).hexdigest()
