"""The headers a spam verdict is read from, kept in message order with the Authentication-Results ones.

A spam filter's verdict (``X-Spam-Flag``, ``X-Spam-Status``, rspamd's
``X-Spamd-Result`` and ``X-Spam``) counts only when the trusted MTA wrote it,
i.e. when it sits above that MTA's Authentication-Results header: a sender can
put any of these headers into a message, but only below what the MTA
prepends. Which MTA is trusted is the worker's setting
(HELPLINE_TRUSTED_AUTHSERV_ID), so the envelope keeps the relevant headers in
their order (``metadata["mta_headers"]``) and ``workers/tickets/spam_stage.py``
decides. Only mail that has one of the spam headers carries the list.
"""

from __future__ import annotations

from email.message import Message

SPAM_HEADERS = ("x-spam-flag", "x-spam-status", "x-spamd-result", "x-spam")
KEPT = ("authentication-results", *SPAM_HEADERS)
MAX_KEPT = 32  # a flood of forged headers below the MTA's is of no use to anyone
MAX_VALUE = 1000


def collect(msg: Message) -> list[list[str]]:
    """``[[name, value], ...]`` of the spam and Authentication-Results headers, topmost first; [] when the
    message has no spam header at all."""
    out: list[list[str]] = []
    for name, value in msg.raw_items():
        key = name.strip().lower()
        if key in KEPT and len(out) < MAX_KEPT:
            text = value if isinstance(value, str) else str(value)
            out.append([key, " ".join(text.split())[:MAX_VALUE]])
    return out if any(k in SPAM_HEADERS for k, _ in out) else []
