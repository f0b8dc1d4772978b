"""The provider side of an erasure, as rows: what ``notifier.erasure_cleanup`` still has to do."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.store.db import run_tx
from helpline.store.models import utcnow
from helpline.store.tuple_rows import tuples
from helpline.store.lifecycle.schema import ErasureTask


@dataclass(frozen=True)
class Task:
    id: int
    kind: str
    target: str


def open_tasks(customer_id: int) -> list[Task]:
    """Tasks not done yet (pending, or failed before: an erasure run again retries them)."""
    rows = tuples(
        ErasureTask.select(ErasureTask.id, ErasureTask.kind, ErasureTask.target)
        .where((ErasureTask.customer_id == customer_id) & (ErasureTask.status != "done"))
        .order_by(ErasureTask.id)
    )
    return [Task(*r) for r in run_tx(lambda: list(rows), durable=False)]


def finish(task_id: int, error: str = "") -> None:
    """Done when ``error`` is empty; otherwise failed with the reason (no personal data in it)."""

    def tx() -> None:
        (
            ErasureTask.update(
                status="failed" if error else "done",
                last_error=error[:500],
                attempts=ErasureTask.attempts + 1,
                done_at=None if error else utcnow(),
            )
            .where(ErasureTask.id == task_id)
            .execute()
        )

    run_tx(tx)


def counts(customer_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for (status,) in tuples(ErasureTask.select(ErasureTask.status).where(ErasureTask.customer_id == customer_id)):
        out[status] = out.get(status, 0) + 1
    return out
