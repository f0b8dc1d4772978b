"""Stage: what the trusted MTA in front said about the sender (``HELPLINE_AUTH_FAILED_POLICY``).

The verdict stays in the context: threading, merging and the acknowledgement consult it
(``workers/inbound/auth_policy.py``). With the ``reject`` policy a failed sender is quarantined here.
"""

from __future__ import annotations

from helpline.store.inbound import inbound_state
from helpline.store.inbound.audit_events import event

from helpline.workers.inbound import auth_policy
from helpline.workers.stages.context import Context, Decision, Outcome, done


def run(ctx: Context) -> Decision | None:
    ctx.auth = auth_policy.verdict(ctx.env, ctx.settings)
    refused = auth_policy.quarantine_reason(ctx.auth, ctx.settings.auth_failed_policy)
    if not refused:
        return Decision("failed") if ctx.auth.failed else None
    inbound_state.finish(ctx.row.id, inbound_state.QUARANTINED, refused, None, ctx.now)
    event(None, "inbound_quarantined", {"inbound": ctx.row.id, "reason": refused}, now=ctx.now)
    return done(Outcome("quarantined", reason=refused))
