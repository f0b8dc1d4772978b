"""A new customer email gets its suggestions from the real worker: real SMTP, broker and worker processes;
the low-priority actor runs after the ticket's commit and stores them."""

from __future__ import annotations

from helpline.store.knowledge import kb_state
from helpline.store import models as m
from tests.support.mail import make_mail
from tests.support.stack import Stack, wait_until

from .helpers import article, run_sync, write


def test_new_mail_gets_suggestions_after_its_commit(backend, relay_sink, tmp_path):
    root = tmp_path / "kb"
    write(root, "order-late.md", article("Where is my order", ["my order has not arrived", "where is my order"]))
    write(root, "password.md", article("Reset password", ["I forgot my password"]))
    settings = backend.replace(smtp_relay=relay_sink.address)
    run_sync(settings, root)
    stack = Stack(settings, tmp_path)
    stack.start_ingest().start_worker(processes=1, threads=2)
    try:
        raw, _ = make_mail(
            subject="Order 4711 never arrived", body="Hi,\nwhere is my order 4711? It has not arrived.\n"
        )
        code, answer = stack.send(raw)
        assert code == 250, answer
        relay_sink.wait_for(1)  # the acknowledgement does not wait for suggestions
        ticket = wait_until(lambda: m.Ticket.get_or_none(), what="ticket")
        rows = wait_until(lambda: kb_state.suggestions_of(ticket.id), timeout=60, what="suggestions stored")
        assert (rows[0].kind, rows[0].ref) == ("article", "order-late")
    finally:
        stack.stop()
