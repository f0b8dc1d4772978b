"""The ticket lifecycle: one transition table, enforced by one function.

    new ─────────────┬──▶ open ◀──────────────┐
      │              │     │  ▲               │ customer reply / reopen
      │              ▼     ▼  │               │
      ├──────▶ in_progress ◀─▶ waiting_customer
      │              │            │
      ▼              ▼            ▼
    resolved ◀───────┴────────────┘ ──▶ closed (after HELPLINE_AUTO_CLOSE_DAYS)
      │
      └──▶ open (customer reply within HELPLINE_REOPEN_DAYS, or an agent)

    any active status ──▶ merged (into another ticket)

    spam ──▶ new (released: not spam after all) or closed (reviewed, it was)

``new`` is a ticket nobody has picked up; assignment or an agent's first reply
makes it ``open``. ``closed`` and ``merged`` are final: a customer writing to a
closed ticket opens a follow-up ticket linked to it (workers.threads).
deploy/README.md ("Ticket lifecycle") shows the same table; a test keeps the
two in step.
"""

from __future__ import annotations

NEW, OPEN, IN_PROGRESS, WAITING = "new", "open", "in_progress", "waiting_customer"
RESOLVED, CLOSED, MERGED = "resolved", "closed", "merged"
SPAM = (
    "spam"  # the MTA's spam verdict or the block list (workers/tickets/spam_stage.py): kept for review, never sent to
)

STATUSES = (NEW, OPEN, IN_PROGRESS, WAITING, RESOLVED, CLOSED, MERGED, SPAM)
ACTIVE = frozenset({NEW, OPEN, IN_PROGRESS, WAITING})

TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({OPEN, IN_PROGRESS, WAITING, RESOLVED, MERGED}),
    OPEN: frozenset({IN_PROGRESS, WAITING, RESOLVED, MERGED}),
    IN_PROGRESS: frozenset({OPEN, WAITING, RESOLVED, MERGED}),
    WAITING: frozenset({OPEN, IN_PROGRESS, RESOLVED, MERGED}),
    RESOLVED: frozenset({OPEN, CLOSED}),
    CLOSED: frozenset(),
    MERGED: frozenset(),
    SPAM: frozenset({NEW, CLOSED}),  # released (`helpline tickets not-spam`) into the normal flow, or closed
}


class InvalidTransition(ValueError):
    """A status change the lifecycle does not allow; the message says what is allowed instead."""

    def __init__(self, current: str, target: str, ticket: str = "") -> None:
        self.current, self.target, self.ticket = current, target, ticket
        who = f"ticket {ticket}" if ticket else "a ticket"
        if target not in TRANSITIONS:
            msg = f"{who}: {target!r} is not a status (statuses: {', '.join(STATUSES)})"
        elif not TRANSITIONS.get(current):
            msg = f"{who} is {current}, which is final; nothing can change its status" + (
                " (a customer reply opens a follow-up ticket)" if current == CLOSED else ""
            )
        else:
            msg = (
                f"{who} cannot go from {current} to {target}; from {current} it can go to "
                f"{', '.join(s for s in STATUSES if s in TRANSITIONS[current])}"
            )
        super().__init__(msg)


def allowed(current: str) -> tuple[str, ...]:
    """The statuses ``current`` may change to, in lifecycle order."""
    return tuple(s for s in STATUSES if s in TRANSITIONS.get(current, ()))


def check(current: str, target: str, *, ticket: str = "") -> None:
    """Raise ``InvalidTransition`` unless ``current`` -> ``target`` is in the table.

    The one place a status change is judged: every writer of a ticket's status
    (pipeline, scheduler, command line) goes through ``workers.ticket_ops``,
    which calls this first."""
    if target not in TRANSITIONS or target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, target, ticket)


def on_customer_message(current: str, *, reopen: bool) -> str | None:
    """The status a customer's message moves a ticket to, or None to leave it.

    Waiting on the customer ends with their reply; a reply that threading
    judged a reopening (resolved, within the reopen window) opens it again."""
    if reopen and current == RESOLVED:
        return OPEN
    if current == WAITING:
        return OPEN
    return None


def on_assignment(current: str) -> str | None:
    """Somebody now owns the ticket: a new one becomes open."""
    return OPEN if current == NEW else None
