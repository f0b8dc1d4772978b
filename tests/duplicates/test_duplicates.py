"""Near-duplicates of one customer, merge and split, incidents: through the real intake and pipeline,
on SQLite and PostgreSQL."""

from __future__ import annotations

import email.message
import json
import random

from helpline.router import similarity as sim
from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.tickets import similarity_state as state
from helpline.store.db import run_tx
from helpline.workers.tickets import incidents
from helpline.workers.tickets import ticket_split
from helpline.workers.tickets import ticket_ops
from helpline.store.inbound import audit_events
from helpline.workers.jobs.incident_grouper import Grouper
from helpline.workers.inbound.duplicates import best_match

from ..sms.conftest import SmsDesk, twilio_settings
from ..support.fake_twilio import inbound_form
from ..workers.builders import event_kinds, events, inbound_messages, mail, reload

PHONE = "+14155550123"
OUTAGE = "My internet connection has been down since this morning, the router shows a red light and restarting it does not help."
OUTAGE_AGAIN = "Internet still down since this morning! Router light is red, restarted it twice, no help. Please fix"


def link_phone(customer_id: int, phone: str = PHONE) -> None:
    """What an agent linking the customer's number to them does (or a webhook source vouching for it)."""
    run_tx(
        lambda: fastsql.insert(
            "identity", {"customer_id": customer_id, "kind": "phone", "address": phone, "created_at": m.utcnow()}
        )
    )


def test_email_then_text_from_the_linked_number_joins_the_open_ticket(desk):
    first = desk.receive(mail(subject="No internet", body=OUTAGE)[0])
    assert first.action == "created"
    ticket = m.Ticket.get_by_id(first.ticket_id)
    link_phone(ticket.customer_id)
    second = desk.run(desk.accept(inbound_form(OUTAGE_AGAIN, sender=PHONE)))
    assert second.action == "appended" and second.ticket_id == ticket.id
    assert [msg.channel for msg in inbound_messages(ticket)] == ["email", "sms"]
    merged = events(ticket, "near_duplicate_merged")
    assert len(merged) == 1 and merged[0].data["ticket"] == ticket.number and merged[0].data["similarity"] >= 0.6
    assert m.Ticket.select().count() == 1
    # The text's conversation now leads to the same ticket: the next text follows it up.
    third = desk.run(desk.accept(inbound_form("ok thanks, waiting for news", sender=PHONE)))
    assert third.ticket_id == ticket.id and third.action == "appended"


def test_a_text_from_an_unlinked_number_is_another_customer(desk):
    desk.receive(mail(subject="No internet", body=OUTAGE)[0])
    second = desk.run(desk.accept(inbound_form(OUTAGE_AGAIN, sender=PHONE)))
    assert second.action == "created" and m.Ticket.select().count() == 2


def test_two_emails_minutes_apart_with_different_subjects_are_one_ticket(desk):
    first = desk.receive(mail(subject="Internet down", body=OUTAGE)[0])
    second = desk.receive(mail(subject="URGENT: still no connection", body=OUTAGE_AGAIN + "\n\nAlice")[0])
    assert second.action == "appended" and second.ticket_id == first.ticket_id
    ticket = m.Ticket.get_by_id(first.ticket_id)
    assert ticket.subject == "Internet down" and len(inbound_messages(ticket)) == 2
    assert "near_duplicate_merged" in event_kinds(ticket)


def test_alike_but_not_alike_enough_is_a_suggestion(desk):
    first = desk.receive(
        mail(
            subject="Billing",
            body="I was charged twice for my subscription this month, please refund the duplicate charge on my card.",
        )[0]
    )
    second = desk.receive(
        mail(
            subject="Refund",
            body="Hi, you charged my card two times for the subscription in "
            "March. Can I get a refund of the second payment?",
        )[0]
    )
    assert second.action == "created" and second.ticket_id != first.ticket_id
    suggested = events(second.ticket_id, "merge_suggested")
    number = m.Ticket.get_by_id(first.ticket_id).number
    assert len(suggested) == 1 and suggested[0].data["ticket"] == number
    assert 0.25 <= suggested[0].data["similarity"] < 0.6
    assert not events(first.ticket_id, "merge_suggested")


def test_different_order_numbers_are_different_problems(desk):
    first = desk.receive(mail(body="Hello, my order #4711 has still not arrived. Could you check where it is?")[0])
    second = desk.receive(mail(body="Hello, my order #4712 has still not arrived. Could you check where it is?")[0])
    assert second.action == "created" and second.ticket_id != first.ticket_id
    assert not events(second.ticket_id, "merge_suggested")


def test_unrelated_texts_and_other_customers_are_left_alone(desk):
    desk.receive(mail(body=OUTAGE)[0])
    other = desk.receive(mail(sender="Bob <bob@example.net>", body=OUTAGE_AGAIN)[0])
    assert other.action == "created"
    unrelated = desk.receive(mail(body="Could you send me the invoice for the annual plan as a PDF please?")[0])
    assert unrelated.action == "created" and not events(unrelated.ticket_id, "merge_suggested")


def test_turned_off_nothing_is_compared(desk):
    off = desk.configured(similarity=False)
    first = off.receive(mail(body=OUTAGE)[0])
    second = off.receive(mail(body=OUTAGE_AGAIN)[0])
    assert second.ticket_id != first.ticket_id
    assert run_tx(lambda: fastsql.fetchone('SELECT COUNT(*) FROM "ticket_fingerprint"'))[0] == 0


# ---- merge and split ------------------------------------------------------------------------
def mail_with_attachment(body: str, subject: str) -> tuple[bytes, str]:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Alice <alice@example.org>", "support@example.com", subject
    msg["Message-ID"] = mid = f"<att-{random.getrandbits(48):x}@example.org>"
    msg.set_content(body)
    msg.add_attachment(b"%PDF-1.4 statement", maintype="application", subtype="pdf", filename="statement.pdf")
    return msg.as_bytes(), mid


def _merge(desk, source_id: int, target_id: int, actor: str = "cli:agent") -> None:  # noqa: ANN001
    def tx() -> None:
        with audit_events.buffered_events():
            ticket_ops.merge(
                ticket_ops.load(source_id),
                ticket_ops.load(target_id),
                now=m.utcnow(),
                settings=desk.settings,
                actor=actor,
                reason="same problem",
            )

    run_tx(tx)


def _split(desk, source_id: int) -> str:  # noqa: ANN001
    def tx() -> str:
        with audit_events.buffered_events():
            return ticket_split.split(
                ticket_ops.load(source_id),
                now=m.utcnow(),
                settings=desk.settings,
                actor="cli:agent",
                reason="not the same after all",
            )

    return run_tx(tx)


def snapshot(ticket_id: int) -> dict:
    return {
        "messages": sorted(r[0] for r in fastsql.fetchall('SELECT id FROM "message" WHERE ticket_id = ?', [ticket_id])),
        "attachments": sorted(
            r[0]
            for r in fastsql.fetchall(
                'SELECT a.id FROM "attachment" a JOIN "message" x ON x.id = a.message_id WHERE x.ticket_id = ?',
                [ticket_id],
            )
        ),
        "keys": sorted(r[0] for r in fastsql.fetchall('SELECT key FROM "thread_key" WHERE ticket_id = ?', [ticket_id])),
        "participants": sorted(
            r[0] for r in fastsql.fetchall('SELECT address FROM "participant" WHERE ticket_id = ?', [ticket_id])
        ),
    }


def test_merge_moves_everything_and_split_moves_it_back(desk):
    target = desk.receive(mail(subject="Router", body=OUTAGE)[0]).ticket_id
    source = desk.receive(
        mail_with_attachment(
            "Here is my bank statement showing the double charge for the subscription renewal in March.",
            "Charged twice",
        )[0]
    ).ticket_id
    desk.receive(
        mail(
            sender="Carol <carol@example.net>",
            to="support@example.com",
            subject="Fwd",
            body="Forwarding for Alice: double charge on the March renewal again.",
        )[0]
    )
    fastsql.execute(
        'INSERT INTO "participant" (ticket_id, kind, address, role) VALUES (?, ?, ?, ?)',
        [source, "email", "carol@example.net", "cc"],
    )
    before_t, before_s = snapshot(target), snapshot(source)
    source_events = [e.id for e in events(source)]
    _merge(desk, source, target)

    s, t = reload(m.Ticket.get_by_id(source)), snapshot(target)
    assert s.status == "merged" and snapshot(source)["messages"] == []
    assert t["messages"] == sorted(before_t["messages"] + before_s["messages"])
    assert len(t["attachments"]) == 1 and t["attachments"] == before_s["attachments"]
    assert set(before_s["keys"]) <= set(t["keys"])
    assert "carol@example.net" in t["participants"]
    assert all(e.ticket_id == target for e in m.Event.select().where(m.Event.id.in_(source_events)))
    assert state.open_merge(source).target_id == target  # the pointer
    assert {"status_changed", "merged_into"} <= set(event_kinds(source)) and "ticket_created" not in event_kinds(source)
    assert events(source, "merged_into")[0].actor == "cli:agent"
    assert events(target, "merged")[0].data["from"] == s.number

    assert _split(desk, source) == m.Ticket.get_by_id(target).number
    assert reload(s).status == "new"
    assert snapshot(source) == before_s and snapshot(target) == before_t
    assert all(e.ticket_id == source for e in m.Event.select().where(m.Event.id.in_(source_events)))
    assert state.open_merge(source) is None
    assert "split_from" in event_kinds(source) and "split" in event_kinds(target)
    # Split again, or split a ticket never merged: refused with a reason.
    for tid in (source, target):
        try:
            _split(desk, tid)
        except ticket_ops.TicketOpError as exc:
            assert "not merged" in str(exc)
        else:
            raise AssertionError("a ticket that is not merged was split")


def test_replies_to_the_merged_ticket_land_on_the_target(desk):
    target = desk.receive(mail(subject="Router", body=OUTAGE)[0]).ticket_id
    raw, source_mid = mail(subject="Invoice", body="Please send me the invoice for the annual plan as a PDF file.")
    source = desk.receive(raw).ticket_id
    _merge(desk, source, target)
    number = m.Ticket.get_by_id(source).number
    # A reply in the source's mail thread (its Message-ID)...
    by_header = desk.receive(
        mail(subject="Re: Invoice", body="Any news on the PDF?", in_reply_to=source_mid, references=[source_mid])[0]
    )
    assert by_header.action == "appended" and by_header.ticket_id == target
    # ...and one that only carries the source's ticket tag in the subject.
    by_tag = desk.receive(mail(subject=f"Re: [{number}] Invoice", body="Hello again, still waiting for the PDF.")[0])
    assert by_tag.action == "appended" and by_tag.ticket_id == target
    assert m.Ticket.select().count() == 2


# ---- incidents ------------------------------------------------------------------------------
def outage_reports(n: int, seed: int = 7) -> list[str]:
    """Fifty customers describing one outage in their own (overlapping) words."""
    rng = random.Random(seed)
    openings = ["Hi,", "Hello,", "Hey support,", "Good morning,", ""]
    cores = [
        "the website is down and the login page shows error 503",
        "your website is down, I get error 503 on the login page",
        "login page returns error 503, the website seems down",
        "website down? the login page only shows error 503",
    ]
    extras = [
        "since 10 minutes",
        "for everyone in our office",
        "tried another browser",
        "on my phone too",
        "we cannot work",
        "is there an outage",
        "cleared the cache already",
        "urgent",
    ]
    names = ["Tom", "Ana", "Li", "Omar", "Eva", "Raj", "Kim", "Sam", "Zoe", "Max"]
    return [
        f"{rng.choice(openings)} {rng.choice(cores)}, {', '.join(rng.sample(extras, 2))}. {rng.choice(names)}"
        for _ in range(n)
    ]


def test_an_outage_burst_from_fifty_customers_is_one_incident(desk):
    texts = outage_reports(50)
    tickets = []
    for i, text in enumerate(texts):
        if i % 5 == 4:  # every fifth customer texts instead of mailing
            out = desk.run(desk.accept(inbound_form(text, sender=f"+1415555{i:04d}")))
        else:
            out = desk.receive(mail(sender=f"Customer {i} <c{i}@example{i}.net>", subject="Website down", body=text)[0])
        assert out.action == "created"
        tickets.append(out.ticket_id)
    # Unrelated tickets from other customers in the same minutes stay out of it.
    quiet = [
        desk.receive(mail(sender=f"Q{i} <q{i}@example.com>", subject="Question", body=body)[0]).ticket_id
        for i, body in enumerate(
            [
                "Could you send me the invoice for the annual plan as a PDF please?",
                "How do I change the email address of my account settings page?",
            ]
        )
    ]
    assert state.list_incidents() == []  # grouping is not the pipeline's: the scheduler's grouper does it
    done = Grouper(desk.settings).run_round()
    assert done.tickets == 52 and len(done.opened) == 1 and done.joined == 50
    rows = state.list_incidents()
    assert len(rows) == 1 and rows[0]["tickets"] == 50 and rows[0]["customers"] == 50
    iid = rows[0]["id"]
    assert sorted(t["id"] for t in state.incident_tickets(iid)) == sorted(tickets)
    assert all(state.incident_of(t) is None for t in quiet)
    assert all(len(events(t, "incident_joined")) == 1 for t in tickets)
    assert m.Event.select().where(m.Event.kind == "incident_opened").count() == 1

    # One answer goes to all fifty, each on its own channel; the same answer again sends nothing twice.
    def answer() -> incidents.FanOut:
        with audit_events.buffered_events():
            return incidents.reply(
                iid,
                "We had an outage of the login service; it is fixed since 10:42.",
                agent="Dana",
                actor="cli:dana",
                reply_key="fix-1",
                settings=desk.settings,
                now=m.utcnow(),
            )

    out = run_tx(answer)
    assert len(out.sent) == 50 and not out.skipped
    rows = m.Outbox.select().where(m.Outbox.kind == "reply")
    assert rows.count() == 50
    assert sorted(r.channel for r in rows).count("sms") == 10
    sms = next(r for r in rows if r.channel == "sms")
    assert sms.payload["to"].startswith("+1415555")
    mail_row = next(r for r in rows if r.channel == "email")
    assert "fixed since 10:42" in mail_row.payload["text"] and mail_row.payload["in_reply_to"]
    again = run_tx(answer)
    assert m.Outbox.select().where(m.Outbox.kind == "reply").count() == 50 and len(again.sent) == 50
    assert all(reload(m.Ticket.get_by_id(t)).status == "open" for t in tickets)  # answered: no longer new


def test_a_few_alike_reports_are_no_incident_yet(desk):
    extras = ["since 10 minutes", "for everyone in our office", "on my phone too", "we cannot work", "urgent"]
    texts = [f"Hello, the website is down and the login page shows error 503, {e}." for e in extras]
    grouper = Grouper(desk.settings)
    for i, text in enumerate(texts[:4]):
        desk.receive(mail(sender=f"C{i} <c{i}@example.net>", subject="Down", body=text)[0])
        grouper.run_round()  # one round per message: the order a busy desk sees them in
    assert state.list_incidents() == []
    late = desk.receive(mail(sender="C9 <c9@example.net>", subject="Down", body=texts[4])[0])
    grouper.run_round()
    rows = state.list_incidents()
    assert len(rows) == 1 and rows[0]["tickets"] == 5  # the fifth customer opens it with the first four
    assert state.incident_of(late.ticket_id) == rows[0]["id"]


def test_best_match_is_a_plain_function():
    fp = sim.fingerprint(OUTAGE)
    other = sim.fingerprint(OUTAGE_AGAIN)
    row = state.Indexed(1, "HL-2026-000001", 1, other.signature, "", "Internet")
    near = best_match(fp, [row], merge_threshold=0.6, suggest_threshold=0.25)
    assert near is not None and near.merge and near.ticket_id == 1
    assert best_match(fp, [row], merge_threshold=0.99, suggest_threshold=0.25).merge is False
    assert (
        best_match(
            fp, [state.Indexed(1, "x", 1, other.signature, "4711", "")], merge_threshold=0.6, suggest_threshold=0.25
        )
        is None
        or not fp.refs
    )  # no refs in OUTAGE: nothing conflicts
    assert sim.fingerprint("ok thanks") is None
    assert json.dumps(near.as_event())


def test_a_grouper_taking_over_sees_the_window_its_predecessor_grouped(desk):
    """Only the lease holder groups; the next one loads the window from the fingerprints, so reports
    grouped before the hand-over still count towards the incident."""
    extras = ["since 10 minutes", "for everyone in our office", "on my phone too", "we cannot work", "urgent"]
    texts = [f"Hello, the website is down and the login page shows error 503, {e}." for e in extras]
    first, second = Grouper(desk.settings, holder="first"), Grouper(desk.settings, holder="second")
    for i, text in enumerate(texts[:3]):
        desk.receive(mail(sender=f"C{i} <c{i}@example.net>", subject="Down", body=text)[0])
    assert first.run_round().tickets == 3
    desk.receive(mail(sender="C3 <c3@example.net>", subject="Down", body=texts[3])[0])
    assert second.run_round().skipped == "another grouper holds the lease"
    first.release()  # a clean stop; a crashed holder's lease runs out instead
    late = desk.receive(mail(sender="C4 <c4@example.net>", subject="Down", body=texts[4])[0])
    done = second.run_round()
    assert done.tickets == 2 and len(done.opened) == 1
    rows = state.list_incidents()
    assert len(rows) == 1 and rows[0]["tickets"] == 5 and state.incident_of(late.ticket_id) == rows[0]["id"]
    assert second.run_round().tickets == 0  # each fingerprint is grouped once


def test_closed_tickets_do_not_count_towards_an_incident(desk):
    extras = ["since 10 minutes", "for everyone in our office", "on my phone too", "we cannot work", "urgent"]
    texts = [f"Hello, the website is down and the login page shows error 503, {e}." for e in extras]
    outs = [
        desk.receive(mail(sender=f"C{i} <c{i}@example.net>", subject="Down", body=t)[0]) for i, t in enumerate(texts)
    ]
    run_tx(lambda: fastsql.execute("UPDATE \"ticket\" SET status = 'closed' WHERE id = ?", [outs[0].ticket_id]))
    assert Grouper(desk.settings).run_round().opened == []  # four active customers: below the five needed
    assert state.list_incidents() == []


LOCKED = "I cannot log in to my account, my password is refused."
LOCKED_AGAIN = "Your website keeps rejecting my password when I try to sign in."


def test_same_problem_in_other_words_is_suggested_by_meaning(desk):
    """Few words in common (the signature finds nothing): with the embeddings extra the meaning is compared,
    and it is a suggestion, never a merge; an unrelated text of the same customer is still left alone."""
    first = desk.receive(mail(subject="Login problem", body=LOCKED)[0])
    second = desk.receive(mail(subject="Still locked out", body=LOCKED_AGAIN)[0])
    assert second.action == "created" and second.ticket_id != first.ticket_id
    suggested = events(second.ticket_id, "merge_suggested")
    assert len(suggested) == 1 and suggested[0].data["by"] == "meaning"
    assert suggested[0].data["ticket"] == m.Ticket.get_by_id(first.ticket_id).number
    assert suggested[0].data["similarity"] >= 0.6
    other = desk.receive(mail(subject="Invoice", body="Could you send me the invoice for the annual plan as a PDF?")[0])
    assert other.action == "created" and not events(other.ticket_id, "merge_suggested")


def test_meaning_is_not_compared_when_the_operator_says_no(backend, fake_twilio):
    """HELPLINE_DUPLICATES_BY_MEANING=no keeps the check to the words (and its cost to theirs)."""
    desk = SmsDesk(twilio_settings(backend.replace(duplicates_by_meaning=False), fake_twilio))
    desk.receive(mail(subject="Login problem", body=LOCKED)[0])
    second = desk.receive(mail(subject="Still locked out", body=LOCKED_AGAIN)[0])
    assert second.action == "created" and not events(second.ticket_id, "merge_suggested")


def test_meaning_match_is_a_plain_function():
    from helpline.router.categories import embeddings
    from helpline.workers.inbound import duplicates

    vec = embeddings.get_embedder().embed
    row = state.Indexed(1, "HL-2026-000001", 1, b"", "", "Login problem")
    near = duplicates.meaning_match(
        "Still locked out\n" + LOCKED_AGAIN, frozenset(), [(row, "Login problem\n" + LOCKED)], vec
    )
    assert near is not None and not near.merge and near.by == "meaning" and near.as_event()["by"] == "meaning"
    assert duplicates.meaning_match("Where is my parcel?", frozenset(), [(row, LOCKED)], vec) is None
    other_order = state.Indexed(1, "x", 1, b"", "4711", "")
    assert (
        duplicates.meaning_match(LOCKED_AGAIN + " order 4712", frozenset({"4712"}), [(other_order, LOCKED)], vec)
        is None
    )


def test_without_the_extra_the_words_alone_decide(desk, monkeypatch):
    from helpline.router.categories import embeddings

    monkeypatch.setattr(embeddings, "missing", lambda: "the onnxruntime package is not installed")
    monkeypatch.setattr(embeddings, "get_embedder", lambda: (_ for _ in ()).throw(AssertionError("model loaded")))
    desk.receive(mail(subject="Login problem", body=LOCKED)[0])
    second = desk.receive(mail(subject="Still locked out", body=LOCKED_AGAIN)[0])
    assert second.action == "created" and not events(second.ticket_id, "merge_suggested")
