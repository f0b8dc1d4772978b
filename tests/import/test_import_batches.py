"""The batch writer gives the same tickets whatever the batch boundaries: threads spanning batches,
copies inside one batch, a reply read before the message it answers, a dry run's exact counts."""

from __future__ import annotations

import datetime as dt
import email.utils

from helpline.ingest.importer import parse, run
from helpline.store import batch_cache
from helpline.workers import history_import
from helpline.store import models as m

from . import make_mbox
from .helpers import counts

T0 = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.timezone.utc)


def _mail(mid: str, sender: str, subject: str, body: str, minutes: int, parent: list[str] = ()) -> bytes:  # type: ignore[assignment]
    head = [
        f"From: {sender.split('@')[0].title()} <{sender}>",
        "To: Support <support@example.com>",
        f"Subject: {subject}",
        f"Date: {email.utils.format_datetime(T0 + dt.timedelta(minutes=minutes))}",
        f"Message-ID: <{mid}>",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if parent:
        head += [f"In-Reply-To: <{parent[-1]}>", "References: " + " ".join(f"<{p}>" for p in parent)]
    return ("\n".join(head) + "\n\n" + body + "\n").encode()


def _write(settings, mails: list[bytes], batch_size: int) -> dict[str, int]:  # noqa: ANN001
    """The batch writer without the parser pool (whose start-up costs seconds): parse here, write in
    batches of ``batch_size``, settle; the actions counted."""
    parse.init(settings, False)
    items = [parse._one(f"mail {i}", str(i), raw, "").item for i, raw in enumerate(mails)]
    actions: dict[str, int] = {}
    for i in range(0, len(items), batch_size):
        for k, v in history_import.write_batch(items[i : i + batch_size], "test", settings).actions.items():
            actions[k] = actions.get(k, 0) + v
    history_import.settle("test", settings, None)
    return actions


def _conversations() -> dict[str, set[str]]:
    """Each ticket's messages' Message-IDs, keyed by the ticket's first message's."""
    by_ticket: dict[int, list[tuple[int, str]]] = {}
    for msg in m.Message.select().order_by(m.Message.id):
        by_ticket.setdefault(msg.ticket_id, []).append((msg.id, msg.message_id))
    return {rows[0][1]: {mid for _, mid in rows} for rows in by_ticket.values()}


def _history(tag: str) -> list[bytes]:
    """Three conversations; Ben's reply (b2) comes before the message it answers (b1). ``tag`` makes
    the addresses and Message-IDs of another desk's history."""

    def mail(mid: str, who: str, subject: str, body: str, minutes: int, parent: tuple[str, ...] = ()) -> bytes:
        return _mail(
            f"{mid}@{tag}.example",
            f"{who}@{tag}.example",
            subject,
            body,
            minutes,
            [f"{p}@{tag}.example" for p in parent],
        )

    return [
        mail("a1", "ana", "Printer broken", "My printer prints blank pages.", 0),
        mail("b2", "ben", "Re: Invoice wrong", "Also the VAT number is missing.", 1, ("b1",)),
        mail("c1", "cem", "Password reset", "The reset link has expired twice.", 2),
        mail("b1", "ben", "Invoice wrong", "The invoice shows the wrong amount.", 3),
        mail("a2", "ana", "Re: Printer broken", "Still blank after the update.", 4, ("a1",)),
        mail("c2", "cem", "Re: Password reset", "Now it works, thanks.", 5, ("c1",)),
        mail("a3", "ana", "Re: Printer broken", "Any news?", 6, ("a1", "a2")),
    ]


def _shape(tag: str) -> list[list[str]]:
    return sorted(
        sorted(mid.split("@")[0] for mid in mids)
        for first, mids in _conversations().items()
        if first.endswith(f"@{tag}.example")
    )


def test_threads_are_the_same_whatever_the_batch_boundaries(backend):
    """Conversations spread over several batches, and one whose reply (b2) comes before its root (b1) in
    the file, end as with one batch: every reply on its conversation's ticket."""
    together = _write(backend, _history("one"), 100)
    apart = _write(backend, _history("two"), 1)
    assert together == apart == {"created": 3, "appended": 4}
    assert _shape("one") == _shape("two") == [["a1", "a2", "a3"], ["b1", "b2"], ["c1", "c2"]]


def test_copies_inside_one_batch(backend):
    """The same mail twice in one batch is imported once; the same text under another Message-ID minutes
    later is a duplicate of it, as live mail would be."""
    first = _mail("d1@x.example", "dora@x.example", "Refund", "Where is my refund for order 1234?", 0)
    copy = _mail("d1-copy@x.example", "dora@x.example", "Refund", "Where is my refund for order 1234?", 1)
    assert _write(backend, [first, first, copy, first], 100) == {"created": 1, "already_imported": 2, "duplicate": 1}
    assert counts()["tickets"] == 1 and counts()["messages"] == 1
    assert m.Inbound.select().where(m.Inbound.status == "duplicate").count() == 1


def test_dry_run_counts_are_exact_on_sqlite(backend, tmp_path):
    """On SQLite a dry run runs on a private copy of the database: its counts are those of the import."""
    box = tmp_path / "history.mbox"
    make_mbox.generate(str(box), 90, seed=4, duplicates=0.05, broken=0.03)
    dry = run.run_import("mbox", str(box), backend, dry_run=True, batch_size=10, jobs=1)
    assert counts() == {"tickets": 0, "messages": 0, "inbound": 0, "outbox": 0}
    real = run.run_import("mbox", str(box), backend, batch_size=10, jobs=1)
    assert dry.read == real.read and len(dry.unreadable) == len(real.unreadable)
    if backend.effective_database_url.startswith("sqlite"):
        assert dry.exact
        assert (dry.actions, dry.resolved) == (real.actions, real.resolved)
    else:  # batches rolled back: replies to conversations of earlier batches look new
        assert not dry.exact
        assert dry.actions.get("created", 0) >= real.actions["created"]


def test_a_rolled_back_message_takes_its_cache_entries_with_it():
    cache = batch_cache.BatchCache()
    cache.put(cache.keys, "mid:a", 1)
    cache.participants[1] = {("email", "a@x.example")}
    mark = cache.mark()
    cache.put(cache.keys, "mid:a", 2)
    cache.put(cache.keys, "mid:b", 3)
    cache.add(cache.participants, 1, ("email", "b@x.example"))
    cache.lock_taken("mid:b")
    cache.undo(mark)
    assert cache.keys == {"mid:a": 1}
    assert cache.participants[1] == {("email", "a@x.example")}
    assert cache.locked == set()
