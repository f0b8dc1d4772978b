"""Stage: which ticket the message belongs to, if any (``workers/inbound/threads.py`` decides; this stage gathers).

Locks the conversation (its thread keys, and sender + text so that two copies of one mail under different
Message-IDs see each other), collects the tickets the evidence points at (Message-IDs, Thread-Index, the
signed reply token, the subject tag), follows merges, lets the channel strip tickets it may not write into,
finds the customer, and weighs the evidence. Evidence counts only from a participant of that ticket.
"""

from __future__ import annotations

from helpline.store import signing
from helpline.store.inbound import customer_refs
from helpline.store.inbound import thread_state

from helpline.workers.inbound import auth_policy
from helpline.workers.inbound import duplicates
from helpline.workers.inbound import threads
from helpline.workers.inbound.dedupe import body_hash
from helpline.workers.stages.context import Context, Decision


def run(ctx: Context) -> Decision | None:
    env, settings = ctx.env, ctx.settings
    ctx.keys = mine = threads.own_keys(env)
    sender = env.sender.address
    ctx.body_hash = bhash = body_hash(env)
    thread_state.lock_conversation(mine + ([f"dup:{sender}:{bhash}"] if bhash else []))

    token_ticket = (
        signing.ticket_from_reply_token(settings.secret_key, env.thread.reply_token)
        if env.thread.reply_token and settings.secret_key
        else None
    )
    found, ctx.known = thread_state.evidence(mine, env.thread.ticket_ref, token_ticket)
    cands = [
        threads.Candidate(t.id, t.number, t.status, via, t.resolved_at, participants) for t, via, participants in found
    ]
    cands = duplicates.follow_merges(cands)  # a reply to a merged ticket lands on the one it was merged into
    cands = ctx.channel.writable(env, cands)  # a webhook source writes only into its own tickets
    ctx.customer = customer = ctx.channel.find_customer(env)
    sender_addrs = {sender} | (customer_refs.addresses(customer.id) if customer else set())
    decision = threads.decide(sender_addrs, cands, now=ctx.now, reopen_days=settings.reopen_days)
    decision = auth_policy.apply(decision, ctx.auth, settings.auth_failed_policy)
    if decision.action == "new":  # one more line of an open conversation, same problem?
        decision = ctx.channel.join_open(ctx) or decision
    ctx.thread = decision
    return Decision(decision.action)
