"""An agent's click or shortcut in Slack, handed to intake as the message event it stands for.

"Reply to customer" on a message, Send or Edit on a suggested answer, and a
macro each become a synthetic Events API ``message`` by the agent (its ``via``
says which), accepted durably like any event and handled by the worker as that
agent's message in the ticket's thread (``workers/slack/slack_replies.py``): one
path, with its undo window, for everything an agent sends a customer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from helpline.ingest.intake import IntakeResult, Rejected, TemporaryIntakeError

log = logging.getLogger("helpline.ingest")
KIND = "slack"
NOT_RECORDED = ":warning: Helpline could not record that; please try again."


async def record(
    *, intake: Any, run_blocking: Any, users: Any, author: str, synthetic: dict[str, Any], what: str, context: str
) -> IntakeResult | None:
    """Accept ``synthetic`` as agent ``author``'s message. None when intake refused it or could not keep it,
    logged as ``event=<what>_not_recorded <context>``: the caller tells the agent to try again
    (``NOT_RECORDED``)."""
    name, email = await users.lookup(author)
    meta = {"role": "agent", "user_name": name, "user_email": email, "intake": False}
    try:
        result: IntakeResult = await run_blocking(intake.accept_request, KIND, json.dumps(synthetic).encode(), meta)
    except (Rejected, TemporaryIntakeError) as exc:
        log.warning("event=%s_not_recorded %s error=%s", what, context, exc)
        return None
    return result
