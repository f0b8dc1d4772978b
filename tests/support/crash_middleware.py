"""Fault injection for the poison-message test, loaded through HELPLINE_WORKER_MIDDLEWARE.

It does what an out-of-memory kill does to a worker: the attempt has been
counted (by the real ``pipeline.begin_attempt``) and then the process vanishes.
"""

from __future__ import annotations

import os

import dramatiq

from helpline.store import models as m
from helpline.workers import actors, pipeline


class DieOnPoison(dramatiq.Middleware):
    def before_process_message(self, broker, message):  # noqa: ANN001
        if message.actor_name == "process_inbound_batch":
            rows = m.Inbound.select().where(m.Inbound.id.in_(message.args[0]))
            if any("KILL-THE-WORKER" in (r.envelope or {}).get("subject", "") for r in rows):
                first, _alone = pipeline.begin_attempts(message.args[0])
                if first:  # the batch's first try: counted, then the process dies with all of it
                    os._exit(137)
            return
        if message.actor_name != "process_inbound":
            return
        row = m.Inbound.get_or_none(m.Inbound.id == message.args[0])
        if row is None or "KILL-THE-WORKER" not in (row.envelope or {}).get("subject", ""):
            return
        if pipeline.begin_attempt(row.id, actors.settings().max_attempts) is None:
            os._exit(137)
