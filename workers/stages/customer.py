"""Stage: a sender no identity knows becomes a new customer (the thread stage looked them up)."""

from __future__ import annotations

from helpline.store.inbound import customer_refs

from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    if ctx.customer is not None:
        return None
    env = ctx.env
    ctx.customer = customer_refs.create(env.sender.kind, env.sender.address, env.sender.name, ctx.now)
    return Decision("new")
