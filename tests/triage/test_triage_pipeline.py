"""Language, sentiment and priority through intake and the worker pipeline, on both databases."""

from __future__ import annotations

import datetime as dt

from helpline.store import fastsql
from helpline.store import models as m
from helpline.store.db import run_tx
from helpline.workers.tickets import ticket_ops

from ..webhook.support import message
from ..webhook.test_webhook_tickets import HookDesk
from ..workers.builders import Desk, events, mail, reload


def signals_of(ticket: m.Ticket | int) -> list[tuple[str | None, float | None]]:
    """(language, sentiment) of the ticket's customer messages, oldest first (columns of migration 8)."""
    tid = ticket if isinstance(ticket, int) else ticket.id
    return [
        (r[0], r[1])
        for r in fastsql.fetchall(
            "SELECT language, sentiment FROM \"message\" WHERE ticket_id = ? AND direction = 'in' ORDER BY id", [tid]
        )
    ]


def data(ticket: m.Ticket | int, kind: str) -> list[dict]:
    return [e.data for e in events(ticket, kind)]


def reply(desk: Desk, to_mid: str, body: str, subject: str = "Re: Order never arrived"):  # noqa: ANN201
    raw, mid = mail(subject=subject, body=body, in_reply_to=to_mid, references=[to_mid])
    outcome = desk.receive(raw)
    assert outcome.action == "appended", outcome
    return mid


def test_language_and_sentiment_are_stored_on_the_message_and_the_ticket(backend):
    desk = Desk(backend)
    de, _ = desk.new_ticket(
        subject="Bestellung",
        body="Hallo,\n\nmeine Bestellung ist noch nicht angekommen. Können Sie bitte nachsehen?\n\nDanke\n",
    )
    assert reload(de).language == "de"
    ((lang, score),) = signals_of(de)  # German is scored by textblob-de's lexicon: a plain question is neutral
    assert lang == "de" and score is not None and abs(score) < 0.5
    assert data(de, "language_set")[0]["language"] == "de"
    assert "low-accuracy lingua" in data(de, "language_set")[0]["reason"]

    en, _ = desk.new_ticket(subject="Thanks", body="Thank you so much, the new version works great!\n")
    assert reload(en).language == "en"
    ((lang, score),) = signals_of(en)
    assert lang == "en" and score > 0.5


def test_an_undetermined_first_message_leaves_the_language_to_a_later_one(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="?", body="ok\n")
    assert reload(t).language is None and signals_of(t) == [(None, 0.296)]
    assert data(t, "language_set")[0]["language"] == ""
    reply(desk, mid, "Il mio ordine non è ancora arrivato, potete controllare per favore?\n")
    assert reload(t).language == "it"
    later = data(t, "language_set")[1]
    assert later["language"] == "it" and later["message"]


def test_priority_reasons_are_on_the_event(backend):
    desk = Desk(backend)
    first, _ = desk.new_ticket(subject="Hello", body="Just a question about invoices.\n")
    assert reload(first).priority == "medium"
    assert data(first, "priority_set") == [
        {
            "priority": "medium",
            "reasons": ["medium: default, no rule matched"],
            "rules": [],
            "summary": "medium: default, no rule matched",
            "contributions": [],
        }
    ]  # each signal's steps (helpline explain)
    m.Customer.update(tier="enterprise").where(m.Customer.id == first.customer_id).execute()
    t, _ = desk.new_ticket(subject="Our shop is down", body="Nothing loads since this morning.\n")
    assert reload(t).priority == "urgent"
    (ev,) = data(t, "priority_set")
    assert ev["summary"] == "high: keyword 'down' in subject; +1: customer tier 'enterprise' (customer record)"
    assert ev["rules"] == ["urgent words", "enterprise customers"]


def test_an_angry_first_message_is_high(backend):
    desk = Desk(backend)
    t, _ = desk.new_ticket(subject="Order", body="This is terrible. Worst service ever, I am furious and disgusted.\n")
    assert reload(t).priority == "high"
    assert data(t, "priority_set")[0]["reasons"][0].startswith("high: negative sentiment (-0.")


def test_the_third_new_ticket_in_an_hour_is_raised(backend):
    # Alike texts from one customer would be merged as near-duplicates (tests/duplicates): off here,
    # where three separate tickets are the point.
    desk = Desk(backend.replace(similarity=False))
    levels = []
    for n in range(3):
        t, _ = desk.new_ticket(subject=f"Question {n}", body=f"Another question, number {n}, about my order.\n")
        levels.append(reload(t).priority)
    assert levels == ["medium", "medium", "high"]
    assert data(t, "priority_set")[0]["reasons"] == ["+1: 3rd message from this customer within 1h"]


def test_messages_older_than_the_window_do_not_count(backend):
    desk = Desk(backend.replace(similarity=False))  # separate tickets, as above
    for n in range(2):
        desk.new_ticket(subject=f"Old question {n}", body=f"An old question {n} about my order.\n")
    m.Message.update(created_at=m.utcnow() - dt.timedelta(hours=2)).execute()
    t, _ = desk.new_ticket(subject="New question", body="A new question about my order.\n")
    assert reload(t).priority == "medium"


def test_a_third_message_on_a_ticket_raises_it_with_the_sla_replanned(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Order never arrived", body="Where is my order 4711?\n")
    reply(desk, mid, "Any news on order 4711?\n")
    assert reload(t).priority == "medium"
    reply(desk, mid, "Hello? Still waiting for order 4711.\n")
    assert reload(t).priority == "high"
    (ev,) = data(t, "priority_changed")
    assert (ev["from"], ev["to"]) == ("medium", "high")
    assert "+1: 3rd message from this customer within 1h" in ev["reason"]
    assert data(t, "sla_replanned")  # the SLA clocks follow the new priority


def test_rules_never_lower_and_never_overrule_an_agent(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Refund", body="Please refund order 4711.\n")
    assert reload(t).priority == "high"
    reply(desk, mid, "Thanks!\n")
    assert reload(t).priority == "high"  # a calm reply does not lower it
    run_tx(
        lambda: ticket_ops.set_priority(
            ticket_ops.load(t.id),
            "low",
            now=m.utcnow(),
            settings=desk.settings,
            actor="agent@example.com",
            reason="not really urgent",
        )
    )
    reply(desk, mid, "Refund? Hello?\n")
    assert reload(t).priority == "low"
    (kept,) = data(t, "priority_not_raised")
    assert kept["priority"] == "low" and kept["rules_say"] == "urgent"  # high keyword, +1 third message
    assert "agent@example.com set the priority by hand" in kept["reason"]


def test_a_sharp_negative_turn_is_an_event(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Order never arrived", body="Hi, could you check where my order is? Thanks!\n")
    reply(desk, mid, "Okay, I will wait a little longer.\n")
    assert not data(t, "sentiment_dropped")
    reply(desk, mid, "This is ridiculous. Horrible service, I am angry and want to cancel everything!\n")
    (ev,) = data(t, "sentiment_dropped")
    first, calm, angry = signals_of(t)
    assert ev["from"] == calm[1] and ev["to"] == angry[1] <= -0.5 and ev["threshold"] == -0.5
    assert ev["reason"].startswith(f"sentiment fell from {calm[1]:.2f} to {angry[1]:.2f}")
    reply(desk, mid, "Still horrible, terrible, awful. I hate this.\n")
    assert len(data(t, "sentiment_dropped")) == 1  # negative after negative is no turn


def test_no_turn_without_a_score(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Ordine", body="Buongiorno, dov'è il mio ordine? Grazie mille per l'aiuto!\n")
    reply(
        desk,
        mid,
        "Questa è una vergogna, un servizio orribile e spaventoso. Sono furioso con voi!\n",
        subject="RE: Ordine",
    )
    assert signals_of(t) == [("it", None), ("it", None)]  # no Italian lexicon: not read as English
    assert not data(t, "sentiment_dropped")


def test_a_spanish_turn_is_seen(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Pedido", body="Hola, ¿dónde está mi pedido? ¡Muchas gracias!\n")
    reply(desk, mid, "Esto es una vergüenza, un servicio horrible y espantoso. ¡Estoy furioso!\n", subject="RE: Pedido")
    (first, angry) = signals_of(t)
    assert first[0] == angry[0] == "es" and first[1] > -0.05 and angry[1] <= -0.5  # Helpline's Spanish lexicon
    assert len(data(t, "sentiment_dropped")) == 1


def test_a_german_turn_is_seen(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Bestellung", body="Hallo, wo ist meine Bestellung? Vielen Dank!\n")
    reply(
        desk,
        mid,
        "Das ist eine Frechheit, ein furchtbarer und schrecklicher Service. Ich bin wütend!\n",
        subject="AW: Bestellung",
    )
    (first, angry) = signals_of(t)
    assert first[0] == angry[0] == "de" and first[1] > -0.05 and angry[1] <= -0.5
    assert len(data(t, "sentiment_dropped")) == 1


def test_the_tier_from_webhook_metadata(backend):
    desk = HookDesk(backend)
    outcome = desk.hook(
        message(subject="Checkout broken", text="Customers cannot pay.", metadata={"tier": "enterprise"})
    )
    t = m.Ticket.get_by_id(outcome.ticket_id)
    assert t.priority == "urgent"
    assert data(t, "priority_set")[0]["reasons"] == [
        "high: keyword 'broken' in subject",
        "+1: customer tier 'enterprise' (webhook metadata)",
    ]


def test_rules_and_tiers_from_the_configuration_file(backend, tmp_path):
    path = tmp_path / "helpline.toml"
    path.write_text("""
[priority]
default = "low"
[priority.tiers]
premium = ["example.org"]

[[priority.rules]]
name = "premium customers"
when.customer_tier = ["premium"]
level = "high"
""")
    desk = Desk(backend.replace(config_file=str(path)))
    t, _ = desk.new_ticket(subject="Our shop is down", body="Nothing works.\n")
    assert reload(t).priority == "high"  # the file's rules only: "down" is no keyword here
    assert data(t, "priority_set")[0]["reasons"] == ["high: customer tier 'premium' (configuration)"]
    other = desk.deliver(mail(sender="Bob <bob@example.net>", subject="Down", body="Down again.\n")[0])
    assert reload(m.Ticket.get_by_id(desk.run(other).ticket_id)).priority == "low"


def test_a_broken_configuration_file_falls_back_to_the_built_in_rules(backend, tmp_path, caplog):
    path = tmp_path / "helpline.toml"
    path.write_text("[[priority.rules]]\nlevel = 'high'\n")
    desk = Desk(backend.replace(config_file=str(path)))
    with caplog.at_level("ERROR", logger="helpline.workers"):
        t, _ = desk.new_ticket(subject="Server down", body="Nothing loads.\n")
    assert reload(t).priority == "high"
    assert data(t, "priority_set")[0]["reasons"] == ["high: keyword 'down' in subject"]
    assert any(
        "event=config_file_unusable stage=priority using=builtin_rules" in r.getMessage()
        and "has no condition" in r.getMessage()
        for r in caplog.records
    )


def test_a_language_the_channel_states_beats_a_guess(backend):
    desk = HookDesk(backend)
    outcome = desk.hook(
        message(subject="Order", text="Where is my order? It has not arrived yet.", metadata={"language": "pt-BR"})
    )
    t = m.Ticket.get_by_id(outcome.ticket_id)
    assert t.language == "pt" and signals_of(t) == [("pt", None)]
    assert data(t, "language_set")[0]["reason"] == "stated by the channel (metadata)"


def test_a_low_ticket_does_not_drift_back_to_the_default(backend):
    desk = Desk(backend)
    t, mid = desk.new_ticket(subject="Newsletter question", body="How do I change my newsletter settings?\n")
    m.Ticket.update(priority="low").where(m.Ticket.id == t.id).execute()  # as a routing rule's set.priority leaves it
    reply(desk, mid, "Also, can I pick the weekly digest?\n")
    assert reload(t).priority == "low" and not data(t, "priority_changed")
