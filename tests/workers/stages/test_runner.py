"""pipeline.run_stages: the list in order, the first final decision ends the run, one log line per message."""

from __future__ import annotations

import logging

from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers import pipeline, stages
from helpline.workers.stages.context import Decision, Outcome, done
from tests.workers.builders import mail


def test_the_list_names_every_stage_module_once():
    assert len(set(stages.ORDER)) == len(stages.ORDER)
    assert [name for name, _ in stages.STAGES] == list(stages.ORDER)
    assert (
        stages.ORDER.index("thread")
        < stages.ORDER.index("dedupe")
        < stages.ORDER.index("ticket")
        < stages.ORDER.index("message")
        < stages.ORDER.index("ack")
    )


def test_a_whole_run_names_the_deciding_stages_and_finishes_the_row(sd):
    out = sd.process(mail()[0])
    assert out.action == "created"
    assert out.stages.split(",")[:2] == ["thread:new", "customer:new"]
    assert "ticket:created" in out.stages and "ack:queued" in out.stages
    row = m.Inbound.get_by_id(
        m.Message.get_by_id(m.Message.select().where(m.Message.ticket == out.ticket_id).first().id).inbound_id
    )
    assert (row.status, row.ticket_id) == ("processed", out.ticket_id)


def test_a_final_decision_stops_the_later_stages(sd):
    seen: list[str] = []

    def first(ctx):  # noqa: ANN001, ANN202
        seen.append("first")
        return Decision("looked")

    def stop(ctx):  # noqa: ANN001, ANN202
        seen.append("stop")
        return done(Outcome("quarantined", reason="test"))

    def never(ctx):  # noqa: ANN001, ANN202
        seen.append("never")

    ctx = sd.context(mail()[0])
    out = run_tx(lambda: pipeline.run_stages(ctx, (("first", first), ("stop", stop), ("never", never))))
    assert seen == ["first", "stop"]
    assert (out.action, out.stages) == ("quarantined", "first:looked,stop:quarantined")


def test_a_stage_is_added_by_naming_it_in_the_list(sd):
    """What ARCHITECTURE.md tells whoever adds a stage: a module with ``run``, its name in ``ORDER``."""
    loaded = stages.load(("own_mail", "channel_command"))
    assert [name for name, _ in loaded] == ["own_mail", "channel_command"]
    assert all(callable(run) for _, run in loaded)


def test_each_stage_logs_at_debug_and_nothing_personal(sd, caplog):
    ctx = sd.context(mail(sender="Alice Secret <alice.secret@example.org>", subject="My private subject")[0])
    with caplog.at_level(logging.DEBUG, logger="helpline.workers.stages"):
        run_tx(lambda: pipeline.run_stages(ctx))
    lines = [r.getMessage() for r in caplog.records if r.name == "helpline.workers.stages"]
    assert [line.split("stage=")[1].split()[0] for line in lines] == list(stages.ORDER)
    assert not any("alice.secret" in line or "private" in line for line in lines)
