"""The category stage: what a message is about, with the reason.

``classify(subject, text, model)`` is a plain function from a message to a
:class:`CategoryDecision`; below the confidence threshold the category is
``unclassified`` (the ticket goes to the triage team), and so is a message
with no word the model knows beyond greetings, thanks and reply prefixes
(``category_model.FILLER_WORDS``): "Re:", "hello?", "asdf" are not a refund
request however confident the character n-grams make the model. ``load_active_model``
gives the model the store has activated, cheaply enough to call for every
message: it looks at the store's ``ACTIVE`` pointer at most every
``recheck_s`` seconds and loads a newly activated model then, so workers pick
it up without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpline.router.categories.category_model import CategoryModel

log = logging.getLogger("helpline.router")

UNCLASSIFIED = "unclassified"
DEFAULT_THRESHOLD = 0.5
RECHECK_S = 3.0

# Event kinds (Event.data in brackets):
CATEGORY_SET = "category_set"  # the pipeline's decision [CategoryDecision.as_event()]
CATEGORY_CONFIRMED = "category_confirmed"  # an agent agreed [{"category": C}]
CATEGORY_CORRECTED = "category_corrected"  # an agent changed it [{"category": NEW, "previous": OLD}]
# The last two are the labelled examples `helpline model train --from-tickets` learns from.


@dataclass(frozen=True)
class CategoryDecision:
    category: str  # the predicted label, or "unclassified"
    confidence: float  # probability of the best label (also when unclassified)
    predicted: str  # the best label even when below the threshold ("" without text)
    runner_up: str
    runner_up_confidence: float
    model: str  # "v3", "default", ...
    threshold: float
    reason: str

    @property
    def classified(self) -> bool:
        return self.category != UNCLASSIFIED

    def as_event(self) -> dict[str, Any]:
        """The data of the ``category_set`` event."""
        return {
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "predicted": self.predicted,
            "runner_up": self.runner_up,
            "runner_up_confidence": round(self.runner_up_confidence, 4),
            "model": self.model,
            "threshold": self.threshold,
            "reason": self.reason,
        }


def classify(
    subject: str,
    text: str,
    model: CategoryModel,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    embeddings: bool = True,
) -> CategoryDecision:
    """Category of a message from its subject and stripped text; ``embeddings=False`` keeps a model's
    embeddings stage from answering (``HELPLINE_CATEGORY_EMBEDDINGS``)."""
    doc = model.text_of(subject, text)
    name = model.version_label
    if not doc:
        return CategoryDecision(
            UNCLASSIFIED, 0.0, "", "", 0.0, name, threshold, f"unclassified: no subject or text (model {name})"
        )
    ranked = model.ranked(doc, 2, second_stage=embeddings)
    best, p = ranked[0]
    second, q = ranked[1] if len(ranked) > 1 else ("", 0.0)
    runner = f"; runner-up {second!r} at {q:.2f}" if second else ""
    if p < threshold:
        return CategoryDecision(
            UNCLASSIFIED,
            p,
            best,
            second,
            q,
            name,
            threshold,
            f"unclassified: best {best!r} at {p:.2f} is below the threshold {threshold:g}{runner} (model {name})",
        )
    if model.content_words(doc) == []:
        return CategoryDecision(
            UNCLASSIFIED,
            p,
            best,
            second,
            q,
            name,
            threshold,
            f"unclassified: no word the model knows beyond greetings and fillers "
            f"(best {best!r} at {p:.2f}{runner}; model {name})",
        )
    return CategoryDecision(
        best, p, best, second, q, name, threshold, f"category {best!r} at {p:.2f}{runner} (model {name})"
    )


def categorise(subject: str, text: str, settings: Any) -> dict[str, Any]:
    """The category of a new ticket with its reason, by the desk's active model and settings; a broken or
    missing model gives "unclassified" for the triage team with the reason, since it must not stop tickets
    from being made."""
    from helpline.router.categories.model_store import ModelError

    try:
        decision = classify(
            subject,
            text,
            load_active_model(models_dir_for(settings)),
            settings.category_threshold,
            embeddings=settings.category_embeddings,
        )
    except ModelError as exc:
        return {"category": "unclassified", "team": settings.triage_team, "reason": f"no usable model: {exc}"}
    return decision.as_event()


def label_event(category: str, previous: str | None) -> tuple[str, dict[str, Any]]:
    """(kind, data) of the event that records an agent's verdict on a ticket's category:
    ``category_confirmed`` when it stays, ``category_corrected`` when it changes."""
    if previous is not None and previous == category:
        return CATEGORY_CONFIRMED, {"category": category}
    return CATEGORY_CORRECTED, {"category": category, "previous": previous}


# ---- the active model --------------------------------------------------------------------
def models_dir_for(settings: Any) -> str:
    """The model store of a Settings object: ``models_dir`` when set, else DATA_DIR/models."""
    configured = getattr(settings, "models_dir", "") or ""
    return configured or os.path.join(settings.data_dir, "models")


@dataclass
class _Active:
    fingerprint: tuple[int, int, int] | None  # (inode, mtime_ns, size) of ACTIVE, None when absent
    path: Path
    model: CategoryModel
    checked_at: float


_lock = threading.Lock()
_active: dict[str, _Active] = {}


def _fingerprint(pointer: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(pointer)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def load_active_model(models_dir: str | os.PathLike[str], *, recheck_s: float = RECHECK_S) -> CategoryModel:
    """The model activated in the store at ``models_dir`` (the packaged default when none is).

    Cheap per message: the loaded model is kept per store, and the ``ACTIVE``
    pointer is looked at (one ``stat``) at most every ``recheck_s`` seconds; a
    changed pointer loads the model it names. A model that fails to load is
    logged and the previous one kept, so a bad activation never stops the workers.
    """
    from helpline.router.categories.model_store import ModelStore, load_model

    key = os.fspath(models_dir)
    now = time.monotonic()
    current = _active.get(key)
    if current is not None and now - current.checked_at < recheck_s:
        return current.model
    with _lock:
        current = _active.get(key)
        if current is not None and now - current.checked_at < recheck_s:
            return current.model
        store = ModelStore(key)
        fp = _fingerprint(store.active_file)
        if current is not None and fp == current.fingerprint:
            current.checked_at = now
            return current.model
        try:
            path = store.active_path()
            if current is not None and path == current.path:
                model = current.model
            else:
                model = load_model(path)
                log.info("event=category_model_loaded path=%s version=%s", path, model.version_label)
        except Exception as exc:  # noqa: BLE001 - keep classifying with what we have
            if current is None:
                from helpline.router.categories.model_store import packaged_default_path

                log.error("event=category_model_failed store=%s error=%r; using the packaged default", key, exc)
                path, model = packaged_default_path(), load_model(packaged_default_path())
            else:
                log.error(
                    "event=category_model_failed store=%s error=%r; keeping %s", key, exc, current.model.version_label
                )
                current.fingerprint, current.checked_at = fp, now
                return current.model
        _active[key] = _Active(fp, path, model, now)
        return model


def forget_active_models() -> None:
    """Drop the cached models (tests; a process that wants to reload at once)."""
    with _lock:
        _active.clear()


_labels: dict[str, tuple[tuple[int, int, int] | None, float, tuple[str, ...]]] = {}


def active_labels(models_dir: str | os.PathLike[str], *, recheck_s: float = RECHECK_S) -> tuple[str, ...]:
    """The categories the active model knows, from its metadata file alone: a process that shows them
    (the Slack sender's category menu) need not load the model. Empty when they cannot be read."""
    from helpline.router.categories.model_store import ModelStore, read_metadata

    key = os.fspath(models_dir)
    now = time.monotonic()
    hit = _labels.get(key)
    if hit is not None and now - hit[1] < recheck_s:
        return hit[2]
    store = ModelStore(key)
    fp = _fingerprint(store.active_file)
    if hit is not None and hit[0] == fp:
        _labels[key] = (fp, now, hit[2])
        return hit[2]
    try:
        labels = tuple(sorted(str(x) for x in read_metadata(store.active_path()).get("labels") or ()))
    except Exception as exc:  # noqa: BLE001 - a menu less, never a failed send
        log.warning("event=category_labels_unreadable store=%s error=%s", key, type(exc).__name__)
        labels = hit[2] if hit is not None else ()
    _labels[key] = (fp, now, labels)
    return labels
