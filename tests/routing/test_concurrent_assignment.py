"""200 new tickets processed at once by many worker threads: no agent ever goes
over capacity, every ticket is either assigned or queued (never both, never lost),
and the load counters agree with the tickets. On SQLite and PostgreSQL."""

from __future__ import annotations

import queue
import threading

from helpline.store.tickets import routing_state
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.store.models import utcnow
from helpline.workers.tickets import ticket_ops
from helpline.workers.jobs import ticket_timers

from ..workers.builders import mail
from .conftest import agent_loads, configured_desk

CAPACITIES = {
    "a1@example.com": 1,
    "a2@example.com": 3,
    "a3@example.com": 5,
    "a4@example.com": 7,
    "a5@example.com": 9,
    "a6@example.com": 0,
}
TOML = (
    '[[teams]]\nname = "support"\ndefault = true\nstrategy = "least_loaded"\n'
    + "".join(f'[[agents]]\nemail = "{e}"\nteams = ["support"]\ncapacity = {c}\n' for e, c in CAPACITIES.items())
    + '[[agents]]\nemail = "off@example.com"\nteams = ["support"]\ncapacity = 50\navailability = "offline"\n'
)
TICKETS = 200
THREADS = 16


def run_all(jobs: list, fn) -> list[BaseException]:  # noqa: ANN001
    """Run ``fn(job)`` for every job on THREADS threads; the errors raised."""
    todo: queue.Queue = queue.Queue()
    for j in jobs:
        todo.put(j)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker() -> None:
        start.wait()
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                fn(job)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return errors


def test_200_concurrent_new_tickets_respect_every_capacity(backend, tmp_path):
    desk = configured_desk(backend, tmp_path, TOML)
    inbound = [desk.deliver(mail(sender=f"Customer {i} <c{i}@example.org>")[0]) for i in range(TICKETS)]
    errors = run_all(inbound, desk.run)
    assert errors == []

    tickets = list(m.Ticket.select())
    assert len(tickets) == TICKETS
    by_agent: dict[str, int] = {}
    for t in tickets:
        if t.assignee:
            by_agent[t.assignee] = by_agent.get(t.assignee, 0) + 1
    assert by_agent == {e: c for e, c in CAPACITIES.items() if c}  # everyone full, nobody over
    loads = agent_loads()
    assert all(col == real for col, real in loads.values()), loads
    queued = {r[0] for r in routing_state.queued_tickets(limit=1000)}
    unassigned = {t.id for t in tickets if t.assignee is None}
    assert queued == unassigned and len(queued) == TICKETS - sum(CAPACITIES.values())
    assigned_events = m.Event.select().where(m.Event.kind == "assigned").count()
    queued_events = m.Event.select().where(m.Event.kind == "queued").count()
    assert assigned_events + queued_events == TICKETS  # one decision per ticket, each an event
    assert ticket_timers.reconcile_loads() == {}  # nothing to repair

    # Capacity grows and four schedulers offer the queue at once: still nobody over capacity.
    m.Ticket.update(status="resolved").where(m.Ticket.assignee == "a1@example.com").execute()
    run_tx(routing_state.reconcile_loads)
    run_tx(lambda: routing_state.set_availability("off@example.com", "available", utcnow()))
    errors = run_all([None] * 4, lambda _: ticket_ops.offer_queue(desk.settings))
    assert errors == []
    loads = agent_loads()
    assert all(col == real for col, real in loads.values()), loads
    assert loads["off@example.com"][1] == 50 and loads["a1@example.com"][1] == 1
    capacity = dict(CAPACITIES, **{"off@example.com": 50})
    assert all(real <= capacity[e] for e, (_, real) in loads.items())
    still = len(routing_state.queued_tickets(limit=1000))
    assert still == TICKETS - sum(CAPACITIES.values()) - 50 - 1
