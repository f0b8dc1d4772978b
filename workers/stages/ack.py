"""Stage: the customer hears that their message arrived, on the channel's terms (``InboundChannel.acknowledge``):
an email acknowledgement of a new ticket (``ack_email.py``), a text for SMS, nothing for Slack. Also the MMS
media an SMS carried, to fetch after the commit. Never during a history import."""

from __future__ import annotations

from helpline.store.statuses import OutboxStatus

from helpline.workers.stages.ack_email import queue_ack
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    if ctx.quiet:
        return None
    out = ctx.outcome
    before = len(out.claimed) + len(out.outbox_ids)
    if out.action == "created" and ctx.channel.wants_ack_for(ctx.env):
        row = queue_ack(ctx)
        if row is not None and row.status == OutboxStatus.SENDING:
            out.claimed.append(row)
        elif row is not None:
            out.outbox_ids.append(row.id)
    got = ctx.channel.acknowledge(ctx)
    out.outbox_ids += got.outbox_ids
    out.media_ids = got.media_ids
    return Decision("queued") if len(out.claimed) + len(out.outbox_ids) > before else None
