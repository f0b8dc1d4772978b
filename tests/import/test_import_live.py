"""An import beside a live desk: live mail is still taken and answered, imported mail never is."""

from __future__ import annotations

import time

from helpline.store import models as m

from ..workers.builders import Desk, ack_of, fresh_text, mail
from . import make_mbox
from .helpers import helpline


def test_live_mail_is_acknowledged_while_an_import_runs(backend, tmp_path):
    box = tmp_path / "history.mbox"
    made = make_mbox.generate(str(box), 400, seed=17, duplicates=0, broken=0)
    proc = helpline("import", "mbox", str(box), "--batch-size", "50", "--no-progress", settings=backend)
    desk = Desk(backend)
    deadline = time.monotonic() + 300
    while m.Inbound.select().count() < 50:  # the import is writing
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    live = []
    for i in range(5):  # live mail between the import's batches
        raw, _ = mail(sender=f"live{i}@customer.example", subject=f"Live question {i}", body=fresh_text())
        outcome = desk.receive(raw)
        assert outcome.action == "created"
        live.append(outcome.ticket_id)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-3000:]
    for tid in live:
        assert ack_of(tid).kind == "ack"
    assert m.Outbox.select().count() == len(live)  # the live acknowledgements, nothing for the history
    imported = m.Ticket.select().where(m.Ticket.id.not_in(live)).count()
    assert imported == made["new"]
    assert m.Ticket.select().where(m.Ticket.id.in_(live), m.Ticket.status == "resolved").count() == 0
