"""An erasure's provider side: the bot's Slack posts overwritten, Twilio's copies deleted.

Slack keeps what the bot posted until it is changed; the bot may edit only
its own messages (``chat.update``), so each of them is replaced by one line
saying the content was erased. Agents' and customers' own messages cannot be
edited with a bot token: the erasure report lists them for a workspace admin.
Twilio keeps every message body and MMS media file of the account until they
are deleted through its REST API (DELETE on the Message and Media
resources); media go first, since deleting a message may leave its media.
"Not found" at either provider means there is nothing left to delete: done.
"""

from __future__ import annotations

import logging
from typing import Any

from helpline.store.config import Settings
from helpline.store.lifecycle import tasks as store_tasks

from helpline.notifier.logkv import line

log = logging.getLogger("helpline.notifier")

ERASED_TEXT = ":wastebasket: Content erased at the customer's request."
_GONE_SLACK = ("message_not_found", "channel_not_found", "cant_update_message", "is_archived")


def _slack(settings: Settings, target: str) -> str:
    from slack_sdk.errors import SlackApiError

    from helpline.notifier.slack import slack_blocks
    from helpline.notifier.slack.slack_sender import make_client

    channel, _, ts = target.partition(":")
    body = slack_blocks.notice(ERASED_TEXT)
    try:
        make_client(settings).chat_update(channel=channel, ts=ts, text=body["text"], blocks=body["blocks"])
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
        if error in _GONE_SLACK:
            return ""
        return f"slack chat.update: {error or exc.response.status_code}"
    return ""


def _twilio(settings: Settings, kind: str, target: str) -> str:
    from twilio.base.exceptions import TwilioException, TwilioRestException

    from helpline.notifier.sms.sms_sender import make_client

    client = make_client(settings)
    try:
        if kind == "twilio_media":
            msid, _, media = target.partition("/")
            client.api.v2010.accounts(settings.twilio_account_sid).messages(msid).media(media).delete()
        else:
            client.api.v2010.accounts(settings.twilio_account_sid).messages(target).delete()
    except TwilioRestException as exc:
        if exc.status == 404:
            return ""
        return f"twilio DELETE: HTTP {exc.status} code {exc.code}"
    except (TwilioException, OSError) as exc:
        return f"twilio unreachable: {type(exc).__name__}"
    return ""


def run(settings: Settings, customer_id: int) -> dict[str, Any]:
    """Carry out the customer's open erasure tasks; counts by outcome."""
    done = {"done": 0, "failed": 0, "skipped": 0}
    for task in store_tasks.open_tasks(customer_id):
        if task.kind == "slack_update":
            if not settings.slack_bot_token:
                done["skipped"] += 1
                continue
            error = _slack(settings, task.target)
        elif task.kind in ("twilio_message", "twilio_media"):
            if not (settings.twilio_account_sid and settings.twilio_auth_token):
                done["skipped"] += 1
                continue
            error = _twilio(settings, task.kind, task.target)
        else:
            error = f"unknown task kind {task.kind}"
        store_tasks.finish(task.id, error)
        done["failed" if error else "done"] += 1
        if error:
            log.warning(line("erasure_task_failed", customer=customer_id, kind=task.kind, error=error))
    return done
