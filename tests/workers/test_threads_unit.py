"""The pure threading and dedupe functions, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from helpline.workers.inbound.dedupe import body_hash
from helpline.workers.inbound.threads import clean_subject, decide, own_keys, thread_keys

from .builders import ALICE_ADDR, candidate, envelope

NOW = dt.datetime(2026, 3, 2, 12, 0, 0)
ALICE = {ALICE_ADDR}


def _decide(cands, sender=ALICE, reopen_days=7.0):
    return decide(set(sender), list(cands), now=NOW, reopen_days=reopen_days)


# ---- decide -------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["new", "open", "in_progress", "waiting_customer"])
def test_participant_reply_is_appended_to_an_active_ticket(status):
    d = _decide([candidate(7, "references", status=status)])
    assert (d.action, d.ticket_id) == ("append", 7)


def test_reply_to_ticket_resolved_within_reopen_window_reopens_it():
    d = _decide([candidate(7, "references", status="resolved", resolved_at=NOW - dt.timedelta(days=6, hours=23))])
    assert (d.action, d.ticket_id) == ("reopen", 7)


def test_reply_to_ticket_resolved_before_reopen_window_opens_a_follow_up():
    d = _decide([candidate(7, "references", status="resolved", resolved_at=NOW - dt.timedelta(days=7, hours=1))])
    assert (d.action, d.ticket_id) == ("new_follow_up", 7)


def test_reopen_window_is_taken_from_the_argument():
    c = candidate(7, "references", status="resolved", resolved_at=NOW - dt.timedelta(days=2))
    assert _decide([c], reopen_days=1).action == "new_follow_up"
    assert _decide([c], reopen_days=3).action == "reopen"


def test_reply_to_closed_ticket_opens_a_follow_up():
    d = _decide([candidate(7, "references", status="closed", resolved_at=NOW - dt.timedelta(hours=1))])
    assert (d.action, d.ticket_id) == ("new_follow_up", 7)


@pytest.mark.parametrize("via", ["references", "thread_index", "reply_token", "ticket_tag"])
def test_evidence_from_a_non_participant_opens_a_possible_follow_up(via):
    d = _decide([candidate(7, via, participants={ALICE_ADDR})], sender={"mallory@evil.example"})
    assert (d.action, d.ticket_id) == ("new_possible_follow_up", 7)


def test_possible_follow_up_links_the_ticket_of_the_strongest_evidence():
    cands = [candidate(4, "ticket_tag"), candidate(3, "reply_token"), candidate(1, "references")]
    d = _decide(cands, sender={"mallory@evil.example"})
    assert (d.action, d.ticket_id) == ("new_possible_follow_up", 1)


@pytest.mark.parametrize(
    "present,winner",
    [
        (["ticket_tag", "reply_token", "thread_index", "references"], "references"),
        (["ticket_tag", "reply_token", "thread_index"], "thread_index"),
        (["ticket_tag", "reply_token"], "reply_token"),
        (["ticket_tag"], "ticket_tag"),
    ],
)
def test_stronger_evidence_wins(present, winner):
    ids = {"references": 1, "thread_index": 2, "reply_token": 3, "ticket_tag": 4}
    d = _decide([candidate(ids[via], via) for via in present])  # weakest first on purpose
    assert (d.action, d.ticket_id) == ("append", ids[winner])
    assert d.reason.startswith(winner)


def test_evidence_for_a_ticket_the_sender_is_not_on_does_not_hide_their_own_ticket():
    cands = [candidate(1, "references", participants={"bob@example.net"}), candidate(2, "ticket_tag")]
    d = _decide(cands)
    assert (d.action, d.ticket_id) == ("append", 2)


def test_no_evidence_starts_a_new_ticket():
    d = _decide([])
    assert (d.action, d.ticket_id) == ("new", None)


# ---- clean_subject -------------------------------------------------------------------
@pytest.mark.parametrize(
    "subject",
    [
        "Re: Printer on fire",
        "RE: Printer on fire",
        "re:Printer on fire",
        "AW: Printer on fire",
        "SV: Printer on fire",
        "Antw: Printer on fire",
        "VS: Printer on fire",
        "Fwd: Printer on fire",
        "FW: Printer on fire",
        "WG: Printer on fire",
        "TR: Printer on fire",
        "Re[2]: Printer on fire",
        "Re: AW: Re: Printer on fire",
        "[HL-2026-000123] Printer on fire",
        "Re: [HL-2026-000123] Printer on fire",
        "AW: [HL-2026-000123] Re: Printer on fire",
        "WG: AW: [HL-2026-000123] Re:  Printer   on fire",
        "Printer on fire [HL-2026-000123]",
        "  Printer on fire  ",
    ],
)
def test_clean_subject_drops_reply_forward_prefixes_and_our_tag(subject):
    assert clean_subject(subject) == "Printer on fire"


@pytest.mark.parametrize("subject", ["Reset my password", "Antwort fehlt", "Trouble with invoices", "Aware of bug?"])
def test_clean_subject_keeps_words_that_only_start_like_a_prefix(subject):
    assert clean_subject(subject) == subject


def test_clean_subject_of_nothing_is_empty():
    assert clean_subject("") == ""
    assert clean_subject("Re: [HL-2026-000123]") == ""


# ---- thread_keys / own_keys ---------------------------------------------------------
def test_thread_keys_most_specific_first():
    env = envelope(
        message_id="Own@Mail.Example",
        in_reply_to="Parent@Mail.Example",
        references=["Root@Mail.Example", "Middle@Mail.Example", "Parent@Mail.Example"],
        thread_index="AdqMeKw9WqjSy7Y0TiuQZ0y1MjmUbQ==",
        conversation_id="c-42",
    )
    assert thread_keys(env) == [
        "mid:parent@mail.example",  # In-Reply-To
        "mid:middle@mail.example",  # then References, newest first
        "mid:root@mail.example",
        "tix:AdqMeKw9WqjSy7Y0TiuQZ0y1MjmUbQ==",  # base64 is case-sensitive: kept as is
        "conv:email:c-42",
    ]


def test_own_keys_start_with_the_message_id_then_the_thread_keys():
    env = envelope(
        message_id="Own@Mail.Example",
        in_reply_to="parent@mail.example",
        references=["root@mail.example", "parent@mail.example"],
    )
    assert own_keys(env) == ["mid:own@mail.example", "mid:parent@mail.example", "mid:root@mail.example"]


def test_own_keys_without_message_id_are_the_thread_keys():
    env = envelope(in_reply_to="parent@mail.example")
    assert own_keys(env) == thread_keys(env) == ["mid:parent@mail.example"]


def test_a_new_conversation_has_no_thread_keys():
    env = envelope(message_id="own@mail.example")
    assert thread_keys(env) == []
    assert own_keys(env) == ["mid:own@mail.example"]


# ---- body_hash ----------------------------------------------------------------------
def test_body_hash_folds_case_and_white_space():
    a = envelope(text="Hello,\n\nmy printer   is ON FIRE.\n")
    b = envelope(text="  hello, my printer is on fire.")
    assert body_hash(a) == body_hash(b) != ""


def test_body_hash_differs_for_different_text():
    assert body_hash(envelope(text="my printer is on fire")) != body_hash(envelope(text="my printer is fine"))


def test_body_hash_counts_attachments():
    plain = envelope(text="see attached")
    one = envelope(text="see attached", attachments=["a" * 64])
    other = envelope(text="see attached", attachments=["b" * 64])
    assert len({body_hash(plain), body_hash(one), body_hash(other)}) == 3


def test_body_hash_ignores_attachment_order():
    assert body_hash(envelope(text="x", attachments=["a" * 64, "b" * 64])) == body_hash(
        envelope(text="x", attachments=["b" * 64, "a" * 64])
    )


def test_body_hash_of_attachments_only_is_not_empty():
    assert body_hash(envelope(attachments=["a" * 64])) != ""


def test_body_hash_falls_back_to_full_text():
    assert body_hash(envelope(full_text="> quoted only")) == body_hash(envelope(text="> quoted only"))


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_body_hash_of_an_empty_message_is_empty(text):
    assert body_hash(envelope(text=text)) == ""
