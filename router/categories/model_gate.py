"""A gated retrain: learn the desk's own categories from agents' labels, keep the model only if better.

``gated_retrain`` trains a candidate on the shipped training set plus the
desk's labelled tickets except the most recent ``HOLDOUT_FRACTION`` (at least
``MIN_HOLDOUT`` tickets), then scores the candidate and the active model on that
recent slice: the tickets the desk is getting now, which neither model trained
on. The candidate should replace the active model only when its accuracy there is
at least ``MARGIN`` higher; a tie or a small gain is noise on a slice of a few
dozen tickets and not worth a change of behaviour. Categories agents use that
the shipped data lacks become labels of the candidate; an agent's label that is
one of the old default labels (REFUND, INVOICE, ...) is read as its replacement
(``default_labels.canonical``), so old and new names do not compete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from helpline.router.categories.category_model import CategoryModel
from helpline.router.categories.default_labels import LEGACY_LABELS, canonical
from helpline.router.categories.model_train import Dataset, TrainingError, TrainOptions, evaluate, train

MARGIN = 0.02  # accuracy on the recent held-out tickets, absolute
HOLDOUT_FRACTION = 0.2
MIN_HOLDOUT = 20
MIN_TRAIN_TICKETS = 20


@dataclass(frozen=True)
class GateDecision:
    activate: bool
    candidate_accuracy: float
    candidate_macro_f1: float
    active_accuracy: float
    active_macro_f1: float
    active_model: str
    margin: float
    held_out_tickets: int
    training_tickets: int
    new_labels: tuple[str, ...]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["new_labels"] = list(self.new_labels)
        return out


def _desk_labels(data: Dataset) -> Dataset:
    labels = [canonical(x) if x.strip().lower() in LEGACY_LABELS else x for x in data.labels]
    return Dataset(data.subjects, data.texts, labels, data.source, data.source_sha256, data.skipped)


def split_recent(
    tickets: Dataset, fraction: float = HOLDOUT_FRACTION, minimum: int = MIN_HOLDOUT
) -> tuple[Dataset, Dataset]:
    """(older, recent): ``tickets`` are oldest first; the recent slice is held out."""
    n = len(tickets)
    held = max(minimum, int(round(n * fraction)))
    if n - held < MIN_TRAIN_TICKETS:
        raise TrainingError(
            f"{n} labelled tickets are too few for a gated retrain: it needs "
            f"{MIN_TRAIN_TICKETS + minimum} (confirm or correct more categories)"
        )
    return tickets.take(range(n - held)), tickets.take(range(n - held, n))


def gated_retrain(
    tickets: Dataset,
    shipped: Dataset,
    active: CategoryModel,
    options: TrainOptions | None = None,
    margin: float = MARGIN,
    log: Callable[[str], None] | None = None,
) -> tuple[CategoryModel, GateDecision]:
    """Train a candidate on ``shipped`` + the older tickets and decide whether it beats ``active``
    on the most recent tickets by ``margin``. The caller stores the candidate and activates it
    only when the decision says so."""
    tickets = _desk_labels(tickets)
    older, recent = split_recent(tickets)
    combined = Dataset(
        shipped.subjects + older.subjects,
        shipped.texts + older.texts,
        shipped.labels + older.labels,
        f"{shipped.source} + {len(older)} labelled tickets",
        "",
    )
    candidate = train(combined, options or TrainOptions(), log=log)
    mine = evaluate(candidate, recent)
    theirs = evaluate(active, recent)
    new_labels = tuple(sorted(set(older.labels) - set(active.labels)))
    gain = mine["accuracy"] - theirs["accuracy"]
    better = gain >= margin - 1e-9
    reason = (
        f"candidate accuracy {mine['accuracy']:.3f} vs active {active.version_label} "
        f"{theirs['accuracy']:.3f} on the {len(recent)} most recent labelled tickets: "
        + (
            f"better by {gain:+.3f} >= {margin:g}, activated"
            if better
            else f"{gain:+.3f} is below the margin {margin:g}, not activated"
        )
    )
    decision = GateDecision(
        better,
        mine["accuracy"],
        mine["macro_f1"],
        theirs["accuracy"],
        theirs["macro_f1"],
        active.version_label,
        margin,
        len(recent),
        len(older),
        new_labels,
        reason,
    )
    candidate.meta["gate"] = decision.as_dict()
    candidate.meta["source"] = combined.source
    return candidate, decision
