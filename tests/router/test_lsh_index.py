"""The in-memory LSH index of the incident grouper: a plain data structure, no database."""

from __future__ import annotations

import datetime as dt

from helpline.router import similarity as sim
from helpline.router.lsh_index import Entry, LshIndex

T0 = dt.datetime(2026, 11, 26, 10, 0)
DOWN = "the website is down and the login page shows error 503 since this morning for everyone"
DOWN2 = "website down, the login page shows error 503 since this morning, everyone in the office"
INVOICE = "please send me the invoice for the annual plan as a pdf to my accounting address"


def entry(tid: int, text: str, customer: int, minutes: int = 0) -> Entry:
    fp = sim.fingerprint(text)
    assert fp is not None
    return Entry(tid, customer, fp.as_array(), fp.bands, T0 + dt.timedelta(minutes=minutes))


def test_finds_alike_tickets_of_other_customers_most_alike_first():
    index = LshIndex()
    index.add(entry(1, DOWN, customer=1))
    index.add(entry(2, INVOICE, customer=2))
    index.add(entry(3, DOWN, customer=3))
    me = entry(4, DOWN2, customer=1)
    got = index.alike(me.signature, me.bands, threshold=0.3, since=T0, exclude_customer=1)
    assert [e.ticket_id for e, _ in got] == [3]
    assert 0.3 <= got[0][1] <= 1.0
    both = index.alike(me.signature, me.bands, threshold=0.3, since=T0)
    assert {e.ticket_id for e, _ in both} == {1, 3}


def test_the_window_and_expiry():
    index = LshIndex()
    index.add(entry(1, DOWN, customer=1, minutes=0))
    index.add(entry(2, DOWN, customer=2, minutes=30))
    me = entry(3, DOWN, customer=3, minutes=61)
    assert [
        e.ticket_id for e, _ in index.alike(me.signature, me.bands, threshold=0.3, since=T0 + dt.timedelta(minutes=1))
    ] == [2]
    assert index.expire(T0 + dt.timedelta(minutes=1)) == 1
    assert 1 not in index and 2 in index and len(index) == 1
    assert index.expire(T0 + dt.timedelta(hours=2)) == 1 and len(index) == 0
    assert index._bands == {}  # noqa: SLF001 - nothing of the expired tickets is kept


def test_a_band_keeps_only_its_newest_tickets_and_the_size_is_capped():
    index = LshIndex(per_band=3, max_tickets=5)
    for tid in range(1, 9):
        index.add(entry(tid, DOWN, customer=tid))
    assert len(index) == 5 and 1 not in index and 8 in index
    me = entry(99, DOWN, customer=99)
    got = index.alike(me.signature, me.bands, threshold=0.3, since=T0)
    assert [e.ticket_id for e, _ in got] and {e.ticket_id for e, _ in got} <= {6, 7, 8}


def test_band_keys_of_a_stored_signature_match_the_fingerprint():
    fp = sim.fingerprint(DOWN)
    assert sim.band_keys(fp.signature) == fp.bands
